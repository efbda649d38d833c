"""Fast numpy kernels behind the engine's ops (numpy arrays in and out, no Tensor).

See docs/CONTRACTS.md section 2 for the signatures and the (C, N, H, W) memory-order trick.
"""

from .conv import conv2d_backward, conv2d_forward, conv2d_output_size
from .pool import (
    adaptive_avg_pool2d_backward,
    adaptive_avg_pool2d_forward,
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    pool_output_size,
)

__all__ = [
    "conv2d_forward",
    "conv2d_backward",
    "conv2d_output_size",
    "max_pool2d_forward",
    "max_pool2d_backward",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
    "adaptive_avg_pool2d_forward",
    "adaptive_avg_pool2d_backward",
    "pool_output_size",
]
