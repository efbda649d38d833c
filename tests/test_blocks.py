"""The block catalogue: schema, shape rules and parameter counts against the real layers."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from netbuilder.blocks import CATALOGUE, BlockError, categories, get_block
from netbuilder.compile import compile_graph
from netbuilder.graph import Graph, History
from netbuilder.graph import commands as C
from netbuilder.resources import resource_path

PALETTE_TYPES = [
    "Input",
    "Conv2d",
    "Linear",
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "ReLU",
    "LeakyReLU",
    "GELU",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "LogSoftmax",
    "Flatten",
    "Dropout",
    "BatchNorm1d",
    "BatchNorm2d",
    "Add",
    "Concat",
    "ConvTranspose2d",
    "Upsample",
    "LayerNorm",
    "Dropout2d",
    "Identity",
    "Unflatten",
    "Shortcut",
]


def test_catalogue_has_every_block_type_once():
    assert sorted(CATALOGUE) == sorted(PALETTE_TYPES)
    listed = [b.type for _, blocks in categories() for b in blocks]
    assert listed == list(CATALOGUE)  # palette order, each once


@pytest.mark.parametrize("type_", PALETTE_TYPES)
def test_schema_is_complete(type_):
    block = get_block(type_)
    assert block.label and block.description and block.category and block.name_prefix.isidentifier()
    assert resource_path("icons", block.icon).is_file()
    defaults = block.validate_params({})
    assert set(defaults) == {p.name for p in block.params}
    for spec in block.params:
        assert spec.label and spec.help, spec.name
        assert spec.kind in {"int", "float", "bool", "choice", "pair", "shape", "padding"}
        if spec.auto:
            assert defaults[spec.name] is None
    assert isinstance(block.summary(defaults), str)


def test_validate_params_rejects_bad_values_with_reasons():
    conv = get_block("Conv2d")
    with pytest.raises(BlockError, match="kernel_size must be positive"):
        conv.validate_params({"kernel_size": 0})
    with pytest.raises(BlockError, match="whole number"):
        conv.validate_params({"out_channels": 2.5})
    with pytest.raises(BlockError, match="no parameter 'kernal'"):
        conv.validate_params({"kernal": 3})
    with pytest.raises(BlockError, match="'same' or 'valid'"):
        conv.validate_params({"padding": "full"})
    with pytest.raises(BlockError, match="at most 1"):
        get_block("Dropout").validate_params({"p": 1.5})
    with pytest.raises(BlockError, match="one of"):
        get_block("GELU").validate_params({"approximate": "erf"})
    with pytest.raises(BlockError, match="C x H x W"):
        get_block("Input").validate_params({"shape": [1, 28]})
    assert conv.validate_params({"kernel_size": [3, 5]})["kernel_size"] == (3, 5)
    with pytest.raises(BlockError, match="unknown block type"):
        get_block("Conv3d")


def test_summaries():
    assert (
        get_block("Conv2d").summary(
            {**get_block("Conv2d").defaults(), "out_channels": 6, "kernel_size": 5}
        )
        == "6@5x5"
    )
    assert get_block("Dropout").summary({"p": 0.5}) == "p=0.5"
    assert get_block("Input").summary({"shape": (1, 32, 32)}) == "1x32x32"
    assert get_block("MaxPool2d").summary(get_block("MaxPool2d").defaults()) == "2x2"


# every block type in a small graph: (type, params, input shape(s))
CASES = [
    ("Conv2d", {"out_channels": 6, "kernel_size": 5}, [(1, 32, 32)]),
    (
        "Conv2d",
        {
            "out_channels": 8,
            "kernel_size": (3, 5),
            "stride": 2,
            "padding": (1, 2),
            "dilation": 2,
            "bias": False,
        },
        [(3, 17, 20)],
    ),
    ("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": "same", "groups": 2}, [(2, 9, 9)]),
    ("Linear", {"out_features": 7}, [(13,)]),
    ("MaxPool2d", {"kernel_size": 2}, [(3, 9, 9)]),
    ("MaxPool2d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, [(2, 10, 10)]),
    ("AvgPool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, [(2, 11, 8)]),
    ("AvgPool2d", {"kernel_size": 2, "ceil_mode": True}, [(2, 7, 7)]),
    ("MaxPool2d", {"kernel_size": 3, "ceil_mode": True}, [(1, 2, 2)]),  # window overhangs
    ("AdaptiveAvgPool2d", {"output_size": (2, 3)}, [(4, 7, 9)]),
    ("ReLU", {}, [(3, 4, 4)]),
    ("LeakyReLU", {"negative_slope": 0.2}, [(5,)]),
    ("GELU", {"approximate": "tanh"}, [(6,)]),
    ("Sigmoid", {}, [(2, 3, 3)]),
    ("Tanh", {}, [(8,)]),
    ("Softmax", {"dim": 1}, [(10,)]),
    ("LogSoftmax", {"dim": 1}, [(10,)]),
    ("LogSoftmax", {"dim": 1}, [(4, 3, 3)]),
    ("Flatten", {}, [(3, 4, 5)]),
    ("Dropout", {"p": 0.3}, [(12,)]),
    ("BatchNorm1d", {}, [(12,)]),
    ("BatchNorm2d", {"affine": False}, [(3, 5, 5)]),
    ("Add", {}, [(3, 4, 4), (3, 4, 4)]),
    ("Concat", {}, [(3, 4, 4), (5, 4, 4)]),
    ("Concat", {}, [(2,), (3,), (4,)]),
    ("ConvTranspose2d", {"out_channels": 4}, [(3, 5, 6)]),
    (
        "ConvTranspose2d",
        {
            "out_channels": 4,
            "kernel_size": 3,
            "stride": 2,
            "padding": 1,
            "output_padding": 1,
            "groups": 2,
            "bias": False,
        },
        [(2, 4, 5)],
    ),
    ("ConvTranspose2d", {"kernel_size": (3, 2), "stride": 1, "dilation": 2}, [(2, 4, 4)]),
    ("Upsample", {}, [(3, 4, 5)]),
    ("Upsample", {"scale_factor": 1.5, "mode": "bilinear", "align_corners": True}, [(2, 5, 4)]),
    ("LayerNorm", {}, [(3, 4, 4)]),
    ("LayerNorm", {"normalized_shape": [4], "elementwise_affine": False}, [(3, 5, 4)]),
    ("LayerNorm", {"eps": 1e-3}, [(12,)]),
    ("Dropout2d", {"p": 0.2}, [(3, 4, 4)]),
    ("Identity", {}, [(3, 4, 4)]),
    ("Unflatten", {"unflattened_size": [2, 3, 4]}, [(24,)]),
    ("Shortcut", {}, [(3, 5, 5)]),
    ("Shortcut", {"out_channels": 6, "stride": 2}, [(3, 5, 5)]),
    ("Shortcut", {"out_channels": 3, "stride": 3}, [(3, 7, 8)]),
]


def graph_for(type_, params, in_shapes):
    """Input -> (one Linear/Conv per extra branch) -> block under test."""
    g = Graph()
    h = History(g)
    inp = C.AddNode("Input", (0, 0), {"shape": list(in_shapes[0])})
    h.push(inp)
    sources = [inp.node_id]
    for shape in in_shapes[1:]:
        if len(shape) == 3:
            cmd = C.AddNode("Conv2d", (0, 0), {"out_channels": shape[0], "kernel_size": 1})
        else:
            cmd = C.AddNode("Linear", (0, 0), {"out_features": shape[0]})
        h.push(cmd)
        h.push(C.Connect(inp.node_id, cmd.node_id, 0))
        sources.append(cmd.node_id)
    block = C.AddNode(type_, (0, 0), params)
    h.push(block)
    for port, src in enumerate(sources):
        h.push(C.Connect(src, block.node_id, port))
    return g, g.nodes[block.node_id]


@pytest.mark.parametrize("type_,params,in_shapes", CASES, ids=lambda v: str(v)[:40])
def test_shape_and_count_match_engine_and_torch(type_, params, in_shapes):
    g, node = graph_for(type_, params, in_shapes)
    assert g.problems() == []
    assert node.in_shapes == in_shapes
    x = np.random.default_rng(0).standard_normal((2, *in_shapes[0])).astype(np.float32)
    for lib, wrap in ((engine, engine.from_numpy), (torch, torch.from_numpy)):
        model = compile_graph(g, lib)
        model.eval()
        out = model(wrap(x))
        assert tuple(out.shape) == (2, *node.out_shape), lib.__name__
        module = getattr(model, node.name, None)
        actual = sum(p.numel() for p in module.parameters()) if module is not None else 0
        assert actual == node.param_count, lib.__name__
    assert g.total_params == sum(p.numel() for p in compile_graph(g).parameters())


def test_new_block_types_explain_wrong_inputs():
    _, conv_t = graph_for("ConvTranspose2d", {"stride": 2, "output_padding": 2}, [(3, 4, 4)])
    assert "output_padding 2 must be smaller than the stride" in conv_t.problems[0]
    _, ln = graph_for("LayerNorm", {"normalized_shape": [5]}, [(3, 4, 4)])
    assert "must be the last dims of the input 3x4x4" in ln.problems[0]
    _, unflat = graph_for("Unflatten", {"unflattened_size": [2, 3, 3]}, [(24,)])
    assert "needs 18 features but gets 24" in unflat.problems[0]
    _, drop = graph_for("Dropout2d", {}, [(12,)])
    assert "use Dropout for flat features" in drop.problems[0]
    _, up = graph_for("Upsample", {}, [(12,)])
    assert "image-shaped input" in up.problems[0]


def test_auto_fill_follows_input_unless_pinned():
    g, node = graph_for("Linear", {"out_features": 3}, [(13,)])
    assert node.params["in_features"] is None and node.resolved["in_features"] == 13
    assert node.param_count == 13 * 3 + 3
    g2, conv = graph_for("Conv2d", {"in_channels": 3, "out_channels": 2}, [(3, 8, 8)])
    assert conv.resolved["in_channels"] == 3 and conv.problems == []
    _, bn = graph_for("BatchNorm2d", {}, [(5, 4, 4)])
    assert bn.resolved["num_features"] == 5 and bn.param_count == 10


@settings(max_examples=150, deadline=None)
@given(
    type_=st.sampled_from(["Conv2d", "MaxPool2d", "AvgPool2d"]),
    size=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    kernel=st.integers(1, 6),
    stride=st.integers(1, 4),
    padding=st.integers(0, 3),
    dilation=st.integers(1, 3),
    ceil=st.booleans(),
)
def test_window_output_sizes_agree_with_torch(type_, size, kernel, stride, padding, dilation, ceil):
    """Where inference accepts parameters torch gives that exact shape; where it refuses, torch
    refuses too or would produce an empty output."""
    block = get_block(type_)
    if type_ == "Conv2d":
        params = {
            "out_channels": 2,
            "kernel_size": kernel,
            "stride": stride,
            "padding": padding,
            "dilation": dilation,
        }
        layer = torch.nn.Conv2d(1, 2, kernel, stride, padding, dilation)
    elif type_ == "MaxPool2d":
        params = {"kernel_size": kernel, "stride": stride, "padding": padding, "ceil_mode": ceil}
        layer = torch.nn.MaxPool2d(kernel, stride, padding, ceil_mode=ceil)
    else:
        params = {"kernel_size": kernel, "stride": stride, "padding": padding, "ceil_mode": ceil}
        layer = torch.nn.AvgPool2d(kernel, stride, padding, ceil_mode=ceil)
    params = block.validate_params(params)
    try:
        ours = block.infer(params, [(1, *size)])
    except BlockError:
        ours = None
    try:
        theirs = tuple(layer(torch.zeros(1, 1, *size)).shape[1:])
        if 0 in theirs:
            theirs = None
    except RuntimeError:
        theirs = None
    assert ours == theirs
