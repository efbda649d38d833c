"""Figures for the status bar: parameters, validity, memory estimate."""

from __future__ import annotations

import math

FLOAT32_BYTES = 4


def memory_estimate(graph, batch: int) -> int:
    """Bytes a float32 forward pass needs: parameters plus every block's output at ``batch``."""
    params = graph.total_params
    activations = 0
    for node in graph.nodes.values():
        if node.out_shape:
            activations += math.prod(node.out_shape)
    return FLOAT32_BYTES * (params + batch * activations)


def format_bytes(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024**2:
        return f"{n / 1024:.1f} KB"
    if n < 1024**3:
        return f"{n / 1024**2:.1f} MB"
    return f"{n / 1024**3:.2f} GB"


def validity_text(graph) -> tuple[str, bool]:
    """('valid' | 'N problems' | why it is not valid, ok?)."""
    problems = graph.problems()
    if problems:
        n = len(problems)
        return (f"{n} problem" if n == 1 else f"{n} problems"), False
    if not graph.nodes:
        return "empty: add an Input block", False
    if not graph.is_valid:
        return "no output: wire blocks after the Input", False
    return "valid", True
