"""Graph -> engine module: names, shapes and numbers against the graph and against torch."""

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as tF

import engine
from netbuilder.compile import CompileError, compile_graph, node_outputs
from netbuilder.graph import History
from netbuilder.graph import commands as C
from netbuilder.graph.templates import list_templates, load_template

TEMPLATES = [name for name, _ in list_templates()]


def input_shape(graph):
    return next(n.out_shape for n in graph.nodes.values() if n.type == "Input")


def same_weights_in_torch(graph, model):
    twin = compile_graph(graph, torch)
    twin.load_state_dict(
        {k: torch.from_numpy(v.detach().numpy().copy()) for k, v in model.state_dict().items()}
    )
    return twin


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_node_output_matches_inference(name):
    graph = load_template(name).graph
    model = compile_graph(graph)
    x = engine.from_numpy(
        np.random.default_rng(1).standard_normal((3, *input_shape(graph))).astype(np.float32)
    )
    names = [n.name for n in graph.nodes.values()]
    outputs = node_outputs(model, graph, x, names)
    for node in graph.nodes.values():
        assert tuple(outputs[node.name].shape) == (3, *node.out_shape), node.name
    assert sum(p.numel() for p in model.parameters()) == graph.total_params
    for key, _ in model.named_parameters():
        owner = key.split(".")[0]
        assert graph.node_by_name(owner) is not None, key


@pytest.mark.parametrize("name", TEMPLATES)
def test_engine_and_torch_agree_forward_and_backward(name):
    graph = load_template(name).graph
    engine.manual_seed(0)
    model = compile_graph(graph)
    twin = same_weights_in_torch(graph, model)
    x = np.random.default_rng(2).standard_normal((4, *input_shape(graph))).astype(np.float32)
    y = np.array([1, 0, 3, 9])
    model.train()
    twin.train()
    # dropout draws differ between the libraries; compare in eval mode for the values
    for m in (model, twin):
        for sub in m.modules():
            if type(sub).__name__ == "Dropout":
                sub.eval()
    loss = engine.nn.functional.cross_entropy(model(engine.from_numpy(x)), engine.from_numpy(y))
    loss.backward()
    tloss = tF.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(y))
    tloss.backward()
    assert abs(loss.item() - tloss.item()) < 1e-4
    tgrads = dict(twin.named_parameters())
    for key, p in model.named_parameters():
        np.testing.assert_allclose(
            p.grad.numpy(), tgrads[key].grad.numpy(), rtol=2e-3, atol=2e-5, err_msg=key
        )


class TutorialNet(tnn.Module):
    """The network of the PyTorch 'Neural Networks' tutorial, verbatim."""

    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 6, 5)
        self.conv2 = tnn.Conv2d(6, 16, 5)
        self.fc1 = tnn.Linear(16 * 5 * 5, 120)
        self.fc2 = tnn.Linear(120, 84)
        self.fc3 = tnn.Linear(84, 10)

    def forward(self, x):
        x = tF.max_pool2d(tF.relu(self.conv1(x)), (2, 2))
        x = tF.max_pool2d(tF.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = tF.relu(self.fc1(x))
        x = tF.relu(self.fc2(x))
        return self.fc3(x)


def test_lenet_weights_map_one_to_one_onto_the_tutorial():
    graph = load_template("lenet").graph
    model = compile_graph(graph)
    tutorial = TutorialNet()
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == {k: tuple(v.shape) for k, v in tutorial.state_dict().items()}
    tutorial.load_state_dict(
        {k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()}
    )
    x = np.random.default_rng(3).standard_normal((2, 1, 32, 32)).astype(np.float32)
    with engine.no_grad():
        a = model(engine.from_numpy(x)).numpy()
    np.testing.assert_allclose(a, tutorial(torch.from_numpy(x)).detach().numpy(), atol=1e-5)


def test_multiple_consumers_and_concat():
    graph = load_template("resnet").graph
    h = History(graph)
    ids = {n.name: n.id for n in graph.nodes.values()}
    # relu1 feeds conv2 and add1 already; also concat it with conv4's output
    cat = C.AddNode("Concat", (0, 0))
    h.push(cat)
    h.push(C.Connect(ids["relu4"], cat.node_id, 0))
    h.push(C.AddNode("MaxPool2d", (0, 0), name="pool9"))
    h.push(C.Connect(ids["relu1"], graph.node_by_name("pool9").id, 0))
    h.push(C.Connect(graph.node_by_name("pool9").id, cat.node_id, 1))
    h.push(C.Connect(cat.node_id, ids["gap1"], 0))
    assert graph.problems() == []
    assert graph.nodes[cat.node_id].out_shape == (48, 14, 14)
    model = compile_graph(graph)
    twin = same_weights_in_torch(graph, model)
    model.eval()
    twin.eval()
    x = np.random.default_rng(4).standard_normal((2, 1, 28, 28)).astype(np.float32)
    with engine.no_grad():
        a = model(engine.from_numpy(x)).numpy()
    np.testing.assert_allclose(a, twin(torch.from_numpy(x)).detach().numpy(), atol=1e-4)


def test_invalid_graph_is_refused_with_its_messages():
    graph = load_template("lenet").graph
    History(graph).push(C.SetParams(graph.node_by_name("fc1").id, {"in_features": 99}))
    with pytest.raises(CompileError, match="fc1: in_features is 99"):
        compile_graph(graph)
    with pytest.raises(CompileError, match="no block named 'nope'"):
        node_outputs(None, graph, None, ["nope"])
