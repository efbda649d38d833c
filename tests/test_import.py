"""Importing models: ONNX files (ours and PyTorch's) and PyTorch model code, into projects that
compute what the original computes."""

import hashlib
import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from safetensors.numpy import load_file, save_file
from test_export import random_graph

import engine
from netbuilder.cli import main as cli_main
from netbuilder.compile import compile_graph
from netbuilder.export import export_script
from netbuilder.export.onnx import write_onnx
from netbuilder.graph.project import load_project
from netbuilder.graph.templates import list_templates, load_template
from netbuilder.importers import ModelImportError, import_file
from netbuilder.importers import onnx as onnx_import
from netbuilder.importers.onnx import import_onnx
from netbuilder.importers.torch_code import import_torch_code

MODELS = Path(__file__).parent / "models"
TEMPLATES = [name for name, _ in list_templates()]
# our own models in the shapes found in the wild: (file, model name, one sample's shape)
WILD = [
    ("tutorial_net.py", "Net", (1, 32, 32)),
    ("mnist_net.py", "Net", (1, 28, 28)),
    ("lenet_sequential.py", "net", (1, 28, 28)),
    ("residual.py", "ResNet", (1, 28, 28)),
    ("decoder_net.py", "Decoder", (16,)),
]


def _normal(params):
    out = {}
    for k, v in params.items():
        # a number and its pair are the same setting (kernel_size 2 == (2, 2)); tuples stay
        out[k] = (v, v) if isinstance(v, int) and not isinstance(v, bool) else v
    if out.get("stride", 0) is None:
        out["stride"] = out["kernel_size"]
    return out


def same_graph(a, b, functional_names=True):
    """Same blocks (type, resolved parameters), wired the same way; names too, or (when
    functional_names is False) only for the layers a script keeps as attributes."""

    def blocks(graph):
        return sorted(
            repr((n.name if named(n) else None, n.type, _normal(n.resolved)))
            for n in graph.nodes.values()
        )

    def named(n):
        return functional_names or n.block.exported_module or n.type == "Input"

    def signatures(graph):
        """A digest per block of itself and everything upstream (a nested repr would double
        its escapes with every block)."""
        memo = {}

        def sig(nid):
            if nid not in memo:
                n = graph.nodes[nid]
                inputs = tuple(sig(e.src) for e in graph.edges_into(nid))
                text = repr((n.name if named(n) else None, n.type, _normal(n.resolved), inputs))
                memo[nid] = hashlib.sha256(text.encode()).hexdigest()
            return memo[nid]

        return sorted(sig(nid) for nid in graph.nodes)

    assert blocks(a) == blocks(b)  # a readable difference first
    assert signatures(a) == signatures(b)  # then the wiring
    assert len(a.edges) == len(b.edges)


def engine_run(graph, weights, x):
    model = compile_graph(graph)
    model.load_state_dict({k: engine.from_numpy(np.array(v)) for k, v in weights.items()})
    model.eval()
    with engine.no_grad():
        return model(engine.from_numpy(x)).numpy()


def state_of(graph):
    return {k: v.numpy().copy() for k, v in compile_graph(graph).state_dict().items()}


def sample(shape, batch=3, seed=0):
    return np.random.default_rng(seed).standard_normal((batch, *shape)).astype(np.float32)


def input_shape(graph):
    return next(n.out_shape for n in graph.nodes.values() if n.type == "Input")


# -- ONNX -----------------------------------------------------------------------------------


def flattened(graph, identities=True):
    """The graph with every composite replaced by its body's blocks, named by path
    (`layer2_conv1`), and every Shortcut by its plain blocks: what an ONNX file holds. Without
    `identities`, blocks that pass their input on unchanged are left out, as in a script."""
    from netbuilder.graph.inference import output_node
    from netbuilder.importers.common import GraphBuilder

    b = GraphBuilder(graph.name)

    def emit(g, prefix, port_values, ports):
        ids = {}
        for nid in g.topological_order():
            n = g.nodes[nid]
            name = prefix + n.name
            sources = [ids[e.src] for e in g.edges_into(nid)]
            if n.type == "Input":
                if prefix:
                    ids[nid] = port_values[ports.index(nid)]
                else:
                    ids[nid] = b.add("Input", dict(n.params), [], name)
            elif n.definition is not None:
                ids[nid] = emit(n.inner, f"{name}_", sources, n.definition.inputs)
            elif n.type == "Identity" and not identities:
                ids[nid] = sources[0]
            elif n.type == "Shortcut":
                c, width = n.in_shapes[0][0], n.out_shape[0]
                if n.resolved["stride"] == 1 and width == c:
                    ids[nid] = b.add("Identity", {}, sources, name) if identities else sources[0]
                else:
                    conv = {"out_channels": width, "kernel_size": 1, "bias": False}
                    conv = b.add("Conv2d", conv | {"stride": n.resolved["stride"]}, sources,
                                 f"{name}_0")  # fmt: skip
                    ids[nid] = b.add("BatchNorm2d", {}, [conv], f"{name}_1")
            else:
                ids[nid] = b.add(n.type, dict(n.params), sources, name)
        return ids[output_node(g)]

    emit(graph, "", [], [])
    return b.finish("flattened")


def flat_key(key):
    """A state_dict key of a nested module as the flattened block's ('a.b.0.weight' ->
    'a_b_0.weight')."""
    path, leaf = key.rsplit(".", 1)
    return f"{path.replace('.', '_')}.{leaf}"


@pytest.mark.parametrize("name", TEMPLATES)
def test_onnx_round_trip_gives_the_same_graph_and_outputs(name, tmp_path):
    graph = load_template(name).graph
    state = state_of(graph)
    write_onnx(graph, tmp_path / "m.onnx", weights=state)
    back, weights = import_onnx(tmp_path / "m.onnx")
    same_graph(flattened(graph), back)
    assert back.name == graph.name
    assert {flat_key(k) for k in state} == set(weights)
    for key, value in state.items():
        np.testing.assert_array_equal(weights[flat_key(key)], value, err_msg=key)
    x = sample(input_shape(graph))
    np.testing.assert_allclose(
        engine_run(back, weights, x), engine_run(graph, state, x), rtol=1e-5, atol=1e-6
    )


def test_onnx_round_trip_of_random_graphs(tmp_path):
    rng = np.random.default_rng(11)
    for i in range(20):
        graph = random_graph(rng)
        state = state_of(graph)
        write_onnx(graph, tmp_path / f"r{i}.onnx", weights=state)
        back, weights = import_onnx(tmp_path / f"r{i}.onnx")
        same_graph(graph, back)
        x = sample((4, 6, 6), seed=i)
        np.testing.assert_allclose(
            engine_run(back, weights, x), engine_run(graph, state, x), rtol=1e-5, atol=1e-6
        )


def load_module(path):
    spec = importlib.util.spec_from_file_location(f"wild_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torch_model(file, name):
    found = getattr(load_module(MODELS / file), name)
    torch.manual_seed(0)
    model = found() if isinstance(found, type) else found
    # BatchNorm statistics that are not the defaults, so they must travel
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.mark.parametrize("fold", [True, False], ids=["folded", "unfolded"])
@pytest.mark.parametrize("file,name,shape", WILD, ids=[w[0] for w in WILD])
def test_models_exported_by_torch_onnx_import(file, name, shape, fold, tmp_path):
    model = torch_model(file, name)
    path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.randn(1, *shape),),
            str(path),
            dynamo=False,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            do_constant_folding=fold,
        )
    graph, weights = import_onnx(path)
    x = sample(shape)
    expected = model(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(engine_run(graph, weights, x), expected, rtol=1e-4, atol=1e-5)
    if file == "tutorial_net.py":
        names = [n.name for n in graph.nodes.values()]
        assert names[:3] == ["input", "conv1", "relu1"] and "fc3" in names


def test_cli_imports_onnx_into_a_project_with_weights(tmp_path, capsys):
    graph = load_template("lenet").graph
    state = state_of(graph)
    write_onnx(graph, tmp_path / "lenet.onnx", weights=state)
    assert cli_main(["import", str(tmp_path / "lenet.onnx"), "-o", str(tmp_path / "P.nbproj")]) == 0
    out = capsys.readouterr().out
    assert "conv1" in out and "wrote" in out
    project = load_project(tmp_path / "P.nbproj")
    assert project.weights_path == "P.safetensors"
    weights = load_file(str(tmp_path / "P.safetensors"))
    np.testing.assert_array_equal(weights["conv1.weight"], state["conv1.weight"])
    xs = [n.pos[0] for n in project.graph.nodes.values()]
    assert len(set(xs)) > 3  # laid out, not piled at one spot


def _tiny_model(*nodes, inits=()):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    graph = helper.make_graph(list(nodes), "g", [x], [y], initializer=list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_operators_without_a_block_are_refused_by_node_name(tmp_path):
    model = _tiny_model(
        helper.make_node("Relu", ["x"], ["r"], name="act"),
        helper.make_node("Sin", ["r"], ["s"], name="wave"),
        helper.make_node("Transpose", ["s"], ["y"], name="turn", perm=[0, 1]),
    )
    onnx.save(model, tmp_path / "m.onnx")
    with pytest.raises(ModelImportError) as info:
        import_onnx(tmp_path / "m.onnx")
    text = str(info.value)
    assert "wave (Sin)" in text and "turn (Transpose)" in text and "act" not in text.split(":")[1]


@pytest.mark.parametrize(
    "content,expected",
    [
        (b"", "the file is empty"),
        (b"\xff\xfe garbage that is not protobuf \x00\x01", "not an ONNX model"),
        (None, "not an ONNX model"),  # a real model cut in half
    ],
    ids=["empty", "garbage", "truncated"],
)
def test_damaged_onnx_files_are_one_line(tmp_path, content, expected, capsys):
    path = tmp_path / "m.onnx"
    if content is None:
        write_onnx(load_template("lenet"), path)
        content = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(content)
    assert cli_main(["import", str(path), "-o", str(tmp_path / "P.nbproj")]) == 1
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "P.nbproj").exists()


def test_reading_is_bounded_by_a_size_cap(tmp_path, monkeypatch):
    path = tmp_path / "m.onnx"
    write_onnx(load_template("lenet"), path)
    monkeypatch.setattr(onnx_import, "MAX_BYTES", 1000)
    with pytest.raises(ModelImportError, match="larger than"):
        import_onnx(path)


def test_weights_in_external_files_are_not_followed(tmp_path):
    model = onnx.load(str(write_onnx(load_template("lenet"), tmp_path / "m.onnx")))
    onnx.save(model, tmp_path / "ext.onnx", save_as_external_data=True, size_threshold=0)
    with pytest.raises(ModelImportError, match="separate files"):
        import_onnx(tmp_path / "ext.onnx")


def test_outputs_never_replace_inputs_or_folders(tmp_path):
    write_onnx(load_template("lenet"), tmp_path / "m.onnx")
    (tmp_path / "P.safetensors").mkdir()
    with pytest.raises(ModelImportError, match="not a regular file"):
        import_file(tmp_path / "m.onnx", tmp_path / "P.nbproj")
    assert not (tmp_path / "P.nbproj").exists()
    code = MODELS / "tutorial_net.py"
    weights = tmp_path / "W.safetensors"
    save_file(
        {k: v.numpy() for k, v in torch_model("tutorial_net.py", "Net").state_dict().items()},
        str(weights),
    )
    with pytest.raises(ModelImportError, match="being read"):
        import_file(code, tmp_path / "W.nbproj", input_shape="1,32,32", weights=weights)


# -- PyTorch code ---------------------------------------------------------------------------


@pytest.mark.parametrize("file,name,shape", WILD, ids=[w[0] for w in WILD])
def test_wild_models_import_train_and_export_to_the_same_function(
    file, name, shape, tmp_path, capsys
):
    original = torch_model(file, name)
    weights = tmp_path / "original.safetensors"
    save_file({k: v.numpy() for k, v in original.state_dict().items()}, str(weights))
    project_path = tmp_path / "P.nbproj"
    args = ["import", str(MODELS / file), "--input-shape", ",".join(map(str, shape))]
    args += ["-o", str(project_path), "--weights", str(weights)]
    if file == "residual.py":
        args += ["--class", name]
    assert cli_main(args) == 0, capsys.readouterr().err
    captured = capsys.readouterr()
    assert "running the code in" in captured.err and "Total params" in captured.out

    assert cli_main(["summary", str(project_path)]) == 0
    project = load_project(project_path)
    graph = project.graph
    imported = load_file(str(tmp_path / "P.safetensors"))
    x = sample(shape)
    expected = original(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(engine_run(graph, imported, x), expected, rtol=1e-4, atol=1e-5)

    # a few training steps on the engine, then the exported PyTorch script with those weights
    model = compile_graph(graph)
    model.load_state_dict({k: engine.from_numpy(np.array(v)) for k, v in imported.items()})
    model.train()
    optimizer = engine.optim.SGD(model.parameters(), lr=0.05)
    target = engine.from_numpy(np.arange(8) % 10)
    losses = []
    for step in range(3):
        optimizer.zero_grad()
        out = model(engine.from_numpy(sample(shape, batch=8, seed=step)))
        loss = engine.nn.functional.cross_entropy(out, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses))
    model.eval()
    trained = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    script = tmp_path / "exported.py"
    script.write_text(export_script(graph, "torch"))
    net = getattr(load_module(script), graph.name)()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in trained.items()})
    net.eval()
    with engine.no_grad():
        ours = model(engine.from_numpy(x)).numpy()
    np.testing.assert_allclose(
        net(torch.from_numpy(x)).detach().numpy(), ours, rtol=1e-4, atol=1e-5
    )


def test_layers_are_named_after_their_attributes():
    graph, _ = import_torch_code(MODELS / "mnist_net.py", input_shape="1,28,28")
    names = [n.name for n in graph.nodes.values()]
    assert names == [
        "input1", "conv1", "relu1", "conv2", "relu2", "pool1", "dropout1", "flatten1",
        "fc1", "relu3", "dropout2", "fc2", "logsoftmax1",
    ]  # fmt: skip
    graph, _ = import_torch_code(MODELS / "residual.py", input_shape="1,28,28")
    assert {"stem_0", "blocks_0_conv1", "blocks_1_bn2", "fc"} <= {
        n.name for n in graph.nodes.values()
    }


@pytest.mark.parametrize("name", TEMPLATES)
def test_exported_scripts_import_back_to_the_same_graph(name, tmp_path):
    graph = load_template(name).graph
    script = tmp_path / "net.py"
    script.write_text(export_script(graph, "torch"))
    back, weights = import_torch_code(script)  # INPUT_SHAPE in the script gives the shape
    assert weights == {}
    # a composite's class computes its activations functionally: numbered, not by path
    plain = all(n.definition is None for n in graph.nodes.values())
    same_graph(flattened(graph, identities=False), back, functional_names=plain)


def test_exported_random_graphs_import_back(tmp_path):
    rng = np.random.default_rng(3)
    for i in range(20):
        graph = random_graph(rng)
        script = tmp_path / f"net{i}.py"
        script.write_text(export_script(graph, "torch"))
        back, _ = import_torch_code(script)
        same_graph(graph, back, functional_names=False)


def write(tmp_path, text, name="net.py"):
    path = tmp_path / name
    path.write_text(text)
    return path


HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"


def test_constructs_with_no_block_are_named_with_file_and_line(tmp_path):
    path = write(
        tmp_path,
        HEADER + "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(4, 4)\n"
        "        self.emb = nn.ELU()\n"
        "\n"
        "    def forward(self, x):\n"
        "        x = self.fc(x) * 2\n"
        "        x = self.emb(x)\n"
        "        return x.permute(1, 0)\n",
    )
    with pytest.raises(ModelImportError) as info:
        import_torch_code(path, input_shape="4")
    text = str(info.value)
    assert "net.py:13: x.__mul__ has no block" in text
    assert "net.py:14: self.emb (nn.ELU) has no block" in text
    assert "net.py:15: x.permute has no block" in text


def test_shared_weights_and_odd_flattening_are_refused(tmp_path):
    path = write(
        tmp_path,
        HEADER + "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(4, 4)\n"
        "\n"
        "    def forward(self, x):\n"
        "        return self.fc(self.fc(x))\n",
    )
    with pytest.raises(ModelImportError, match=r"net.py:12: self.fc is called a second time"):
        import_torch_code(path, input_shape="4")
    path = write(
        tmp_path,
        HEADER + "class Net(nn.Module):\n"
        "    def forward(self, x):\n"
        "        return F.relu(x.view(-1, 2, 8))\n",
        "odd.py",
    )
    with pytest.raises(ModelImportError, match=r"odd.py:8: x.view to \(2, 8\) per sample"):
        import_torch_code(path, input_shape="1,4,4")


def test_the_file_runs_isolated_and_sys_modules_is_restored(tmp_path):
    import torch.nn as real_nn

    before = {k: v for k, v in sys.modules.items() if k.split(".")[0] in ("torch", "torchvision")}
    path = write(
        tmp_path,
        "import torch\n"
        "import torchvision\n"
        "from torchvision import datasets, transforms\n"
        "from torch import nn\n"
        "import helper_layers\n"
        "ENGINE = torch.__name__\n"
        "net = nn.Sequential(nn.Linear(3, 2), helper_layers.make())\n"
        "if __name__ == '__main__':\n"
        "    raise SystemExit('the main block must not run')\n",
    )
    write(
        tmp_path, "from torch import nn\n\ndef make():\n    return nn.ReLU()\n", "helper_layers.py"
    )
    graph, _ = import_torch_code(path, input_shape="3")
    assert [n.type for n in graph.nodes.values()] == ["Input", "Linear", "ReLU"]
    assert sys.modules["torch"] is torch and sys.modules["torch.nn"] is real_nn
    after = {k: v for k, v in sys.modules.items() if k.split(".")[0] in ("torch", "torchvision")}
    assert after == before
    assert "helper_layers" not in sys.modules
    assert engine.Tensor.__add__.__module__.startswith("engine.")  # the tracer's patches are gone


@pytest.mark.parametrize(
    "text,kwargs,expected",
    [
        ("import torch\nx = (\n", {}, r"net.py:2: not valid Python"),
        (
            HEADER + "raise ValueError('no data here')\n",
            {},
            r"net.py:6: running the file raised "
            r"ValueError: no data here",
        ),
        (
            HEADER + "class A(nn.Module):\n    pass\n\n\nclass B(nn.Module):\n    pass\n",
            {},
            r"several models \(A, B\); choose one with --class",
        ),
        (
            HEADER + "class Net(nn.Module):\n    def forward(self, x):\n        return x\n",
            {"class_name": "Other"},
            r"no model named Other",
        ),
        (HEADER + "net = nn.Linear(3, 2)\n", {"input_shape": None}, r"--input-shape"),
        (HEADER + "net = nn.Linear(3, 2)\n", {"input_shape": "5"}, r"forward on a 5 input raised"),
        ("x = 1\n", {}, r"defines no nn.Module"),
    ],
    ids=["syntax", "raises", "several", "unknown-class", "no-shape", "bad-shape", "no-model"],
)
def test_bad_model_files_are_one_clear_line(tmp_path, text, kwargs, expected):
    path = write(tmp_path, text)
    kwargs = {"input_shape": "3", **kwargs}
    with pytest.raises(ModelImportError, match=expected):
        import_torch_code(path, **kwargs)


def test_training_an_imported_project_goes_on_from_its_weights(tmp_path, capsys):
    from netbuilder.data import load_dataset

    s = load_dataset("sample")
    data = tmp_path / "tiny.npz"
    np.savez(
        data,
        x_train=s.x_train[:64],
        y_train=s.y_train[:64],
        x_test=s.x_test[:32],
        y_test=s.y_test[:32],
    )
    graph = load_template("lenet").graph
    write_onnx(graph, tmp_path / "m.onnx", weights=state_of(graph))
    project = tmp_path / "P.nbproj"
    assert cli_main(["import", str(tmp_path / "m.onnx"), "-o", str(project)]) == 0
    capsys.readouterr()
    args = ["train", str(project), "--dataset", str(data), "--epochs", "1", "--no-progress"]
    assert cli_main(args) == 0
    assert f"starting from the weights in {tmp_path / 'P.safetensors'}" in capsys.readouterr().err


def test_malformed_nodes_are_one_line(tmp_path):
    index = helper.make_tensor("i", TensorProto.INT64, [], [7])
    model = _tiny_model(
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "i"], ["g"], name="pick"),
        helper.make_node("Relu", ["x"], ["y"], name="act"),
        inits=[index],
    )
    onnx.save(model, tmp_path / "m.onnx")
    with pytest.raises(ModelImportError, match=r"node pick \(Gather\): malformed \(IndexError"):
        import_onnx(tmp_path / "m.onnx")
    conv = helper.make_node("MaxPool", ["x"], ["y"], name="pool")  # no kernel_shape
    onnx.save(_tiny_model(conv), tmp_path / "p.onnx")
    with pytest.raises(ModelImportError, match=r"node pool \(MaxPool\): malformed"):
        import_onnx(tmp_path / "p.onnx")
