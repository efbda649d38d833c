"""ONNX model -> graph and weights.

The operators a block diagram can show become blocks; the shape arithmetic PyTorch's exporter
writes around `x.view(x.size(0), -1)` (Shape, Gather, Unsqueeze, Concat into a Reshape) is
followed symbolically and folds into one Flatten. Any other operator is refused by node name.
The file is read whole but bounded by a size cap, and never follows external-data paths.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from netbuilder.export.onnx import ADAPTIVE_NOTE, BLOCK_NOTE
from netbuilder.importers.common import GraphBuilder, ModelImportError, prod

MAX_BYTES = 1 << 30  # the engine trains small networks; a bigger file is not one of them
BATCH = "batch"  # a symbolic dimension: the batch size


class _Shape:
    """A shape vector known per entry: ints, or BATCH for the dynamic batch dimension."""

    def __init__(self, items, scalar=False):
        self.items = list(items)
        self.scalar = scalar


def _decimal(value) -> float:
    """A float32 attribute as the short decimal it was written from (0.2, not 0.2000000030)."""
    return float(str(np.float32(value)))


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def read_model(path):
    """The parsed ModelProto; ModelImportError (one line) for anything that is not one."""
    try:
        import onnx
    except ImportError:
        from netbuilder.export.onnx import MISSING_ONNX

        raise ModelImportError(MISSING_ONNX) from None
    source = str(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ModelImportError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise ModelImportError(f"{source}: is a folder, not an ONNX file") from None
    except OSError as exc:
        raise ModelImportError(f"{source}: cannot read it: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise ModelImportError(f"{source}: larger than {MAX_BYTES >> 30} GB; not a model to import")
    if not data:
        raise ModelImportError(f"{source}: the file is empty")
    try:
        model = onnx.load_from_string(data)
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ModelImportError(f"{source}: not an ONNX model ({reason})") from None
    if not model.HasField("graph") or not model.graph.node:
        raise ModelImportError(f"{source}: not an ONNX model (it holds no graph)")
    external = [
        t.name for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL
    ]
    if external:
        raise ModelImportError(
            f"{source}: the weights are kept in separate files ({', '.join(external[:3])}); "
            "save the model with its weights inside (onnx.save(..., save_as_external_data=False))"
        )
    return model


def _opset(model) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return entry.version
    return 1


def _module_path(node_name: str) -> str | None:
    """The module path in PyTorch's node names: '/features/features.0/Conv' -> 'features.0',
    '/blocks.0/conv1/Conv' -> 'blocks.0.conv1'; None for '/Relu' (no module)."""
    parts = [p for p in node_name.split("/") if p][:-1]
    path = ""
    for part in parts:
        path = part if not path or part.startswith(path + ".") else f"{path}.{part}"
    return path or None


def _name_hint(node, weight_name: str | None = None) -> str | None:
    """A block name for an ONNX node. Layers with weights: the state_dict path of the weights
    (`features.0`) or the module path in PyTorch's node names. Others keep a plain node name
    (NetBuilder's own export) and are otherwise numbered by type (relu1): PyTorch names a
    functional call after the module it runs in, which would mislead."""
    if weight_name is not None:
        m = re.fullmatch(r"([A-Za-z_][\w.]*)\.(weight|bias)", weight_name)
        if m:
            return m.group(1)
        if node.name.startswith("/"):
            return _module_path(node.name)
    return None if node.name.startswith("/") else (node.name or None)


class _Importer:
    def __init__(self, model, source: str):
        from onnx import numpy_helper

        self.model = model
        self.source = source
        self.opset = _opset(model)
        graph = model.graph
        try:
            self.consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        except Exception as exc:  # noqa: BLE001 - a tensor whose data does not match its shape
            reason = " ".join(str(exc).split())[:200]
            raise ModelImportError(f"{source}: a weight tensor is damaged ({reason})") from None
        name = graph.name if graph.name not in ("main_graph", "torch_jit", "") else "Net"
        self.b = GraphBuilder(name)
        self.values: dict[str, object] = {}  # value name -> node id | np.ndarray | _Shape
        self.uses: dict[str, int] = {}
        for node in graph.node:
            for v in node.input:
                self.uses[v] = self.uses.get(v, 0) + 1
        for out in graph.output:
            self.uses[out.name] = self.uses.get(out.name, 0) + 1
        self.unsupported: list[str] = []
        self.bias_free_linear: dict[str, str] = {}  # MatMul output value -> its Linear node

    # -- helpers ------------------------------------------------------------------------------
    def fail(self, node, what: str):
        raise ModelImportError(f"{self.source}: node {node.name or '?'} ({node.op_type}): {what}")

    def tensor(self, node, i=0) -> str:
        value = self.values.get(node.input[i]) if i < len(node.input) else None
        if not isinstance(value, str):
            self.fail(node, f"input {i} is not a tensor the network computes")
        return value

    def const(self, node, i, required=True):
        if i >= len(node.input) or not node.input[i]:
            if required:
                self.fail(node, f"input {i} is missing")
            return None
        value = self.values.get(node.input[i], self.consts.get(node.input[i]))
        if not isinstance(value, np.ndarray):
            self.fail(node, f"input {i} must be a constant (weights), not computed")
        return value

    def rank(self, nid: str) -> int:
        shape = self.b.shape(nid)
        if shape is None:
            return 0
        return len(shape) + 1

    def out(self, node, value) -> None:
        self.values[node.output[0]] = value

    def add(self, node, type_, params, sources, weight_name=None):
        nid = self.b.add(type_, params, sources, _name_hint(node, weight_name))
        self.out(node, nid)
        return nid

    # -- the walk -----------------------------------------------------------------------------
    def run(self):
        graph = self.model.graph
        inputs = [i for i in graph.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise ModelImportError(
                f"{self.source}: the model has {len(inputs)} inputs; NetBuilder networks have one"
            )
        if len(graph.output) != 1:
            raise ModelImportError(
                f"{self.source}: the model has {len(graph.output)} outputs; NetBuilder networks "
                "have one"
            )
        inp = inputs[0]
        dims = inp.type.tensor_type.shape.dim
        shape = [d.dim_value if d.HasField("dim_value") else None for d in dims][1:]
        if len(shape) not in (1, 3) or any(not d or d < 1 for d in shape):
            text = "x".join("?" if d is None else str(d) for d in shape) or "none"
            raise ModelImportError(
                f"{self.source}: input {inp.name} must be batch x C x H x W or batch x features "
                f"with known sizes (per sample it is {text})"
            )
        nid = self.b.add("Input", {"shape": list(shape)}, [], inp.name)
        self.values[inp.name] = nid
        for node in graph.node:
            handler = getattr(self, f"op_{node.op_type}", None)
            if node.domain not in ("", "ai.onnx") or handler is None:
                self.unsupported.append(f"{node.name or '?'} ({node.op_type})")
                continue
            try:
                handler(node)
            except ModelImportError:
                if self.unsupported:
                    continue  # downstream of an unsupported node: reported at its source
                raise
            except (IndexError, KeyError, ValueError, TypeError, AttributeError) as exc:
                if self.unsupported:
                    continue
                reason = " ".join(str(exc).split())[:200] or type(exc).__name__
                self.fail(node, f"malformed ({type(exc).__name__}: {reason})")
        if self.unsupported:
            raise ModelImportError(
                f"{self.source}: no block for these operators: {', '.join(self.unsupported)}; "
                "NetBuilder imports Conv, Gemm, MatMul+Add, Relu, LeakyRelu, Gelu, Sigmoid, Tanh, "
                "Softmax, LogSoftmax, MaxPool, AveragePool, GlobalAveragePool, ConvTranspose, "
                "Resize, BatchNormalization, LayerNormalization, Dropout, Flatten, Reshape, Add, "
                "Concat, Identity"
            )
        result = self.values.get(graph.output[0].name)
        if not isinstance(result, str) or result == nid:
            raise ModelImportError(
                f"{self.source}: the output {graph.output[0].name} is not computed by any block"
            )
        weights = dict(self.b.weights)
        built = self.b.finish(self.source)
        return built, weights

    # -- operators ----------------------------------------------------------------------------
    def op_Constant(self, node):
        from onnx import numpy_helper

        a = _attrs(node)
        if "value" in a:
            self.out(node, numpy_helper.to_array(a["value"]))
        elif "value_ints" in a:
            self.out(node, np.array(a["value_ints"], np.int64))
        elif "value_int" in a:
            self.out(node, np.array(a["value_int"], np.int64))
        elif "value_floats" in a:
            self.out(node, np.array(a["value_floats"], np.float32))
        elif "value_float" in a:
            self.out(node, np.array(a["value_float"], np.float32))
        else:
            self.fail(node, "a kind of constant NetBuilder does not read")

    def op_Identity(self, node):
        value = self.values.get(node.input[0], self.consts.get(node.input[0]))
        if node.doc_string == BLOCK_NOTE + "Identity" and isinstance(value, str):
            self.add(node, "Identity", {}, [value])  # a block someone placed, not a pass-on
            return
        self.values[node.output[0]] = value

    def op_Conv(self, node):
        a = _attrs(node)
        x = self.tensor(node)
        w = self.const(node, 1)
        bias = self.const(node, 2, required=False)
        if w.ndim != 4:
            self.fail(node, "only 2-D convolutions (Conv2d) have a block")
        kh, kw = a.get("kernel_shape", w.shape[2:])
        stride = tuple(a.get("strides", (1, 1)))
        dilation = tuple(a.get("dilations", (1, 1)))
        pads = list(a.get("pads", (0, 0, 0, 0)))
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        padding: object = (pads[0], pads[1])
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            if stride != (1, 1) or (auto == "SAME_LOWER" and (kh % 2 == 0 or kw % 2 == 0)):
                self.fail(node, "padding SAME works as a block only with stride 1")
            padding = "same"
        elif auto == "VALID":
            padding = 0
        elif pads[:2] != pads[2:]:
            self.fail(node, f"uneven padding {pads} has no Conv2d equivalent")
        groups = int(a.get("group", 1))
        hint = _name_hint(node, node.input[1])
        nid = self.b.add(
            "Conv2d",
            {
                "in_channels": int(w.shape[1]) * groups,
                "out_channels": int(w.shape[0]),
                "kernel_size": (int(kh), int(kw)),
                "stride": stride,
                "padding": padding,
                "dilation": dilation,
                "groups": groups,
                "bias": bias is not None,
            },
            [x],
            hint,
        )
        self.out(node, nid)
        name = self.b.name(nid)
        self.b.set_weight(f"{name}.weight", w.astype(np.float32))
        if bias is not None:
            self.b.set_weight(f"{name}.bias", bias.astype(np.float32).reshape(-1))

    def op_Gemm(self, node):
        a = _attrs(node)
        x = self.tensor(node)
        w = self.const(node, 1).astype(np.float32)
        c = self.const(node, 2, required=False)
        if a.get("transA", 0):
            self.fail(node, "a transposed input (transA) has no Linear equivalent")
        if not a.get("transB", 0):
            w = w.T
        w = w * np.float32(a.get("alpha", 1.0))
        self._linear(node, x, w, c, a.get("beta", 1.0), node.input[1])

    def _linear(self, node, x, w, bias, beta=1.0, weight_name=None):
        out_f, in_f = w.shape
        if bias is not None:
            bias = np.broadcast_to(np.asarray(bias, np.float32) * np.float32(beta), (out_f,))
        nid = self.b.add(
            "Linear",
            {"in_features": int(in_f), "out_features": int(out_f), "bias": bias is not None},
            [x],
            _name_hint(node, weight_name),
        )
        self.out(node, nid)
        name = self.b.name(nid)
        self.b.set_weight(f"{name}.weight", np.ascontiguousarray(w, np.float32))
        if bias is not None:
            self.b.set_weight(f"{name}.bias", bias.copy())
        return nid

    def op_MatMul(self, node):
        if node.doc_string == ADAPTIVE_NOTE:  # NetBuilder's uneven adaptive pooling
            left = self.values.get(node.input[0], self.consts.get(node.input[0]))
            if isinstance(left, np.ndarray):  # rows first: remember how many
                self.out(node, ("adaptive", self.tensor(node, 1), left.shape[0]))
                return
            if isinstance(left, tuple) and left[0] == "adaptive":
                cols = self.const(node, 1)
                self.add(
                    node, "AdaptiveAvgPool2d", {"output_size": (left[2], cols.shape[1])}, [left[1]]
                )
                return
        x = self.tensor(node)
        w = self.const(node, 1)
        if w.ndim != 2:
            self.fail(node, "only a product with a weight matrix (a Linear layer) has a block")
        nid = self._linear(node, x, w.T, None, weight_name=node.input[1])
        self.bias_free_linear[node.output[0]] = nid

    def _integer_constants(self, node):
        """The inputs when all are integer constants (shape arithmetic), else None."""
        parts = [self.values.get(v, self.consts.get(v)) for v in node.input]
        if all(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts):
            return parts
        return None

    def op_Add(self, node):
        ints = self._integer_constants(node)
        if ints is not None:  # PyTorch's unflatten works out its dims this way
            self.out(node, ints[0] + ints[1])
            return
        left, right = (self.values.get(v, self.consts.get(v)) for v in node.input[:2])
        if isinstance(left, str) and isinstance(right, str):
            self.add(node, "Add", {}, [left, right])
            return
        mm, const = (node.input[0], right) if isinstance(left, str) else (node.input[1], left)
        nid = self.bias_free_linear.get(mm)
        if nid is None or not isinstance(const, np.ndarray) or self.uses.get(mm, 0) != 1:
            self.fail(node, "adds a constant, which no block does (only a Linear's bias)")
        out_f = self.b.graph.nodes[nid].params["out_features"]
        if const.size != out_f:
            self.fail(node, f"the bias has {const.size} values for {out_f} features")
        self.b.set_param(nid, "bias", True)
        self.b.set_weight(f"{self.b.name(nid)}.bias", const.astype(np.float32).reshape(-1))
        del self.bias_free_linear[mm]
        self.out(node, nid)

    def _activation(self, node, type_, params=None):
        self.add(node, type_, params or {}, [self.tensor(node)])

    def op_Relu(self, node):
        self._activation(node, "ReLU")

    def op_LeakyRelu(self, node):
        self._activation(
            node, "LeakyReLU", {"negative_slope": _decimal(_attrs(node).get("alpha", 0.01))}
        )

    def op_Gelu(self, node):
        approx = _attrs(node).get("approximate", b"none")
        approx = approx.decode() if isinstance(approx, bytes) else approx
        self._activation(node, "GELU", {"approximate": approx})

    def op_Sigmoid(self, node):
        self._activation(node, "Sigmoid")

    def op_Tanh(self, node):
        self._activation(node, "Tanh")

    def _softmax(self, node, type_):
        x = self.tensor(node)
        rank = self.rank(x)
        default = -1 if self.opset >= 13 else 1
        axis = int(_attrs(node).get("axis", default))
        axis = axis + rank if axis < 0 else axis
        if self.opset < 13 and rank > 2 and axis != rank - 1:
            self.fail(node, "before opset 13 softmax flattened the trailing axes; no block does")
        if axis < 1:
            self.fail(node, "a softmax over the batch has no block")
        self.add(node, type_, {"dim": axis}, [x])

    def op_Softmax(self, node):
        self._softmax(node, "Softmax")

    def op_LogSoftmax(self, node):
        self._softmax(node, "LogSoftmax")

    def _pool(self, node, type_):
        a = _attrs(node)
        x = self.tensor(node)
        if len(node.output) > 1 and node.output[1] and self.uses.get(node.output[1]):
            self.fail(node, "the pooling indices are used, which no block gives")
        kernel = tuple(int(k) for k in a["kernel_shape"])
        if len(kernel) != 2:
            self.fail(node, "only 2-D pooling has a block")
        stride = tuple(int(s) for s in a.get("strides", (1, 1)))
        pads = list(a.get("pads", (0, 0, 0, 0)))
        auto = a.get("auto_pad", b"NOTSET")
        if (auto.decode() if isinstance(auto, bytes) else auto) not in ("NOTSET", "VALID"):
            self.fail(node, "automatic SAME padding has no pooling block equivalent")
        if pads[:2] != pads[2:]:
            self.fail(node, f"uneven padding {pads} has no pooling block equivalent")
        if any(d != 1 for d in a.get("dilations", (1, 1))):
            self.fail(node, "dilated pooling has no block")
        if type_ == "AvgPool2d" and any(pads) and not a.get("count_include_pad", 0):
            self.fail(node, "average pooling that leaves the padding out of the count has no block")
        params = {
            "kernel_size": kernel,
            "stride": None if stride == kernel else stride,
            "padding": (pads[0], pads[1]),
            "ceil_mode": bool(a.get("ceil_mode", 0)),
        }
        self.add(node, type_, params, [x])

    def op_MaxPool(self, node):
        self._pool(node, "MaxPool2d")

    def op_AveragePool(self, node):
        if node.doc_string == ADAPTIVE_NOTE:  # NetBuilder's even adaptive pooling
            x = self.tensor(node)
            _, h, w = self.b.shape(x)
            kh, kw = _attrs(node)["kernel_shape"]
            self.add(node, "AdaptiveAvgPool2d", {"output_size": (h // kh, w // kw)}, [x])
            return
        self._pool(node, "AvgPool2d")

    def op_GlobalAveragePool(self, node):
        self.add(node, "AdaptiveAvgPool2d", {"output_size": 1}, [self.tensor(node)])

    def op_BatchNormalization(self, node):
        a = _attrs(node)
        x = self.tensor(node)
        if len(node.output) > 1 and any(self.uses.get(o) for o in node.output[1:] if o):
            self.fail(node, "training-mode statistics outputs have no block")
        scale, shift, mean, var = (self.const(node, i) for i in range(1, 5))
        rank = self.rank(x)
        type_ = {2: "BatchNorm1d", 4: "BatchNorm2d"}.get(rank)
        if type_ is None:
            self.fail(node, "only batch norm over features or images has a block")
        affine = not node.input[1].endswith(".unit_scale")  # NetBuilder's export of affine=False
        nid = self.add(
            node,
            type_,
            {
                "num_features": int(mean.size),
                "eps": _decimal(a.get("epsilon", 1e-5)),
                "momentum": _decimal(1.0 - _decimal(a.get("momentum", 0.9))),
                "affine": affine,
            },
            [x],
            node.input[3].removesuffix(".running_mean") + ".weight",
        )
        name = self.b.name(nid)
        if affine:
            self.b.set_weight(f"{name}.weight", scale.astype(np.float32).reshape(-1))
            self.b.set_weight(f"{name}.bias", shift.astype(np.float32).reshape(-1))
        self.b.set_weight(f"{name}.running_mean", mean.astype(np.float32).reshape(-1))
        self.b.set_weight(f"{name}.running_var", var.astype(np.float32).reshape(-1))
        self.b.set_weight(f"{name}.num_batches_tracked", np.array(0, np.int64))

    def op_Dropout(self, node):
        x = self.tensor(node)
        ratio = _attrs(node).get("ratio", 0.5)
        if len(node.input) > 1 and node.input[1]:
            ratio = float(self.const(node, 1))
        type_ = "Dropout2d" if node.doc_string == BLOCK_NOTE + "Dropout2d" else "Dropout"
        if type_ == "Dropout2d" and self.rank(x) != 4:
            type_ = "Dropout"
        self.add(node, type_, {"p": _decimal(ratio)}, [x])

    def op_ConvTranspose(self, node):
        a = _attrs(node)
        x = self.tensor(node)
        w = self.const(node, 1)
        bias = self.const(node, 2, required=False)
        if w.ndim != 4:
            self.fail(node, "only 2-D transposed convolutions (ConvTranspose2d) have a block")
        if "output_shape" in a:
            self.fail(node, "an explicit output_shape has no ConvTranspose2d equivalent")
        auto = a.get("auto_pad", b"NOTSET")
        if (auto.decode() if isinstance(auto, bytes) else auto) not in ("NOTSET", "VALID"):
            self.fail(node, "automatic SAME padding has no ConvTranspose2d equivalent")
        pads = list(a.get("pads", (0, 0, 0, 0)))
        if pads[:2] != pads[2:]:
            self.fail(node, f"uneven padding {pads} has no ConvTranspose2d equivalent")
        groups = int(a.get("group", 1))
        kh, kw = a.get("kernel_shape", w.shape[2:])
        nid = self.b.add(
            "ConvTranspose2d",
            {
                "in_channels": int(w.shape[0]),
                "out_channels": int(w.shape[1]) * groups,
                "kernel_size": (int(kh), int(kw)),
                "stride": tuple(int(v) for v in a.get("strides", (1, 1))),
                "padding": (pads[0], pads[1]),
                "output_padding": tuple(int(v) for v in a.get("output_padding", (0, 0))),
                "dilation": tuple(int(v) for v in a.get("dilations", (1, 1))),
                "groups": groups,
                "bias": bias is not None,
            },
            [x],
            _name_hint(node, node.input[1]),
        )
        self.out(node, nid)
        name = self.b.name(nid)
        self.b.set_weight(f"{name}.weight", w.astype(np.float32))
        if bias is not None:
            self.b.set_weight(f"{name}.bias", bias.astype(np.float32).reshape(-1))

    def op_Resize(self, node):
        a = _attrs(node)
        x = self.tensor(node)
        shape = self.b.shape(x)
        if shape is None or len(shape) != 3:
            self.fail(node, "only resizing images (batch x C x H x W) has a block")
        text = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in a.items()}
        mode = text.get("mode", "nearest")
        coords = text.get("coordinate_transformation_mode", "half_pixel")
        if "axes" in a or text.get("antialias", 0):
            self.fail(node, "resizing chosen axes or with antialiasing has no block")
        scales = self.const(node, 2, required=False)
        sizes = self.const(node, 3, required=False)
        if scales is not None and scales.size:
            factors = [float(v) for v in scales.reshape(-1)]
        elif sizes is not None and sizes.size == 4:
            factors = [1.0, 1.0] + [int(o) / i for o, i in zip(sizes[2:], shape[1:])]
            if int(sizes[1]) != shape[0]:
                factors[1] = 0.0
        else:
            self.fail(node, "needs constant scales or sizes")
        if len(factors) != 4 or factors[:2] != [1.0, 1.0] or factors[2] != factors[3]:
            self.fail(node, f"scales {factors} must enlarge height and width alike")
        if mode == "nearest" and coords == "asymmetric" and text.get("nearest_mode") == "floor":
            params = {"mode": "nearest"}
        elif mode == "linear" and coords in ("pytorch_half_pixel", "half_pixel"):
            params = {"mode": "bilinear"}
        elif mode == "linear" and coords == "align_corners":
            params = {"mode": "bilinear", "align_corners": True}
        else:
            self.fail(node, f"{mode} resizing with {coords} coordinates has no Upsample equivalent")
        params["scale_factor"] = _decimal(factors[2])
        self.add(node, "Upsample", params, [x])

    def op_LayerNormalization(self, node):
        a = _attrs(node)
        x = self.tensor(node)
        shape = self.b.shape(x)
        if shape is None:
            self.fail(node, "the shape of its input is not known")
        rank = len(shape) + 1
        axis = int(a.get("axis", -1))
        axis = axis + rank if axis < 0 else axis
        if not 1 <= axis < rank:
            self.fail(node, "normalising over the batch has no block")
        if any(self.uses.get(o) for o in node.output[1:] if o):
            self.fail(node, "the mean and deviation outputs have no block")
        scale = self.const(node, 1)
        bias = self.const(node, 2, required=False)
        normalized = tuple(int(d) for d in shape[axis - 1 :])
        if len(normalized) not in (1, 3):
            self.fail(node, "LayerNorm normalises over the last dim or all of C x H x W only")
        # NetBuilder exports elementwise_affine=False with a constant unit scale and no bias
        affine = not node.input[1].endswith(".unit_scale")
        if not affine and bias is not None:
            affine = True
        nid = self.add(
            node,
            "LayerNorm",
            {
                "normalized_shape": normalized,
                "eps": _decimal(a.get("epsilon", 1e-5)),
                "elementwise_affine": affine,
            },
            [x],
            node.input[1],
        )
        if affine:
            name = self.b.name(nid)
            shift = np.zeros(normalized, np.float32) if bias is None else bias
            for key, value in (("weight", scale), ("bias", shift)):
                full = np.broadcast_to(value.astype(np.float32), normalized).copy()
                self.b.set_weight(f"{name}.{key}", full)

    def op_Flatten(self, node):
        x = self.tensor(node)
        rank = self.rank(x)
        axis = int(_attrs(node).get("axis", 1))
        if (axis + rank if axis < 0 else axis) != 1:
            self.fail(node, "only flattening everything but the batch has a block")
        if rank == 2:
            self.out(node, x)  # already flat
        else:
            self.add(node, "Flatten", {}, [x])

    def op_Concat(self, node):
        parts = [self.values.get(v, self.consts.get(v)) for v in node.input]
        if all(isinstance(p, str) for p in parts):
            rank = self.rank(parts[0])
            axis = int(_attrs(node).get("axis", 1))
            if (axis + rank if axis < 0 else axis) != 1:
                self.fail(node, "only joining along channels/features has a block")
            self.add(node, "Concat", {}, parts)
            return
        if all(isinstance(p, np.ndarray) and p.dtype.kind == "f" for p in parts):
            self.out(node, np.concatenate(parts, axis=int(_attrs(node).get("axis", 0))))
            return  # constant resize scales, written in two halves
        items = []
        for p in parts:  # shape arithmetic
            if isinstance(p, _Shape):
                items += p.items
            elif isinstance(p, np.ndarray) and p.dtype.kind in "iu":
                items += [int(v) for v in p.reshape(-1)]
            else:
                self.fail(node, "joins values that are neither tensors nor shapes")
        self.out(node, _Shape(items))

    # -- shape arithmetic, as PyTorch writes it for x.view(x.size(0), -1) ---------------------
    def op_Shape(self, node):
        x = self.tensor(node)
        shape = self.b.shape(x)
        if shape is None:
            self.fail(node, "the shape of its input is not known")
        items = [BATCH, *shape]
        a = _attrs(node)
        start, end = a.get("start", 0), a.get("end", len(items))
        self.out(node, _Shape(items[start:end]))

    def _shape_or_const(self, node, i):
        value = self.values.get(node.input[i], self.consts.get(node.input[i]))
        if isinstance(value, _Shape):
            return value
        if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
            return _Shape([int(v) for v in value.reshape(-1)], scalar=value.ndim == 0)
        self.fail(node, "works on a value that is not a shape")

    def op_Gather(self, node):
        if isinstance(self.values.get(node.input[0]), str):
            self.fail(node, "indexing into a tensor has no block")
        shape = self._shape_or_const(node, 0)
        index = self.const(node, 1)
        picked = [shape.items[int(i)] for i in index.reshape(-1)]
        self.out(node, _Shape(picked, scalar=index.ndim == 0))

    def op_Unsqueeze(self, node):
        if isinstance(self.values.get(node.input[0]), str):
            self.fail(node, "adding a dimension to a tensor has no block")
        shape = self._shape_or_const(node, 0)
        self.out(node, _Shape(shape.items))

    def op_Squeeze(self, node):
        if isinstance(self.values.get(node.input[0]), str):
            self.fail(node, "removing a dimension from a tensor has no block")
        shape = self._shape_or_const(node, 0)
        self.out(node, _Shape(shape.items, scalar=len(shape.items) == 1))

    def op_Cast(self, node):
        if isinstance(self.values.get(node.input[0]), str):
            self.out(node, self.values[node.input[0]])  # float stays float here
            return
        self.out(node, self._shape_or_const(node, 0))

    def op_Mod(self, node):
        ints = self._integer_constants(node)
        if ints is None:
            self.fail(node, "a remainder of tensors has no block")
        fmod = _attrs(node).get("fmod", 0)
        self.out(node, np.fmod(*ints) if fmod else np.mod(*ints))

    def op_Slice(self, node):
        if isinstance(self.values.get(node.input[0]), str):
            self.fail(node, "slicing a tensor has no block")
        shape = self._shape_or_const(node, 0)
        starts, ends = self.const(node, 1), self.const(node, 2)
        axes = self.const(node, 3, required=False)
        steps = self.const(node, 4, required=False)
        if axes is not None and [int(a) for a in axes.reshape(-1)] not in ([0], [-1]):
            self.fail(node, "works on a shape only along its one axis")
        step = 1 if steps is None else int(steps.reshape(-1)[0])
        start, end = int(starts.reshape(-1)[0]), int(ends.reshape(-1)[0])
        self.out(node, _Shape(shape.items[slice(start, end, step)]))

    def op_Reshape(self, node):
        ints = self._integer_constants(node)
        if ints is not None:
            self.out(node, ints[0].reshape([int(d) for d in ints[1].reshape(-1)]))
            return
        x = self.tensor(node)
        target = self._shape_or_const(node, 1).items
        shape = self.b.shape(x)
        if shape is None:
            self.fail(node, "the shape of its input is not known")
        features = prod(shape)
        batch_ok = (BATCH, 0, -1)
        if (
            len(target) == 2
            and target[0] in batch_ok
            and target[1] in (-1, features)
            and not (target[0] == -1 and target[1] == -1)
        ):
            if len(shape) == 1:
                self.out(node, x)
            else:
                self.add(node, "Flatten", {}, [x])
            return
        sizes = target[1:]
        if (
            len(shape) == 1
            and len(target) == 4
            and target[0] in batch_ok
            and all(isinstance(d, int) and d >= 1 for d in sizes)
            and prod(sizes) == features
        ):  # a feature vector into an image, each sample alone: Unflatten
            self.add(node, "Unflatten", {"unflattened_size": tuple(sizes)}, [x])
            return
        self.fail(
            node,
            f"reshaping {'x'.join(map(str, shape))} to {target} has no block (only flattening "
            "each sample to one vector does)",
        )


def import_onnx(path):
    """(graph, weights) from an .onnx file; ModelImportError says why it cannot be read."""
    model = read_model(path)
    return _Importer(model, str(Path(path))).run()
