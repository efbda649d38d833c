"""Printing tensors exactly as PyTorch does (precision 4, line width 80, summarised past 1000)."""

import math

import numpy as np

PRECISION = 4
LINEWIDTH = 80
THRESHOLD = 1000
EDGEITEMS = 3


class _Formatter:
    def __init__(self, values, floating):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        vals = values.reshape(-1)
        if not floating:
            for v in vals.tolist():
                self.max_width = max(self.max_width, len(str(v)))
            return
        finite = vals[np.isfinite(vals) & (vals != 0)].astype(np.float64)
        if finite.size == 0:
            return  # as PyTorch: width 1, integer mode
        absv = np.abs(finite)
        lo, hi = float(absv.min()), float(absv.max())
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        if self.int_mode:
            if hi / lo > 1000.0 or hi > 1.0e8:
                self.sci_mode = True
                fmt = f"{{:.{PRECISION}e}}"
            else:
                fmt = "{:.0f}."
        else:
            if hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4:
                self.sci_mode = True
                fmt = f"{{:.{PRECISION}e}}"
            else:
                fmt = f"{{:.{PRECISION}f}}"
        for v in finite.tolist():
            self.max_width = max(self.max_width, len(fmt.format(v)))

    def width(self):
        return self.max_width

    def format(self, value):
        if self.floating:
            if not math.isfinite(value):
                ret = str(value)
            elif self.sci_mode:
                ret = f"{{:{self.max_width}.{PRECISION}e}}".format(value)
            elif self.int_mode:
                ret = f"{value:.0f}" + "."
            else:
                ret = f"{{:.{PRECISION}f}}".format(value)
        else:
            ret = str(value)
        return (self.max_width - len(ret)) * " " + ret


def _vector_str(data, indent, summarize, fmt):
    element_length = fmt.width() + 2
    elements_per_line = max(1, int(math.floor((LINEWIDTH - indent) / element_length)))
    vals = data.tolist()
    if summarize and len(vals) > 2 * EDGEITEMS:
        items = (
            [fmt.format(v) for v in vals[:EDGEITEMS]]
            + [" ..."]
            + [fmt.format(v) for v in vals[-EDGEITEMS:]]
        )
    else:
        items = [fmt.format(v) for v in vals]
    lines = [items[i : i + elements_per_line] for i in range(0, len(items), elements_per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(", ".join(line) for line in lines) + "]"


def _tensor_str(data, indent, summarize, fmt):
    dim = data.ndim
    if dim == 0:
        return fmt.format(data.item())
    if dim == 1:
        return _vector_str(data, indent, summarize, fmt)
    n = data.shape[0]
    if summarize and n > 2 * EDGEITEMS:
        slices = (
            [_tensor_str(data[i], indent + 1, summarize, fmt) for i in range(EDGEITEMS)]
            + ["..."]
            + [_tensor_str(data[i], indent + 1, summarize, fmt) for i in range(n - EDGEITEMS, n)]
        )
    else:
        slices = [_tensor_str(data[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (dim - 1) + " " * (indent + 1)).join(slices) + "]"


def _summarized(data):
    dim = data.ndim
    if dim == 0:
        return data
    if dim == 1:
        if data.shape[0] > 2 * EDGEITEMS:
            return np.concatenate([data[:EDGEITEMS], data[-EDGEITEMS:]])
        return data
    if data.shape[0] > 2 * EDGEITEMS:
        parts = [data[i] for i in range(EDGEITEMS)] + [
            data[i] for i in range(data.shape[0] - EDGEITEMS, data.shape[0])
        ]
    else:
        parts = [data[i] for i in range(data.shape[0])]
    return np.stack([_summarized(p) for p in parts])


def _add_suffixes(tensor_str, suffixes, indent):
    tensor_strs = [tensor_str]
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        suffix_len = len(suffix)
        if last_line_len + suffix_len + 2 > LINEWIDTH:
            tensor_strs.append(",\n" + " " * indent + suffix)
            last_line_len = indent + suffix_len
        else:
            tensor_strs.append(", " + suffix)
            last_line_len += suffix_len + 2
    tensor_strs.append(")")
    return "".join(tensor_strs)


def tensor_repr(t, prefix="tensor("):
    data = t._data
    indent = len(prefix)
    suffixes = []
    dt = data.dtype
    default_dtype = dt in (np.dtype(np.float32), np.dtype(np.int64), np.dtype(np.bool_))
    if data.size == 0 and data.shape != (0,):
        suffixes.append("size=" + str(tuple(data.shape)))
        if not default_dtype:
            suffixes.append(f"dtype={t.dtype!r}")
        body = "[]"
    else:
        if data.size == 0:
            body = "[]"
        else:
            summarize = data.size > THRESHOLD
            floating = dt.kind == "f"
            shown = _summarized(data) if summarize else data
            if dt.kind == "b":
                shown_fmt = _Formatter(shown.astype(np.int64), False)
                shown_fmt.max_width = max(len(str(v)) for v in shown.reshape(-1).tolist())
                body = _tensor_str(data, indent, summarize, shown_fmt)
            else:
                body = _tensor_str(data, indent, summarize, _Formatter(shown, floating))
        if not default_dtype:
            suffixes.append(f"dtype={t.dtype!r}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
