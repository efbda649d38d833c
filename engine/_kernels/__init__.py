"""Fast numpy kernels behind the engine's ops (numpy arrays in and out, no Tensor).

See docs/CONTRACTS.md (engine: numpy kernels) for the signatures and the (C, N, H, W)
memory-order trick.

Threads: convolutions, batch norm and 2x2 pooling split their micro-batches across
``num_threads()`` threads (parallel.py; OMP_NUM_THREADS or the cores up to 4 by default);
numpy's OpenBLAS is limited to one thread on import (blas.py says why), unless
OPENBLAS_NUM_THREADS chose otherwise.

Memory: glibc's malloc is told to keep freed blocks for reuse (memory.py says why).
"""

import os as _os

from .blas import blas_threads, set_blas_threads
from .conv import conv2d_backward, conv2d_forward, conv2d_output_size
from .memory import keep_freed_memory
from .parallel import available_cores, default_threads, num_threads, parallel_for, set_num_threads
from .pool import (
    adaptive_avg_pool2d_backward,
    adaptive_avg_pool2d_forward,
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    pool_output_size,
)

# OMP_NUM_THREADS sets the kernels' threads (which call BLAS concurrently), not BLAS's own
if not _os.environ.get("OPENBLAS_NUM_THREADS"):
    set_blas_threads(1)
keep_freed_memory()

__all__ = [
    "blas_threads",
    "set_blas_threads",
    "available_cores",
    "default_threads",
    "num_threads",
    "set_num_threads",
    "parallel_for",
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
