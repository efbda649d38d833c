"""Output lengths of sliding windows, PyTorch's rules.

The engine's kernels size their outputs with these, and netbuilder's block catalogue infers
shapes with them, so an edited network and the engine never disagree on a size.
"""

from __future__ import annotations

__all__ = ["conv_output_size", "pool_output_size"]


def conv_output_size(size, kernel, stride, pad_before, pad_after, dilation):
    """Length of a convolution's output along one axis."""
    return (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1


def pool_output_size(size, kernel, stride, pad, dilation, ceil_mode):
    """Length of a pooling output along one axis (``pad`` on each side).

    In ceil mode the last window must start inside the input or the left padding.
    """
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + pad:
            out -= 1
    else:
        out = span // stride + 1
    return out
