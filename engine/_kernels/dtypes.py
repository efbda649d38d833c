"""The one rule for the kernels' arithmetic type."""

from __future__ import annotations

import numpy as np

__all__ = ["compute_dtype"]

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def compute_dtype(a):
    """float64 computes in float64 (gradcheck, .double() layers); anything else in float32."""
    return _F64 if a.dtype == _F64 else _F32
