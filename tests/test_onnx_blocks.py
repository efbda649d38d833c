"""ONNX for composite blocks and the resampling, normalising and structural blocks: each runs
in onnxruntime as in the engine (and, for resizing, as PyTorch's F.interpolate), and imports
back as the same plain blocks with the same weights."""

import importlib.util

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from test_export import random_graph
from test_import import engine_run, flat_key, flattened, same_graph, state_of
from test_new_blocks_export import decoder_graph

from netbuilder.compile import compile_graph
from netbuilder.export.onnx import build_onnx, write_onnx
from netbuilder.graph import Graph, GraphError, History
from netbuilder.graph import commands as C
from netbuilder.graph.templates import load_template
from netbuilder.importers.onnx import import_onnx


def chain(shape, *blocks):
    """Input of `shape`, then the blocks one after another."""
    g = Graph()
    g.name = "Net"
    h = History(g)
    prev = None
    for type_, params in [("Input", {"shape": list(shape)}), *blocks]:
        cmd = C.AddNode(type_, (0, 0), params)
        h.push(cmd)
        if prev is not None:
            h.push(C.Connect(prev, cmd.node_id, 0))
        prev = cmd.node_id
    assert g.problems() == []
    return g


def varied_state(graph, seed=0):
    """The compiled weights with batch norm statistics away from their defaults."""
    rng = np.random.default_rng(seed)
    state = state_of(graph)
    for key, value in state.items():
        if key.endswith("running_mean"):
            state[key] = rng.uniform(-0.5, 0.5, value.shape).astype(np.float32)
        elif key.endswith("running_var"):
            state[key] = rng.uniform(0.5, 1.5, value.shape).astype(np.float32)
        elif value.dtype == np.float32:
            state[key] = rng.standard_normal(value.shape).astype(np.float32) * 0.5
    return state


def check_everywhere(graph, tmp_path, seed=0, torch_too=False):
    """onnxruntime gives the engine's outputs; the file imports back as the flattened graph,
    with the weights by value, computing the same."""
    state = varied_state(graph, seed)
    proto = build_onnx(graph, state)
    onnx.checker.check_model(proto, full_check=True)
    assert {i.name for i in proto.graph.initializer} >= set(state) - {
        k for k in state if k.endswith("num_batches_tracked")
    }
    inp = next(n for n in graph.nodes.values() if n.type == "Input")
    x = np.random.default_rng(seed).standard_normal((3, *inp.out_shape)).astype(np.float32)
    expected = engine_run(graph, state, x)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {inp.name: x})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    if torch_too:
        net = compile_graph(graph, lib=torch)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
        net.eval()
        with torch.no_grad():
            reference = net(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, reference, rtol=1e-4, atol=1e-5)
    path = tmp_path / "m.onnx"
    write_onnx(graph, path, weights=state)
    back, weights = import_onnx(path)
    same_graph(flattened(graph), back)
    for key, value in state.items():
        if not key.endswith("num_batches_tracked"):
            np.testing.assert_array_equal(weights[flat_key(key)], value, err_msg=key)
    np.testing.assert_allclose(engine_run(back, weights, x), expected, rtol=1e-5, atol=1e-6)
    return proto, back


BLOCKS = [
    ((4, 5, 5), "ConvTranspose2d", {"out_channels": 3, "kernel_size": 3, "stride": 2,
                                    "padding": 1, "output_padding": 1}),
    ((4, 5, 5), "ConvTranspose2d", {"out_channels": 6, "kernel_size": (2, 3), "stride": (1, 2),
                                    "dilation": 2, "groups": 2, "bias": False}),
    ((3, 5, 4), "Upsample", {"scale_factor": 2.0}),
    ((3, 5, 4), "Upsample", {"scale_factor": 1.5}),
    ((3, 6, 5), "Upsample", {"scale_factor": 0.5}),
    ((3, 5, 4), "Upsample", {"scale_factor": 2.0, "mode": "bilinear"}),
    ((3, 5, 4), "Upsample", {"scale_factor": 1.7, "mode": "bilinear"}),
    ((3, 6, 5), "Upsample", {"scale_factor": 0.5, "mode": "bilinear"}),
    ((3, 5, 4), "Upsample", {"scale_factor": 2.0, "mode": "bilinear", "align_corners": True}),
    ((3, 5, 4), "Upsample", {"scale_factor": 2.5, "mode": "bilinear", "align_corners": True}),
    ((3, 4, 5), "LayerNorm", {}),
    ((3, 4, 5), "LayerNorm", {"normalized_shape": [5], "eps": 1e-3}),
    ((3, 4, 5), "LayerNorm", {"normalized_shape": [3, 4, 5], "elementwise_affine": False}),
    ((12,), "LayerNorm", {}),
    ((3, 4, 4), "Dropout2d", {"p": 0.3}),
    ((3, 4, 4), "Identity", {}),
    ((48,), "Unflatten", {"unflattened_size": [3, 4, 4]}),
    ((4, 6, 6), "Shortcut", {}),
    ((4, 6, 6), "Shortcut", {"out_channels": 8, "stride": 2}),
    ((4, 7, 7), "Shortcut", {"stride": 2}),
]  # fmt: skip


@pytest.mark.parametrize(("shape", "type_", "params"), BLOCKS)
def test_each_new_block_runs_in_onnxruntime_and_imports_back(shape, type_, params, tmp_path):
    # a block after it, so the block is not the graph's output only
    graph = chain(shape, (type_, params), ("ReLU", {}))
    check_everywhere(graph, tmp_path, torch_too=True)


def test_resize_uses_pytorch_coordinates():
    modes = {}
    for mode, corners in (("nearest", False), ("bilinear", False), ("bilinear", True)):
        graph = chain((1, 4, 4), ("Upsample", {"mode": mode, "align_corners": corners}))
        (node,) = build_onnx(graph).graph.node
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        modes[mode, corners] = attrs["coordinate_transformation_mode"].decode()
    assert modes == {
        ("nearest", False): "asymmetric",
        ("bilinear", False): "pytorch_half_pixel",
        ("bilinear", True): "align_corners",
    }


def test_unflatten_keeps_the_batch_dynamic(tmp_path):
    graph = chain((48,), ("Unflatten", {"unflattened_size": [3, 4, 4]}))
    proto = build_onnx(graph)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    for batch in (1, 5):
        x = np.zeros((batch, 48), np.float32)
        assert session.run(None, {"input1": x})[0].shape == (batch, 3, 4, 4)


def test_the_decoder_with_every_new_block_round_trips(tmp_path):
    check_everywhere(decoder_graph(), tmp_path)


@pytest.mark.parametrize("name", ["resnet8", "vgg"])
def test_composite_templates_flatten_with_state_dict_names(name, tmp_path):
    graph = load_template(name).graph
    proto, back = check_everywhere(graph, tmp_path)
    state = state_of(graph)
    initializers = {i.name for i in proto.graph.initializer}
    assert set(state) - initializers <= {k for k in state if k.endswith("num_batches_tracked")}
    names = [n.name for n in proto.graph.node]
    if name == "resnet8":
        assert names[:3] == ["stem.conv", "stem.bn", "stem.relu"]
        assert {"layer2.conv1", "layer2.downsample.0", "layer2.downsample.1", "layer2.add"} <= set(
            names
        )
        assert "layer2.downsample.0.weight" in initializers
        assert {"layer2_conv1", "layer2_downsample_0", "layer1_downsample"} <= {
            n.name for n in back.nodes.values()
        }
    else:
        assert "stage1.conv1.conv" in names and "stage1.conv1.conv.weight" in initializers


def grouped_random_graph(rng):
    """A random graph in which runs of blocks are grouped into composites, some nested."""
    graph = random_graph(rng)
    history = History(graph)
    made = 0
    for _ in range(12):
        order = [n for n in graph.topological_order() if graph.nodes[n].type != "Input"]
        if len(order) < 2:
            break
        start = int(rng.integers(len(order) - 1))
        run = order[start : start + int(rng.integers(1, 4))]
        try:
            history.push(C.Group(run))
        except GraphError:
            continue
        made += 1
    assert graph.problems() == []
    return graph, made


def test_random_graphs_with_composites_match_and_import_flattened(tmp_path):
    rng = np.random.default_rng(5)
    nested = 0
    for i in range(8):
        graph, made = grouped_random_graph(rng)
        assert made
        nested += any(
            n.definition is not None and n.definition.used_definitions()
            for n in graph.nodes.values()
        )
        check_everywhere(graph, tmp_path, seed=i)
    assert nested  # some composites hold composites


# -- PyTorch code with nested modules and the new layers ----------------------------------------


def import_script_with_weights(graph, tmp_path, state):
    from safetensors.numpy import save_file

    from netbuilder.export import export_script
    from netbuilder.importers.torch_code import import_torch_code

    script = tmp_path / "net.py"
    script.write_text(export_script(graph, "torch"))
    save_file(state, tmp_path / "w.safetensors")
    return import_torch_code(script, weights=tmp_path / "w.safetensors")


@pytest.mark.parametrize("name", ["resnet8", "vgg"])
def test_scripts_with_one_class_per_composite_import_flattened(name, tmp_path):
    graph = load_template(name).graph
    state = varied_state(graph)
    back, weights = import_script_with_weights(graph, tmp_path, state)
    same_graph(flattened(graph, identities=False), back, functional_names=False)
    assert set(weights) == {flat_key(k) for k in state}
    for key, value in state.items():
        np.testing.assert_array_equal(weights[flat_key(key)], value, err_msg=key)
    inp = next(n for n in graph.nodes.values() if n.type == "Input")
    x = np.random.default_rng(1).standard_normal((2, *inp.out_shape)).astype(np.float32)
    np.testing.assert_allclose(
        engine_run(back, weights, x), engine_run(graph, state, x), rtol=1e-5, atol=1e-6
    )


def test_the_decoder_script_imports_back_with_the_new_layers(tmp_path):
    graph = decoder_graph()
    state = varied_state(graph)
    back, weights = import_script_with_weights(graph, tmp_path, state)
    same_graph(flattened(graph, identities=False), back, functional_names=False)
    x = np.random.default_rng(2).standard_normal((2, 1, 12, 12)).astype(np.float32)
    np.testing.assert_allclose(
        engine_run(back, weights, x), engine_run(graph, state, x), rtol=1e-5, atol=1e-6
    )


RESAMPLING = """
import torch
import torch.nn as nn
import torch.nn.functional as F

INPUT_SHAPE = (48,)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.unflat = nn.Unflatten(1, (3, 4, -1))
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)

    def forward(self, x):
        x = self.up(self.unflat(x))
        x = F.interpolate(x, size=(24, 24))
        x = F.interpolate(x, scale_factor=0.5, mode="bilinear")
        return x.flatten(1).unflatten(1, (3, 12, 12))
"""


def test_upsample_and_unflatten_layers_and_calls_import(tmp_path):
    from netbuilder.importers.torch_code import import_torch_code

    script = tmp_path / "resample.py"
    script.write_text(RESAMPLING)
    back, _ = import_torch_code(script)
    blocks = [(n.name, n.type, n.params) for n in back.nodes.values()][1:]
    assert [b[:2] for b in blocks] == [
        ("unflat", "Unflatten"), ("up", "Upsample"), ("up1", "Upsample"), ("up2", "Upsample"),
        ("flatten1", "Flatten"), ("unflatten1", "Unflatten"),
    ]  # fmt: skip
    assert blocks[0][2]["unflattened_size"] == (3, 4, 4)
    assert blocks[1][2] | {"scale_factor": 2.0} == blocks[1][2]
    assert blocks[1][2]["align_corners"] and blocks[1][2]["mode"] == "bilinear"
    assert blocks[2][2]["scale_factor"] == 3.0 and blocks[2][2]["mode"] == "nearest"
    assert blocks[3][2]["scale_factor"] == 0.5 and not blocks[3][2]["align_corners"]
    # the same function as the file computes, in PyTorch
    spec = importlib.util.spec_from_file_location("resample_net", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = np.random.default_rng(3).standard_normal((2, 48)).astype(np.float32)
    with torch.no_grad():
        expected = module.Net()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(engine_run(back, {}, x), expected, rtol=1e-5, atol=1e-6)


def test_resizing_to_uneven_sizes_is_refused_by_line(tmp_path):
    from netbuilder.importers import ModelImportError
    from netbuilder.importers.torch_code import import_torch_code

    script = tmp_path / "odd.py"
    script.write_text(RESAMPLING.replace("size=(24, 24)", "size=(24, 20)"))
    with pytest.raises(ModelImportError, match=r"odd.py:\d+: F.interpolate to 24x20"):
        import_torch_code(script)
