"""Random draws for samplers and random_split, from an engine Generator (or the global one)."""

from __future__ import annotations

import numpy as np

from engine._random import Generator, rng


def _stream(generator) -> np.random.Generator:
    if generator is not None and not isinstance(generator, Generator):
        raise TypeError(
            f"generator must be an engine.Generator, got {type(generator).__name__}"
        )
    return rng(generator)


def randperm(n: int, generator=None) -> np.ndarray:
    """A permutation of 0..n-1 (int64)."""
    return _stream(generator).permutation(n).astype(np.int64, copy=False)


def randint(high: int, size: int, generator=None) -> np.ndarray:
    """``size`` draws from 0..high-1 (int64)."""
    return _stream(generator).integers(0, high, size=size, dtype=np.int64)


def fresh_generator() -> Generator:
    """A generator seeded from the global one: what PyTorch's samplers do per pass."""
    seed = int(_stream(None).integers(0, 2**63 - 1, dtype=np.int64))
    return Generator().manual_seed(seed)


def choice(weights: np.ndarray, size: int, replace: bool, generator=None) -> np.ndarray:
    """``size`` indices drawn with probability proportional to ``weights`` (int64)."""
    p = weights / weights.sum()
    return _stream(generator).choice(len(weights), size=size, replace=replace, p=p).astype(
        np.int64, copy=False
    )
