"""Every block type, each described once (palette order)."""

from __future__ import annotations

import math

from engine._shapes import conv_output_size, pool_output_size
from netbuilder.blocks.spec import BlockError, BlockType, ParamSpec, Shape, fmt_shape, pair, py

# -- shared pieces ---------------------------------------------------------------------------


def _one(in_shapes: list[Shape]) -> Shape:
    return in_shapes[0]


def _need_image(label: str, shape: Shape, hint: str) -> None:
    if len(shape) != 3:
        raise BlockError(
            f"{label} needs an image-shaped input (C x H x W) but gets {fmt_shape(shape)} "
            f"features; {hint}"
        )


def _need_flat(label: str, shape: Shape, hint: str) -> None:
    if len(shape) != 1:
        raise BlockError(f"{label} needs flat features but gets {fmt_shape(shape)}; {hint}")


def _pinned(name: str, pinned: int | None, actual: int, unit: str) -> None:
    if pinned is not None and pinned != actual:
        raise BlockError(
            f"{name} is {pinned} but the input has {actual} {unit}; set {name} to {actual}, "
            f"or clear it to follow the input"
        )


def _kxk(value) -> str:
    h, w = pair(value)
    return f"{h}x{w}"


def _check_kernel(label: str, kernel, in_hw, pads, dilation=(1, 1)) -> None:
    kh, kw = pair(kernel)
    eff = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    avail = (in_hw[0] + pads[0], in_hw[1] + pads[1])
    if eff[0] > avail[0] or eff[1] > avail[1]:
        pad_note = f" (with padding {pads[0] // 2})" if any(pads) else ""
        raise BlockError(
            f"{label} kernel {eff[0]}x{eff[1]} is larger than its {in_hw[0]}x{in_hw[1]} "
            f"input{pad_note}; use a smaller kernel, add padding, or remove a pooling layer "
            f"before it"
        )


def _kwargs_if(**pairs):
    """Keyword arguments whose value differs from the default: name=(value, default)."""
    return {k: v for k, (v, d) in pairs.items() if v != d}


# -- Input -----------------------------------------------------------------------------------


def _input_shape(p, in_shapes):
    return p["shape"]


INPUT = BlockType(
    type="Input",
    label="Input",
    category="Input",
    description="The network's input: an image (channels x height x width) or a feature vector. "
    "Images smaller than this are padded to it when training.",
    params=(
        ParamSpec(
            "shape",
            "shape",
            (1, 28, 28),
            "Shape",
            "C x H x W for images (1 x 28 x 28 for MNIST), or a single number of features",
            min=1,
        ),
    ),
    inputs=0,
    outputs=1,
    name_prefix="input",
    icon="input.svg",
    shape_fn=_input_shape,
    count_fn=lambda p, s: 0,
    summary_fn=lambda p: fmt_shape(p["shape"]),
    expr_fn=lambda p, args, attr: "x",
)


# -- Conv2d ----------------------------------------------------------------------------------


def _conv_pads(p) -> tuple[int, int]:
    """Total padding added to (H, W)."""
    padding = p["padding"]
    if padding == "valid":
        return (0, 0)
    if padding == "same":
        kh, kw = pair(p["kernel_size"])
        dh, dw = pair(p["dilation"])
        return (dh * (kh - 1), dw * (kw - 1))
    ph, pw = pair(padding)
    return (2 * ph, 2 * pw)


def _conv_resolve(p, in_shapes):
    shape = in_shapes[0] if in_shapes else None
    if p["in_channels"] is None and shape is not None and len(shape) == 3:
        p["in_channels"] = shape[0]
    return p


def _conv_shape(p, in_shapes):
    x = _one(in_shapes)
    _need_image("Conv2d", x, "move it before the Flatten, or use Linear for flat features")
    c, h, w = x
    _pinned("in_channels", p["in_channels"], c, "channels")
    groups = p["groups"]
    if c % groups or p["out_channels"] % groups:
        raise BlockError(
            f"groups={groups} must divide both in_channels ({c}) and out_channels "
            f"({p['out_channels']}); set groups to a common divisor such as 1"
        )
    if p["padding"] == "same" and pair(p["stride"]) != (1, 1):
        raise BlockError(
            "padding 'same' works only with stride 1; set stride to 1 or pad by number"
        )
    pads = _conv_pads(p)
    _check_kernel("Conv2d", p["kernel_size"], (h, w), pads, pair(p["dilation"]))
    kh, kw = pair(p["kernel_size"])
    sh, sw = pair(p["stride"])
    dh, dw = pair(p["dilation"])
    return (
        p["out_channels"],
        conv_output_size(h, kh, sh, pads[0], 0, dh),
        conv_output_size(w, kw, sw, pads[1], 0, dw),
    )


def _conv_count(p, in_shapes):
    kh, kw = pair(p["kernel_size"])
    c_in = p["in_channels"] or 0
    return p["out_channels"] * (c_in // p["groups"]) * kh * kw + (
        p["out_channels"] if p["bias"] else 0
    )


def _conv_summary(p):
    text = f"{p['out_channels']}@{_kxk(p['kernel_size'])}"
    if pair(p["stride"]) != (1, 1):
        text += f" s{_short(p['stride'])}"
    if p["padding"] not in (0, (0, 0), "valid"):
        text += f" p{_short(p['padding'])}" if p["padding"] != "same" else " same"
    return text


def _short(value) -> str:
    if isinstance(value, tuple):
        return str(value[0]) if value[0] == value[1] else f"{value[0]}x{value[1]}"
    return str(value)


def _conv_ctor(p):
    kwargs = _kwargs_if(
        stride=(p["stride"], 1),
        padding=(p["padding"], 0),
        dilation=(p["dilation"], 1),
        groups=(p["groups"], 1),
        bias=(p["bias"], True),
    )
    return "Conv2d", [p["in_channels"], p["out_channels"], p["kernel_size"]], kwargs


CONV2D = BlockType(
    type="Conv2d",
    label="Conv2d",
    category="Layers",
    description="2-D convolution: slides out_channels learned kernels over the image.",
    params=(
        ParamSpec(
            "in_channels",
            "int",
            None,
            "In channels",
            "Channels of the incoming image; follows the input unless you set it",
            min=1,
            auto=True,
        ),
        ParamSpec(
            "out_channels", "int", 8, "Out channels", "Number of kernels (feature maps)", min=1
        ),
        ParamSpec("kernel_size", "pair", 3, "Kernel size", "Kernel height x width", min=1),
        ParamSpec("stride", "pair", 1, "Stride", "Step between kernel positions", min=1),
        ParamSpec(
            "padding",
            "padding",
            0,
            "Padding",
            "Zeros added on each side, or 'same' to keep the size (stride 1), 'valid' for none",
            min=0,
        ),
        ParamSpec("dilation", "pair", 1, "Dilation", "Spacing between kernel elements", min=1),
        ParamSpec(
            "groups", "int", 1, "Groups", "Split channels into groups (must divide both)", min=1
        ),
        ParamSpec("bias", "bool", True, "Bias", "Learn an additive bias per output channel"),
    ),
    inputs=1,
    outputs=1,
    name_prefix="conv",
    icon="conv2d.svg",
    shape_fn=_conv_shape,
    count_fn=_conv_count,
    resolve_fn=_conv_resolve,
    summary_fn=_conv_summary,
    ctor=_conv_ctor,
    expr_fn=lambda p, args, attr: f"self.{attr}({args[0]})",
    exported_module=True,
)


# -- ConvTranspose2d -------------------------------------------------------------------------


def _convT_shape(p, in_shapes):
    x = _one(in_shapes)
    _need_image("ConvTranspose2d", x, "move it before the Flatten, or add an Unflatten before it")
    c, h, w = x
    _pinned("in_channels", p["in_channels"], c, "channels")
    groups = p["groups"]
    if c % groups or p["out_channels"] % groups:
        raise BlockError(
            f"groups={groups} must divide both in_channels ({c}) and out_channels "
            f"({p['out_channels']}); set groups to a common divisor such as 1"
        )
    kh, kw = pair(p["kernel_size"])
    sh, sw = pair(p["stride"])
    ph, pw = pair(p["padding"])
    oph, opw = pair(p["output_padding"])
    dh, dw = pair(p["dilation"])
    if oph >= max(sh, dh) or opw >= max(sw, dw):
        raise BlockError(
            f"output_padding {_short(p['output_padding'])} must be smaller than the stride "
            f"({_short(p['stride'])}) or the dilation; lower it (0 or stride - 1)"
        )
    return (
        p["out_channels"],
        (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1,
        (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1,
    )


def _convT_count(p, in_shapes):
    kh, kw = pair(p["kernel_size"])
    c_in = p["in_channels"] or 0
    return c_in * (p["out_channels"] // p["groups"]) * kh * kw + (
        p["out_channels"] if p["bias"] else 0
    )


def _convT_ctor(p):
    kwargs = _kwargs_if(
        stride=(p["stride"], 1),
        padding=(p["padding"], 0),
        output_padding=(p["output_padding"], 0),
        groups=(p["groups"], 1),
        bias=(p["bias"], True),
        dilation=(p["dilation"], 1),
    )
    return "ConvTranspose2d", [p["in_channels"], p["out_channels"], p["kernel_size"]], kwargs


def _convT_summary(p):
    text = f"{p['out_channels']}@{_kxk(p['kernel_size'])}"
    if pair(p["stride"]) != (1, 1):
        text += f" s{_short(p['stride'])}"
    if p["padding"] not in (0, (0, 0)):
        text += f" p{_short(p['padding'])}"
    return text


CONVTRANSPOSE2D = BlockType(
    type="ConvTranspose2d",
    label="ConvTranspose2d",
    category="Layers",
    description="Transposed convolution: a learned upsampling that spreads each input pixel "
    "over a kernel-sized patch (stride 2 doubles height and width). Decoders and GANs use it.",
    params=(
        ParamSpec(
            "in_channels",
            "int",
            None,
            "In channels",
            "Channels of the incoming image; follows the input unless you set it",
            min=1,
            auto=True,
        ),
        ParamSpec("out_channels", "int", 8, "Out channels", "Number of output feature maps", min=1),
        ParamSpec("kernel_size", "pair", 2, "Kernel size", "Kernel height x width", min=1),
        ParamSpec("stride", "pair", 2, "Stride", "Upsampling factor: 2 doubles the size", min=1),
        ParamSpec(
            "padding", "pair", 0, "Padding", "Rows/columns trimmed from each output edge", min=0
        ),
        ParamSpec(
            "output_padding",
            "pair",
            0,
            "Output padding",
            "Extra rows/columns added on one side, to reach an exact size (below the stride)",
            min=0,
        ),
        ParamSpec("dilation", "pair", 1, "Dilation", "Spacing between kernel elements", min=1),
        ParamSpec(
            "groups", "int", 1, "Groups", "Split channels into groups (must divide both)", min=1
        ),
        ParamSpec("bias", "bool", True, "Bias", "Learn an additive bias per output channel"),
    ),
    inputs=1,
    outputs=1,
    name_prefix="deconv",
    icon="convtranspose2d.svg",
    shape_fn=_convT_shape,
    count_fn=_convT_count,
    resolve_fn=_conv_resolve,
    summary_fn=_convT_summary,
    ctor=_convT_ctor,
    expr_fn=lambda p, args, attr: f"self.{attr}({args[0]})",
    exported_module=True,
)


# -- Linear ----------------------------------------------------------------------------------


def _linear_resolve(p, in_shapes):
    shape = in_shapes[0] if in_shapes else None
    if p["in_features"] is None and shape is not None and len(shape) == 1:
        p["in_features"] = shape[0]
    return p


def _linear_shape(p, in_shapes):
    x = _one(in_shapes)
    _need_flat("Linear", x, "insert a Flatten block before it")
    _pinned("in_features", p["in_features"], x[0], "features")
    return (p["out_features"],)


LINEAR = BlockType(
    type="Linear",
    label="Linear",
    category="Layers",
    description="Fully connected layer: every output feature is a weighted sum of all inputs.",
    params=(
        ParamSpec(
            "in_features",
            "int",
            None,
            "In features",
            "Size of the incoming feature vector; follows the input unless you set it",
            min=1,
            auto=True,
        ),
        ParamSpec("out_features", "int", 10, "Out features", "Size of the output vector", min=1),
        ParamSpec("bias", "bool", True, "Bias", "Learn an additive bias per output feature"),
    ),
    inputs=1,
    outputs=1,
    name_prefix="fc",
    icon="linear.svg",
    shape_fn=_linear_shape,
    count_fn=lambda p, s: (
        (p["in_features"] or 0) * p["out_features"] + (p["out_features"] if p["bias"] else 0)
    ),
    resolve_fn=_linear_resolve,
    summary_fn=lambda p: f"{p['out_features']}",
    ctor=lambda p: (
        "Linear",
        [p["in_features"], p["out_features"]],
        _kwargs_if(bias=(p["bias"], True)),
    ),
    expr_fn=lambda p, args, attr: f"self.{attr}({args[0]})",
    exported_module=True,
)


# -- pooling ---------------------------------------------------------------------------------


def _pool_common_shape(label, p, in_shapes, dilation=(1, 1)):
    x = _one(in_shapes)
    _need_image(label, x, "move it before the Flatten")
    c, h, w = x
    kh, kw = pair(p["kernel_size"])
    sh, sw = pair(p["stride"] if p["stride"] is not None else p["kernel_size"])
    ph, pw = pair(p["padding"])
    if ph > kh // 2 or pw > kw // 2:
        raise BlockError(
            f"padding {_short(p['padding'])} is more than half the kernel "
            f"{_kxk(p['kernel_size'])}; lower the padding to at most {kh // 2}"
        )
    out = (
        c,
        pool_output_size(h, kh, sh, ph, dilation[0], p["ceil_mode"]),
        pool_output_size(w, kw, sw, pw, dilation[1], p["ceil_mode"]),
    )
    # ceil mode keeps a partial window, so a kernel may overhang a small input (as in PyTorch)
    if not p["ceil_mode"] or min(out) < 1:
        _check_kernel(label, p["kernel_size"], (h, w), (2 * ph, 2 * pw), dilation)
    return out


def _pool_params(default_kernel=2):
    return (
        ParamSpec(
            "kernel_size", "pair", default_kernel, "Kernel size", "Window height x width", min=1
        ),
        ParamSpec(
            "stride",
            "pair",
            None,
            "Stride",
            "Step between windows; empty means the kernel size (no overlap)",
            min=1,
            optional=True,
        ),
        ParamSpec("padding", "pair", 0, "Padding", "Implicit padding on each side", min=0),
        ParamSpec(
            "ceil_mode",
            "bool",
            False,
            "Ceil mode",
            "Round the output size up, keeping a partial last window",
        ),
    )


def _pool_summary(p):
    text = _kxk(p["kernel_size"])
    if p["stride"] is not None and pair(p["stride"]) != pair(p["kernel_size"]):
        text += f" s{_short(p['stride'])}"
    if p["padding"] not in (0, (0, 0)):
        text += f" p{_short(p['padding'])}"
    return text


def _pool_kwargs(p):
    stride = p["stride"]
    if stride is not None and pair(stride) == pair(p["kernel_size"]):
        stride = None
    return _kwargs_if(
        stride=(stride, None), padding=(p["padding"], 0), ceil_mode=(p["ceil_mode"], False)
    )


def _pool_expr(fn):
    def expr(p, args, attr):
        parts = [args[0], py(p["kernel_size"])]
        parts += [f"{k}={py(v)}" for k, v in _pool_kwargs(p).items()]
        return f"F.{fn}({', '.join(parts)})"

    return expr


def _pool_block(type_, description, name_prefix, functional):
    return BlockType(
        type=type_,
        label=type_,
        category="Pooling",
        description=description,
        params=_pool_params(),
        inputs=1,
        outputs=1,
        name_prefix=name_prefix,
        icon=f"{type_.lower()}.svg",
        shape_fn=lambda p, s: _pool_common_shape(type_, p, s),
        count_fn=lambda p, s: 0,
        summary_fn=_pool_summary,
        ctor=lambda p: (type_, [p["kernel_size"]], _pool_kwargs(p)),
        expr_fn=_pool_expr(functional),
        fold=True,
    )


MAXPOOL2D = _pool_block(
    "MaxPool2d",
    "Keeps the largest value in each window, shrinking height and width.",
    "pool",
    "max_pool2d",
)

AVGPOOL2D = _pool_block(
    "AvgPool2d", "Averages each window, shrinking height and width.", "avgpool", "avg_pool2d"
)


def _adaptive_shape(p, in_shapes):
    x = _one(in_shapes)
    _need_image("AdaptiveAvgPool2d", x, "move it before the Flatten")
    oh, ow = pair(p["output_size"])
    return (x[0], oh, ow)


ADAPTIVEAVGPOOL2D = BlockType(
    type="AdaptiveAvgPool2d",
    label="AdaptiveAvgPool2d",
    category="Pooling",
    description="Averages each channel down to a fixed height x width, whatever the input size "
    "(1 gives global average pooling).",
    params=(ParamSpec("output_size", "pair", 1, "Output size", "Output height x width", min=1),),
    inputs=1,
    outputs=1,
    name_prefix="gap",
    icon="adaptiveavgpool2d.svg",
    shape_fn=_adaptive_shape,
    count_fn=lambda p, s: 0,
    summary_fn=lambda p: _kxk(p["output_size"]),
    ctor=lambda p: ("AdaptiveAvgPool2d", [p["output_size"]], {}),
    expr_fn=lambda p, args, attr: f"F.adaptive_avg_pool2d({args[0]}, {py(p['output_size'])})",
    fold=True,
)


def _upsample_shape(p, in_shapes):
    x = _one(in_shapes)
    _need_image("Upsample", x, "move it before the Flatten")
    c, h, w = x
    return (c, math.floor(h * p["scale_factor"]), math.floor(w * p["scale_factor"]))


def _upsample_kwargs(p):
    kwargs = {"scale_factor": p["scale_factor"], "mode": p["mode"]}
    if p["mode"] == "bilinear" and p["align_corners"]:
        kwargs["align_corners"] = True
    return kwargs


def _upsample_expr(p, args, attr):
    kwargs = ", ".join(f"{k}={py(v)}" for k, v in _upsample_kwargs(p).items())
    return f"F.interpolate({args[0]}, {kwargs})"


UPSAMPLE = BlockType(
    type="Upsample",
    label="Upsample",
    category="Pooling",
    description="Enlarges height and width by a factor, copying the nearest pixel or blending "
    "neighbours (bilinear); no learned weights.",
    params=(
        ParamSpec(
            "scale_factor",
            "float",
            2.0,
            "Scale factor",
            "Output size = input size x this, rounded down",
            min=0.01,
            max=64.0,
        ),
        ParamSpec(
            "mode",
            "choice",
            "nearest",
            "Mode",
            "'nearest' repeats pixels; 'bilinear' blends the four nearest",
            choices=("nearest", "bilinear"),
        ),
        ParamSpec(
            "align_corners",
            "bool",
            False,
            "Align corners",
            "Bilinear only: map the corner pixels of input and output onto each other",
        ),
    ),
    inputs=1,
    outputs=1,
    name_prefix="up",
    icon="upsample.svg",
    shape_fn=_upsample_shape,
    count_fn=lambda p, s: 0,
    summary_fn=lambda p: f"x{p['scale_factor']:g} {p['mode']}",
    ctor=lambda p: ("Upsample", [], _upsample_kwargs(p)),
    expr_fn=_upsample_expr,
    fold=True,
)


# -- activations -----------------------------------------------------------------------------


def _activation(type_, description, icon, ctor, expr, params=(), summary=None, prefix=None):
    return BlockType(
        type=type_,
        label=type_,
        category="Activations",
        description=description,
        params=params,
        inputs=1,
        outputs=1,
        name_prefix=prefix or type_.lower(),
        icon=icon,
        shape_fn=lambda p, s: _one(s),
        count_fn=lambda p, s: 0,
        summary_fn=summary,
        ctor=ctor,
        expr_fn=expr,
        fold=True,
    )


RELU = _activation(
    "ReLU",
    "max(0, x): the usual activation after a Conv2d or Linear.",
    "relu.svg",
    lambda p: ("ReLU", [], {}),
    lambda p, args, attr: f"F.relu({args[0]})",
)

LEAKYRELU = _activation(
    "LeakyReLU",
    "Like ReLU, but negative inputs keep a small slope.",
    "leakyrelu.svg",
    lambda p: ("LeakyReLU", [p["negative_slope"]], {}),
    lambda p, args, attr: f"F.leaky_relu({args[0]}, {py(p['negative_slope'])})",
    params=(
        ParamSpec(
            "negative_slope", "float", 0.01, "Negative slope", "Slope for x < 0", min=0.0, max=1.0
        ),
    ),
    summary=lambda p: f"{p['negative_slope']:g}",
    prefix="lrelu",
)

GELU = _activation(
    "GELU",
    "Gaussian error linear unit, the smooth ReLU used in transformers.",
    "gelu.svg",
    lambda p: ("GELU", [], _kwargs_if(approximate=(p["approximate"], "none"))),
    lambda p, args, attr: (
        f"F.gelu({args[0]})"
        if p["approximate"] == "none"
        else f"F.gelu({args[0]}, approximate={py(p['approximate'])})"
    ),
    params=(
        ParamSpec(
            "approximate",
            "choice",
            "none",
            "Approximation",
            "'none' for the exact form, 'tanh' for the faster approximation",
            choices=("none", "tanh"),
        ),
    ),
    summary=lambda p: "" if p["approximate"] == "none" else p["approximate"],
)

SIGMOID = _activation(
    "Sigmoid",
    "1 / (1 + exp(-x)): squashes to (0, 1).",
    "sigmoid.svg",
    lambda p: ("Sigmoid", [], {}),
    lambda p, args, attr: f"torch.sigmoid({args[0]})",
)

TANH = _activation(
    "Tanh",
    "tanh(x): squashes to (-1, 1).",
    "tanh.svg",
    lambda p: ("Tanh", [], {}),
    lambda p, args, attr: f"torch.tanh({args[0]})",
)


def _softmax_shape(p, in_shapes):
    x = _one(in_shapes)
    if p["dim"] > len(x):
        raise BlockError(
            f"dim {p['dim']} does not exist in a {fmt_shape(x)} input (dims 1..{len(x)}, "
            f"0 being the batch); set dim to 1 for classes/channels"
        )
    return x


def _softmax_block(type_, description, functional):
    return BlockType(
        type=type_,
        label=type_,
        category="Activations",
        description=description,
        params=(
            ParamSpec(
                "dim",
                "int",
                1,
                "Dimension",
                "Dimension to normalise, counting the batch as 0 (1 = classes or channels)",
                min=1,
            ),
        ),
        inputs=1,
        outputs=1,
        name_prefix=type_.lower(),
        icon=f"{type_.lower()}.svg",
        shape_fn=_softmax_shape,
        count_fn=lambda p, s: 0,
        summary_fn=lambda p: f"dim={p['dim']}",
        ctor=lambda p: (type_, [], {"dim": p["dim"]}),
        expr_fn=lambda p, args, attr: f"F.{functional}({args[0]}, dim={p['dim']})",
        fold=True,
    )


SOFTMAX = _softmax_block(
    "Softmax",
    "Turns scores into probabilities that sum to 1 along one dimension. Usually left "
    "out before a cross-entropy loss, which applies it itself.",
    "softmax",
)

LOGSOFTMAX = _softmax_block(
    "LogSoftmax",
    "The log of Softmax, computed stably: the output to pair with the NLL loss "
    "(LogSoftmax + NLL is cross-entropy).",
    "log_softmax",
)


# -- normalisation and regularisation --------------------------------------------------------


def _bn(type_, rank_ok, rank_hint):
    def resolve(p, in_shapes):
        shape = in_shapes[0] if in_shapes else None
        if p["num_features"] is None and shape is not None and rank_ok(shape):
            p["num_features"] = shape[0]
        return p

    def shape_fn(p, in_shapes):
        x = _one(in_shapes)
        if not rank_ok(x):
            raise BlockError(f"{type_} {rank_hint(x)}")
        _pinned("num_features", p["num_features"], x[0], "channels" if len(x) == 3 else "features")
        return x

    return BlockType(
        type=type_,
        label=type_,
        category="Normalization",
        description="Normalises each channel over the batch, then scales and shifts it "
        "(learned); keeps running statistics for evaluation.",
        params=(
            ParamSpec(
                "num_features",
                "int",
                None,
                "Features",
                "Channels (or features) of the input; follows the input unless you set it",
                min=1,
                auto=True,
            ),
            ParamSpec(
                "eps", "float", 1e-5, "Epsilon", "Added to the variance for stability", min=0.0
            ),
            ParamSpec(
                "momentum",
                "float",
                0.1,
                "Momentum",
                "Weight of the newest batch in the running statistics",
                min=0.0,
                max=1.0,
            ),
            ParamSpec("affine", "bool", True, "Affine", "Learn a scale and shift per channel"),
        ),
        inputs=1,
        outputs=1,
        name_prefix="bn",
        icon=f"{type_.lower()}.svg",
        shape_fn=shape_fn,
        count_fn=lambda p, s: 2 * (p["num_features"] or 0) if p["affine"] else 0,
        resolve_fn=resolve,
        summary_fn=lambda p: "auto" if p["num_features"] is None else str(p["num_features"]),
        ctor=lambda p: (
            type_,
            [p["num_features"]],
            _kwargs_if(
                eps=(p["eps"], 1e-5), momentum=(p["momentum"], 0.1), affine=(p["affine"], True)
            ),
        ),
        expr_fn=lambda p, args, attr: f"self.{attr}({args[0]})",
        fold=True,
        exported_module=True,
    )


BATCHNORM1D = _bn(
    "BatchNorm1d",
    lambda s: len(s) == 1,
    lambda s: f"needs flat features but gets {fmt_shape(s)}; use BatchNorm2d here",
)
BATCHNORM2D = _bn(
    "BatchNorm2d",
    lambda s: len(s) == 3,
    lambda s: f"needs C x H x W but gets {fmt_shape(s)} features; use BatchNorm1d here",
)

DROPOUT = BlockType(
    type="Dropout",
    label="Dropout",
    category="Normalization",
    description="While training, zeroes each value with probability p (and scales the rest); "
    "does nothing when evaluating.",
    params=(
        ParamSpec(
            "p", "float", 0.5, "Probability", "Chance of zeroing each value", min=0.0, max=1.0
        ),
    ),
    inputs=1,
    outputs=1,
    name_prefix="dropout",
    icon="dropout.svg",
    shape_fn=lambda p, s: _one(s),
    count_fn=lambda p, s: 0,
    summary_fn=lambda p: f"p={p['p']:g}",
    ctor=lambda p: ("Dropout", [p["p"]], {}),
    expr_fn=lambda p, args, attr: f"self.{attr}({args[0]})",
    fold=True,
    exported_module=True,
)


def _layernorm_resolve(p, in_shapes):
    if p["normalized_shape"] is None and in_shapes:
        p["normalized_shape"] = tuple(in_shapes[0])
    return p


def _layernorm_shape(p, in_shapes):
    x = _one(in_shapes)
    shape = p["normalized_shape"]
    if tuple(x[len(x) - len(shape) :]) != tuple(shape) or len(shape) > len(x):
        raise BlockError(
            f"normalized_shape {fmt_shape(shape)} must be the last dims of the input "
            f"{fmt_shape(x)}; set it to {fmt_shape(x)} (or {x[-1]}), or clear it to follow "
            f"the input"
        )
    return x


def _layernorm_ctor(p):
    shape = p["normalized_shape"]
    kwargs = _kwargs_if(eps=(p["eps"], 1e-5), elementwise_affine=(p["elementwise_affine"], True))
    return "LayerNorm", [shape[0] if len(shape) == 1 else list(shape)], kwargs


LAYERNORM = BlockType(
    type="LayerNorm",
    label="LayerNorm",
    category="Normalization",
    description="Normalises each sample on its own over its last dims (by default the whole "
    "sample), then scales and shifts; independent of the batch size.",
    params=(
        ParamSpec(
            "normalized_shape",
            "shape",
            None,
            "Normalized shape",
            "The trailing dims to normalise over (C x H x W or one number for the last dim); "
            "follows the whole input unless you set it",
            min=1,
            auto=True,
        ),
        ParamSpec("eps", "float", 1e-5, "Epsilon", "Added to the variance for stability", min=0.0),
        ParamSpec(
            "elementwise_affine",
            "bool",
            True,
            "Affine",
            "Learn a scale and shift per normalised element",
        ),
    ),
    inputs=1,
    outputs=1,
    name_prefix="ln",
    icon="layernorm.svg",
    shape_fn=_layernorm_shape,
    count_fn=lambda p, s: (
        2 * math.prod(p["normalized_shape"])
        if p["elementwise_affine"] and p["normalized_shape"]
        else 0
    ),
    resolve_fn=_layernorm_resolve,
    summary_fn=lambda p: (
        "auto" if p["normalized_shape"] is None else fmt_shape(p["normalized_shape"])
    ),
    ctor=_layernorm_ctor,
    expr_fn=lambda p, args, attr: f"self.{attr}({args[0]})",
    fold=True,
    exported_module=True,
)


def _dropout2d_shape(p, in_shapes):
    x = _one(in_shapes)
    _need_image("Dropout2d", x, "use Dropout for flat features")
    return x


DROPOUT2D = BlockType(
    type="Dropout2d",
    label="Dropout2d",
    category="Normalization",
    description="While training, zeroes whole channels (feature maps) with probability p and "
    "scales the rest; does nothing when evaluating. For convolutional features.",
    params=(
        ParamSpec(
            "p", "float", 0.5, "Probability", "Chance of zeroing each channel", min=0.0, max=1.0
        ),
    ),
    inputs=1,
    outputs=1,
    name_prefix="drop2d",
    icon="dropout2d.svg",
    shape_fn=_dropout2d_shape,
    count_fn=lambda p, s: 0,
    summary_fn=lambda p: f"p={p['p']:g}",
    ctor=lambda p: ("Dropout2d", [p["p"]], {}),
    expr_fn=lambda p, args, attr: f"self.{attr}({args[0]})",
    fold=True,
    exported_module=True,
)


# -- structure -------------------------------------------------------------------------------

FLATTEN = BlockType(
    type="Flatten",
    label="Flatten",
    category="Structure",
    description="Flattens C x H x W into one feature vector, for Linear layers.",
    params=(),
    inputs=1,
    outputs=1,
    name_prefix="flatten",
    icon="flatten.svg",
    shape_fn=lambda p, s: (math.prod(_one(s)),),
    count_fn=lambda p, s: 0,
    summary_fn=lambda p: "",
    ctor=lambda p: ("Flatten", [], {}),
    expr_fn=lambda p, args, attr: f"torch.flatten({args[0]}, 1)",
)


def _unflatten_shape(p, in_shapes):
    x = _one(in_shapes)
    _need_flat("Unflatten", x, "Unflatten turns a feature vector into C x H x W")
    size = p["unflattened_size"]
    if math.prod(size) != x[0]:
        raise BlockError(
            f"Unflatten to {fmt_shape(size)} needs {math.prod(size)} features but gets {x[0]}; "
            f"choose sizes whose product is {x[0]}"
        )
    return tuple(size)


UNFLATTEN = BlockType(
    type="Unflatten",
    label="Unflatten",
    category="Structure",
    description="Reshapes a feature vector into C x H x W, the inverse of Flatten (for "
    "decoders that grow an image from features).",
    params=(
        ParamSpec(
            "unflattened_size",
            "shape",
            (1, 28, 28),
            "Shape",
            "C x H x W; the product must equal the number of input features",
            min=1,
        ),
    ),
    inputs=1,
    outputs=1,
    name_prefix="unflatten",
    icon="unflatten.svg",
    shape_fn=_unflatten_shape,
    count_fn=lambda p, s: 0,
    summary_fn=lambda p: fmt_shape(p["unflattened_size"]),
    ctor=lambda p: ("Unflatten", [1, tuple(p["unflattened_size"])], {}),
    expr_fn=lambda p, args, attr: f"{args[0]}.unflatten(1, {py(tuple(p['unflattened_size']))})",
    fold=True,
)

IDENTITY = BlockType(
    type="Identity",
    label="Identity",
    category="Structure",
    description="Passes its input through unchanged: a placeholder, or the shortcut branch of "
    "a residual block.",
    params=(),
    inputs=1,
    outputs=1,
    name_prefix="identity",
    icon="identity.svg",
    shape_fn=lambda p, s: _one(s),
    count_fn=lambda p, s: 0,
    summary_fn=lambda p: "",
    ctor=lambda p: ("Identity", [], {}),
    expr_fn=lambda p, args, attr: args[0],
    fold=True,
)


def _shortcut_out(p, c):
    return c if p["out_channels"] is None else p["out_channels"]


def _shortcut_projects(p, c) -> bool:
    return p["stride"] != 1 or _shortcut_out(p, c) != c


def _shortcut_shape(p, in_shapes):
    x = _one(in_shapes)
    _need_image("Shortcut", x, "a shortcut joins convolutional features")
    c, h, w = x
    _pinned("in_channels", p["in_channels"], c, "channels")
    s = p["stride"]
    return (
        _shortcut_out(p, c),
        conv_output_size(h, 1, s, 0, 0, 1),
        conv_output_size(w, 1, s, 0, 0, 1),
    )


def _shortcut_count(p, in_shapes):
    c = p["in_channels"]
    if c is None or not _shortcut_projects(p, c):
        return 0
    out = _shortcut_out(p, c)
    return c * out + 2 * out


def _shortcut_build(p, nn):
    c = p["in_channels"]
    if not _shortcut_projects(p, c):
        return nn.Identity()
    out = _shortcut_out(p, c)
    return nn.Sequential(nn.Conv2d(c, out, 1, stride=p["stride"], bias=False), nn.BatchNorm2d(out))


def _shortcut_init(p, attr):
    """Concrete values pick the module; a composite's class argument (which prints as its
    name) writes the choice into the class, as torchvision's BasicBlock does."""
    c, out, s = p["in_channels"], p["out_channels"], p["stride"]
    out = c if out is None else out
    projection = [
        f"self.{attr} = nn.Sequential(",
        f"    nn.Conv2d({py(c)}, {py(out)}, 1, stride={py(s)}, bias=False),",
        f"    nn.BatchNorm2d({py(out)}),",
        ")",
    ]
    if all(isinstance(v, int) for v in (c, out, s)):
        return projection if (s != 1 or out != c) else [f"self.{attr} = nn.Identity()"]
    return [
        f"self.{attr} = nn.Identity()",
        f"if {py(s)} != 1 or {py(c)} != {py(out)}:",
        *(f"    {line}" for line in projection),
    ]


SHORTCUT = BlockType(
    type="Shortcut",
    label="Shortcut",
    category="Structure",
    description="The skip branch of a residual block: passes the input through unchanged, "
    "or, when the channels or the stride change, projects it with a 1x1 convolution and "
    "batch norm so it matches the main branch (torchvision's downsample).",
    params=(
        ParamSpec(
            "in_channels",
            "int",
            None,
            "In channels",
            "Channels of the incoming image; follows the input unless you set it",
            min=1,
            auto=True,
        ),
        ParamSpec(
            "out_channels",
            "int",
            None,
            "Out channels",
            "Channels to match; empty keeps the input's (then stride 1 passes it through)",
            min=1,
            optional=True,
        ),
        ParamSpec(
            "stride", "int", 1, "Stride", "Step of the projection, as the main branch's", min=1
        ),
    ),
    inputs=1,
    outputs=1,
    name_prefix="shortcut",
    icon="shortcut.svg",
    shape_fn=_shortcut_shape,
    count_fn=_shortcut_count,
    resolve_fn=_conv_resolve,
    summary_fn=lambda p: (
        ("" if p["out_channels"] is None else f"{p['out_channels']}")
        + (f" s{p['stride']}" if p["stride"] != 1 else "")
    ).strip(),
    expr_fn=lambda p, args, attr: f"self.{attr}({args[0]})",
    fold=True,
    exported_module=True,
    build_fn=_shortcut_build,
    init_fn=_shortcut_init,
)


def _add_shape(p, in_shapes):
    a, b = in_shapes
    if a != b:
        raise BlockError(
            f"Add needs two inputs of the same shape but gets {fmt_shape(a)} and {fmt_shape(b)}; "
            f"change one branch (e.g. its out_channels, stride or padding) so both match"
        )
    return a


ADD = BlockType(
    type="Add",
    label="Add",
    category="Structure",
    description="Element-wise sum of two inputs of the same shape: a residual (skip) connection.",
    params=(),
    inputs=2,
    outputs=1,
    name_prefix="add",
    icon="add.svg",
    shape_fn=_add_shape,
    count_fn=lambda p, s: 0,
    summary_fn=lambda p: "",
    expr_fn=lambda p, args, attr: " + ".join(args),
    min_inputs=2,
)


def _concat_shape(p, in_shapes):
    first = in_shapes[0]
    for other in in_shapes[1:]:
        if len(other) != len(first) or other[1:] != first[1:]:
            what = "height x width" if len(first) == 3 else "rank"
            raise BlockError(
                f"Concat joins along channels, so every other size must match, but gets "
                f"{' and '.join(fmt_shape(s) for s in in_shapes)}; make the inputs' {what} equal"
            )
    return (sum(s[0] for s in in_shapes), *first[1:])


CONCAT = BlockType(
    type="Concat",
    label="Concat",
    category="Structure",
    description="Joins two or more inputs along the channel (or feature) dimension.",
    params=(),
    inputs=-1,
    outputs=1,
    name_prefix="cat",
    icon="concat.svg",
    shape_fn=_concat_shape,
    count_fn=lambda p, s: 0,
    summary_fn=lambda p: "",
    expr_fn=lambda p, args, attr: f"torch.cat([{', '.join(args)}], 1)",
    min_inputs=2,
)


CATALOGUE: dict[str, BlockType] = {
    b.type: b
    for b in (
        INPUT,
        CONV2D,
        CONVTRANSPOSE2D,
        LINEAR,
        MAXPOOL2D,
        AVGPOOL2D,
        ADAPTIVEAVGPOOL2D,
        UPSAMPLE,
        RELU,
        LEAKYRELU,
        GELU,
        SIGMOID,
        TANH,
        SOFTMAX,
        LOGSOFTMAX,
        BATCHNORM1D,
        BATCHNORM2D,
        LAYERNORM,
        DROPOUT,
        DROPOUT2D,
        FLATTEN,
        UNFLATTEN,
        IDENTITY,
        SHORTCUT,
        ADD,
        CONCAT,
    )
}
for _b in CATALOGUE.values():
    if _b.inputs == 1:
        object.__setattr__(_b, "min_inputs", 1)


def get_block(type_: str) -> BlockType:
    try:
        return CATALOGUE[type_]
    except KeyError:
        known = ", ".join(CATALOGUE)
        raise BlockError(f"unknown block type {type_!r}; known types: {known}") from None


def categories() -> list[tuple[str, list[BlockType]]]:
    """[(category, [BlockType, ...])] in palette order."""
    out: dict[str, list[BlockType]] = {}
    for block in CATALOGUE.values():
        out.setdefault(block.category, []).append(block)
    return list(out.items())
