"""Graph -> ONNX model, built node by node with onnx.helper (no torch needed).

Node names are block names, initializers are named as the network's state_dict keys
(`conv1.weight`), the batch dimension is dynamic. Each block type maps to ONNX operators through
one table, `ONNX_EMITTERS`; a block type with no entry is refused by name. A composite block is
flattened into its body's operators, named by path as its weights are (`layer2.conv1`), so
Netron shows the same names as the state_dict.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from netbuilder.blocks.spec import pair
from netbuilder.export.forward import ExportError

OPSET = 20  # Gelu is an operator from opset 20 on; onnxruntime runs 20
IR_VERSION = 10  # what onnxruntime 1.17+ reads
BATCH = "batch"
ADAPTIVE_NOTE = "NetBuilder AdaptiveAvgPool2d"
# blocks whose operators alone would import back as another block (Dropout, nothing) carry
# their type in the node's doc_string; the importer reads it
BLOCK_NOTE = "NetBuilder block: "
MISSING_ONNX = (
    "ONNX support needs the onnx package; install it with: pip install 'netbuilder[onnx]'"
)


def require_onnx():
    """The onnx module, or ExportError with the install command."""
    try:
        import onnx
    except ImportError:
        raise ExportError(MISSING_ONNX) from None
    return onnx


class _Builder:
    """Collects nodes and initializers while the emitters run."""

    def __init__(self, onnx, state: dict):
        self.onnx = onnx
        self.helper = onnx.helper
        self.state = state
        self.nodes = []
        self.initializers = {}

    def node(self, op: str, inputs: list[str], output: str, name: str, **attrs):
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=name, **attrs))
        return output

    def weight(self, key: str) -> str:
        """An initializer named as its state_dict key."""
        if key not in self.initializers:
            self.initializers[key] = self.state[key]
        return key

    def constant(self, key: str, array) -> str:
        if key not in self.initializers:
            self.initializers[key] = np.asarray(array)
        return key


# -- emitters: (builder, node, input value names, output value name) -> None -----------------


def _pads(padding) -> list[int]:
    ph, pw = pair(padding)
    return [ph, pw, ph, pw]


def _conv(b, node, inputs, out):
    p = node.resolved
    kh, kw = pair(p["kernel_size"])
    dh, dw = pair(p["dilation"])
    if p["padding"] == "same":  # PyTorch pads the extra zero on the bottom/right, as SAME_UPPER
        padding = {"auto_pad": "SAME_UPPER"}
    elif p["padding"] == "valid":
        padding = {"pads": [0, 0, 0, 0]}
    else:
        padding = {"pads": _pads(p["padding"])}
    args = [inputs[0], b.weight(f"{node.name}.weight")]
    if p["bias"]:
        args.append(b.weight(f"{node.name}.bias"))
    return b.node(
        "Conv",
        args,
        out,
        node.name,
        kernel_shape=[kh, kw],
        strides=list(pair(p["stride"])),
        dilations=[dh, dw],
        **padding,
        group=p["groups"],
    )


def _linear(b, node, inputs, out):
    args = [inputs[0], b.weight(f"{node.name}.weight")]
    if node.resolved["bias"]:
        args.append(b.weight(f"{node.name}.bias"))
    b.node("Gemm", args, out, node.name, transB=1)


def _pool(op, **extra):
    def emit(b, node, inputs, out):
        p = node.resolved
        stride = pair(p["stride"] if p["stride"] is not None else p["kernel_size"])
        kernel, padding = pair(p["kernel_size"]), pair(p["padding"])
        ceil = p["ceil_mode"]
        if ceil:  # where PyTorch drops a last window that starts in the padding, ONNX's shape
            # rule keeps it: the sizes are then those of floor mode, so say floor mode
            floor = tuple(
                (size + 2 * pad - k) // st + 1
                for size, k, st, pad in zip(node.in_shapes[0][1:], kernel, stride, padding)
            )
            ceil = tuple(node.out_shape[1:]) != floor
        b.node(
            op,
            inputs[:1],
            out,
            node.name,
            kernel_shape=list(kernel),
            strides=list(stride),
            pads=_pads(p["padding"]),
            ceil_mode=int(ceil),
            **extra,
        )

    return emit


def _adaptive_matrix(size: int, out: int) -> np.ndarray:
    """(out, size): row i averages PyTorch's adaptive window i."""
    m = np.zeros((out, size), np.float32)
    for i in range(out):
        start, end = (i * size) // out, -(-((i + 1) * size) // out)
        m[i, start:end] = 1.0 / (end - start)
    return m


def _adaptive_avg(b, node, inputs, out):
    (c, h, w) = node.in_shapes[0]
    oh, ow = pair(node.resolved["output_size"])
    if (oh, ow) == (1, 1):
        b.node("GlobalAveragePool", inputs[:1], out, node.name)
        return
    if h % oh == 0 and w % ow == 0:  # even windows: a plain average pool
        k = [h // oh, w // ow]
        b.node("AveragePool", inputs[:1], out, node.name, kernel_shape=k, strides=k)
    else:  # uneven windows: average rows then columns with two constant matrices
        rows = b.constant(f"{node.name}.rows", _adaptive_matrix(h, oh))
        cols = b.constant(f"{node.name}.cols", _adaptive_matrix(w, ow).T.copy())
        mid = b.node("MatMul", [rows, inputs[0]], f"{out}/rows", f"{node.name}/rows")
        b.nodes[-1].doc_string = ADAPTIVE_NOTE
        b.node("MatMul", [mid, cols], out, node.name)
    # the importer reads the note and gives back the block rather than its arithmetic
    b.nodes[-1].doc_string = ADAPTIVE_NOTE


def _simple(op, **fixed):
    def emit(b, node, inputs, out):
        b.node(op, inputs[:1], out, node.name, **fixed)

    return emit


def _leaky(b, node, inputs, out):
    b.node("LeakyRelu", inputs[:1], out, node.name, alpha=float(node.resolved["negative_slope"]))


def _gelu(b, node, inputs, out):
    b.node("Gelu", inputs[:1], out, node.name, approximate=node.resolved["approximate"])


def _softmax(op):
    def emit(b, node, inputs, out):
        b.node(op, inputs[:1], out, node.name, axis=node.resolved["dim"])

    return emit


def _batchnorm(b, node, inputs, out):
    p = node.resolved
    n = p["num_features"]
    if p["affine"]:
        scale, shift = b.weight(f"{node.name}.weight"), b.weight(f"{node.name}.bias")
    else:  # no learned scale/shift: the operator still wants them, as constants
        scale = b.constant(f"{node.name}.unit_scale", np.ones(n, np.float32))
        shift = b.constant(f"{node.name}.zero_shift", np.zeros(n, np.float32))
    args = [
        inputs[0],
        scale,
        shift,
        b.weight(f"{node.name}.running_mean"),
        b.weight(f"{node.name}.running_var"),
    ]
    # ONNX's momentum weighs the running value; PyTorch's weighs the new batch
    b.node(
        "BatchNormalization",
        args,
        out,
        node.name,
        epsilon=float(p["eps"]),
        momentum=1.0 - float(p["momentum"]),
    )


def _dropout(b, node, inputs, out):
    ratio = b.constant(f"{node.name}.ratio", np.array(node.resolved["p"], np.float32))
    b.node("Dropout", [inputs[0], ratio], out, node.name)


def _dropout2d(b, node, inputs, out):
    # channel dropout is the identity when evaluating, which is all an ONNX model does
    ratio = b.constant(f"{node.name}.ratio", np.array(node.resolved["p"], np.float32))
    b.node("Dropout", [inputs[0], ratio], out, node.name)
    b.nodes[-1].doc_string = BLOCK_NOTE + "Dropout2d"


def _identity(b, node, inputs, out):
    b.node("Identity", inputs[:1], out, node.name)
    b.nodes[-1].doc_string = BLOCK_NOTE + "Identity"


def _conv_transpose(b, node, inputs, out):
    p = node.resolved
    args = [inputs[0], b.weight(f"{node.name}.weight")]
    if p["bias"]:
        args.append(b.weight(f"{node.name}.bias"))
    b.node(
        "ConvTranspose",
        args,
        out,
        node.name,
        kernel_shape=list(pair(p["kernel_size"])),
        strides=list(pair(p["stride"])),
        dilations=list(pair(p["dilation"])),
        pads=_pads(p["padding"]),
        output_padding=list(pair(p["output_padding"])),
        group=p["groups"],
    )


def _upsample(b, node, inputs, out):
    p = node.resolved
    s = float(p["scale_factor"])
    scales = b.constant(f"{node.name}.scales", np.array([1.0, 1.0, s, s], np.float32))
    if p["mode"] == "nearest":  # PyTorch's nearest picks floor(dst / scale)
        attrs = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
                 "nearest_mode": "floor"}  # fmt: skip
    elif p["align_corners"]:
        attrs = {"mode": "linear", "coordinate_transformation_mode": "align_corners"}
    else:  # half-pixel centres, and 0 for a size-1 output, as PyTorch
        attrs = {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}
    b.node("Resize", [inputs[0], "", scales], out, node.name, **attrs)


def _layernorm(b, node, inputs, out):
    p = node.resolved
    shape = tuple(p["normalized_shape"])
    if p["elementwise_affine"]:
        args = [b.weight(f"{node.name}.weight"), b.weight(f"{node.name}.bias")]
    else:  # the operator wants a scale; the bias may be left out
        args = [b.constant(f"{node.name}.unit_scale", np.ones(shape, np.float32))]
    b.node(
        "LayerNormalization",
        [inputs[0], *args],
        out,
        node.name,
        axis=-len(shape),
        epsilon=float(p["eps"]),
    )


def _unflatten(b, node, inputs, out):
    # 0 copies the batch size from the input, so the batch stays dynamic
    shape = [0, *node.resolved["unflattened_size"]]
    target = b.constant(f"{node.name}.shape", np.array(shape, np.int64))
    b.node("Reshape", [inputs[0], target], out, node.name)


class _Part:
    """A block seen under another name and parameters: a composite's body block under its
    path, or a piece of a block that is several modules (a Shortcut's projection)."""

    def __init__(self, node, name, resolved=None):
        self._node = node
        self.name = name
        self.resolved = node.resolved if resolved is None else resolved

    def __getattr__(self, attr):
        return getattr(self._node, attr)


def _shortcut(b, node, inputs, out):
    p = node.resolved
    c = node.in_shapes[0][0]
    width = c if p["out_channels"] is None else p["out_channels"]
    if p["stride"] == 1 and width == c:
        _identity(b, node, inputs, out)
        return
    # the projection is nn.Sequential(conv, bn): its modules are `<name>.0` and `<name>.1`
    conv = {"kernel_size": 1, "stride": p["stride"], "padding": 0, "dilation": 1,
            "groups": 1, "bias": False}  # fmt: skip
    bn = {"num_features": width, "eps": 1e-5, "momentum": 0.1, "affine": True}
    mid = _conv(b, _Part(node, f"{node.name}.0", conv), inputs, f"{node.name}.0")
    _batchnorm(b, _Part(node, f"{node.name}.1", bn), [mid], out)


def _flatten(b, node, inputs, out):
    b.node("Flatten", inputs[:1], out, node.name, axis=1)


def _add(b, node, inputs, out):
    b.node("Add", inputs[:2], out, node.name)


def _concat(b, node, inputs, out):
    b.node("Concat", inputs, out, node.name, axis=1)


# block type -> emitter; Input becomes the graph input
ONNX_EMITTERS: dict[str, Callable] = {
    "Conv2d": _conv,
    "Linear": _linear,
    "MaxPool2d": _pool("MaxPool"),
    "AvgPool2d": _pool("AveragePool", count_include_pad=1),  # PyTorch's default
    "AdaptiveAvgPool2d": _adaptive_avg,
    "ReLU": _simple("Relu"),
    "LeakyReLU": _leaky,
    "GELU": _gelu,
    "Sigmoid": _simple("Sigmoid"),
    "Tanh": _simple("Tanh"),
    "Softmax": _softmax("Softmax"),
    "LogSoftmax": _softmax("LogSoftmax"),
    "BatchNorm1d": _batchnorm,
    "BatchNorm2d": _batchnorm,
    "Dropout": _dropout,
    "Flatten": _flatten,
    "Add": _add,
    "Concat": _concat,
    "ConvTranspose2d": _conv_transpose,
    "Upsample": _upsample,
    "LayerNorm": _layernorm,
    "Dropout2d": _dropout2d,
    "Identity": _identity,
    "Unflatten": _unflatten,
    "Shortcut": _shortcut,
}


def unmapped_blocks(graph, prefix: str = "") -> list[str]:
    """'name (Type)' for every block the ONNX export has no operators for; inside a composite
    by path ('layer2.act (Mish)')."""
    out = []
    for n in graph.nodes.values():
        if n.definition is not None:
            if n.inner is None:
                out.append(f"{prefix}{n.name} ({n.definition.name})")
            else:
                out += unmapped_blocks(n.inner, f"{prefix}{n.name}.")
        elif n.type != "Input" and n.type not in ONNX_EMITTERS:
            out.append(f"{prefix}{n.name} ({n.type})")
    return out


def _emit_graph(builder, graph, prefix="", port_values=(), ports=()) -> str:
    """Emit the graph's blocks, composites flattened by path; returns its output value. In a
    composite's body the Input blocks `ports` stand for the values `port_values`."""
    from netbuilder.graph.inference import output_node

    values = {}
    for nid in graph.topological_order():
        node = graph.nodes[nid]
        name = prefix + node.name
        if node.type == "Input":
            values[nid] = port_values[ports.index(nid)] if prefix else name
            continue
        args = [values[e.src] for e in graph.edges_into(nid)]
        if node.definition is not None:
            body = node.inner
            values[nid] = _emit_graph(builder, body, f"{name}.", args, node.definition.inputs)
        else:
            ONNX_EMITTERS[node.type](builder, _Part(node, name) if prefix else node, args, name)
            values[nid] = name
    return values[output_node(graph)]


def _state_arrays(graph, weights) -> dict:
    """{state_dict key: float32/int64 array}: the given weights (checked against the network)
    or the engine's freshly initialised ones."""
    from netbuilder.compile import compile_graph

    model = compile_graph(graph)
    if weights is None:
        return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    from netbuilder.export.script import check_weights, load_weights

    arrays, source = load_weights(weights)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    check_weights(graph, arrays, source, expected)
    return arrays



def build_onnx(graph, weights=None):
    """The onnx.ModelProto of the graph. weights: None (fresh initial weights), a .safetensors
    path or {state_dict key: array}."""
    onnx = require_onnx()
    from onnx import TensorProto, helper, numpy_helper

    from netbuilder.graph.inference import input_nodes, output_node
    from netbuilder.graph.model import problem_line

    problems = graph.problems()
    if problems:
        lines = (problem_line(graph.nodes[nid].name, m) for nid, m in problems)
        raise ExportError("the network has problems: " + "; ".join(lines))
    missing = unmapped_blocks(graph)
    if missing:
        raise ExportError(
            f"no ONNX operators are known for {', '.join(missing)}; remove or replace "
            f"{'it' if len(missing) == 1 else 'them'} to export ONNX"
        )
    inputs = [graph.nodes[nid] for nid in input_nodes(graph)]
    if len(inputs) != 1:
        raise ExportError(f"ONNX export needs exactly one Input block (found {len(inputs)})")
    out_id = output_node(graph)
    if out_id is None:
        raise ExportError("the network has no output; wire the Input through at least one block")
    builder = _Builder(onnx, _state_arrays(graph, weights))
    out_value = _emit_graph(builder, graph)

    def tensor_info(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, [BATCH, *shape])

    out = graph.nodes[out_id]
    onnx_graph = helper.make_graph(
        builder.nodes,
        graph.name or "Net",
        [tensor_info(inputs[0].name, inputs[0].out_shape)],
        [tensor_info(out_value, out.out_shape)],
        initializer=[
            numpy_helper.from_array(np.array(a, order="C"), name=k)
            for k, a in builder.initializers.items()
        ],
    )
    model = helper.make_model(
        onnx_graph,
        producer_name="NetBuilder",
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
    )
    model.doc_string = f"{graph.name}: exported from NetBuilder"
    return model


def write_onnx(project_or_graph, path, weights=None) -> Path:
    """Write the graph as an .onnx file, atomically."""
    from netbuilder.graph.project import atomic_write

    graph = getattr(project_or_graph, "graph", project_or_graph)
    model = build_onnx(graph, weights)
    data = model.SerializeToString()
    if len(data) >= 2**31:
        size = math.ceil(len(data) / 2**30)
        raise ExportError(f"the model is {size} GB; ONNX files hold at most 2 GB in one piece")
    path = Path(path)
    atomic_write(path, data)
    return path
