"""How many threads numpy's BLAS (OpenBLAS) uses, without threadpoolctl.

The kernels' matrix products are small (LeNet: a few MFLOP each). A second BLAS thread gains
little on them, and on a busy machine it costs a great deal: each product waits for a worker
thread that another process holds off the CPU (measured here under load: 175 ms per LeNet step
with two threads, 19 ms with one).
"""

from __future__ import annotations

import ctypes
import sys

import numpy as np

from .parallel import parallel_slices

__all__ = ["blas_threads", "set_blas_threads", "matmul"]

_SETTERS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)
_GETTERS = (
    "scipy_openblas_get_num_threads64_",
    "scipy_openblas_get_num_threads",
    "openblas_get_num_threads64_",
    "openblas_get_num_threads",
)
_lib = None
_searched = False


def _openblas():
    """The OpenBLAS library numpy loaded (Linux: found in /proc/self/maps), or None."""
    global _lib, _searched
    if _searched:
        return _lib
    _searched = True
    import numpy  # noqa: F401  (loads its BLAS)

    paths = []
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/self/maps") as f:
                for line in f:
                    path = line.rsplit(" ", 1)[-1].strip()
                    if "openblas" in path.lower() and path not in paths:
                        paths.append(path)
        except OSError:
            return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        setter = next((getattr(lib, n) for n in _SETTERS if hasattr(lib, n)), None)
        getter = next((getattr(lib, n) for n in _GETTERS if hasattr(lib, n)), None)
        if setter is not None and getter is not None:
            setter.argtypes = [ctypes.c_int]
            setter.restype = None
            getter.argtypes = []
            getter.restype = ctypes.c_int
            _lib = (setter, getter)
            break
    return _lib


def blas_threads():
    """Threads numpy's BLAS uses now (None when the BLAS is not an OpenBLAS we can reach)."""
    lib = _openblas()
    return None if lib is None else int(lib[1]())


def set_blas_threads(n):
    """Let numpy's BLAS use n threads (process-wide); returns False when it cannot be set."""
    if n < 1:
        raise ValueError(f"set_blas_threads: n must be at least 1, got {n}")
    lib = _openblas()
    if lib is None:
        return False
    lib[0](int(n))
    return True


# products smaller than this (floating-point operations) stay on one thread: the hand-off
# costs more than a second thread saves on them
PARALLEL_FLOPS = 50e6


def matmul(a, b):
    """a @ b for 2-D arrays; a large float product is split into one block of rows (or of
    columns, whichever side is longer) per kernel thread.

    numpy's BLAS runs on one thread (see above), so without this a Linear layer would use one
    core while the convolutions use all of them. Each block is one BLAS call over the full
    inner dimension, so the sums run in the same order whatever the thread count.
    """
    m, k = a.shape
    n = b.shape[1]
    if 2.0 * m * n * k < PARALLEL_FLOPS or a.dtype != b.dtype or a.dtype.kind != "f":
        return a @ b
    out = np.empty((m, n), dtype=a.dtype)
    if m >= n:

        def block(s, e):
            np.matmul(a[s:e], b, out=out[s:e])
    else:

        def block(s, e):
            np.matmul(a, b[:, s:e], out=out[:, s:e])

    parallel_slices(block, max(m, n), min_slice=64)
    return out
