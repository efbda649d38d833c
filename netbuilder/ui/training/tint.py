"""The canvas tint during a run: each block coloured by its gradient norm against the others."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtGui import QColor


def gradient_tint(value: float, centre: float) -> tuple[QColor, float | None]:
    """Tint for a layer whose gradient norm is `value` when the layers' centre is `centre`:
    blue when much smaller (vanishing), neutral near the centre, red when much larger."""
    if not (math.isfinite(value) and value > 0 and centre > 0):
        c = QColor("#7f7f7f") if not math.isfinite(value) or value == 0 else QColor("#4e79a7")
        c.setAlpha(150)
        return c, None
    ratio = value / centre
    t = max(-1.0, min(1.0, math.log10(ratio) / 2.0))  # 100x either way saturates
    neutral = (89, 161, 79)  # green: ordinary
    far = (78, 121, 167) if t < 0 else (225, 87, 89)  # blue small, red large
    a = abs(t)
    rgb = [round(n + (f - n) * a) for n, f in zip(neutral, far)]
    c = QColor(*rgb)
    c.setAlpha(round(70 + 110 * a))
    return c, ratio


def recent(values, count: int = 5) -> float:
    """The geometric mean of the last few measurements: one noisy batch does not flicker."""
    tail = values[-count:]
    tail = tail[np.isfinite(tail) & (tail > 0)]
    if not len(tail):
        return float(values[-1])
    return float(np.exp(np.log(tail).mean()))


class CanvasTint:
    """Colours the canvas blocks of a run's layers; `clear` takes the colours off again."""

    def __init__(self, window):
        self.window = window
        self.node_ids: dict[str, str] = {}  # layer (node) name -> node id
        self._tinted: set[str] = set()

    def follow(self, graph) -> None:
        self.node_ids = {n.name: nid for nid, n in graph.nodes.items()}

    def update(self, run) -> None:
        latest = {name: recent(s.y) for name, s in run.grad_norms.items() if len(s)}
        finite = [v for v in latest.values() if math.isfinite(v) and v > 0]
        if not finite:
            return
        centre = math.exp(sum(math.log(v) for v in finite) / len(finite))  # geometric mean
        canvas = self.window.canvas
        for name, value in latest.items():
            nid = self.node_ids.get(name)
            if nid is None:
                continue
            colour, ratio = gradient_tint(value, centre)
            if ratio is None:
                tip = f"{name}: gradient norm {value:.3g} (no signal: a dead or frozen layer?)"
            else:
                tip = (
                    f"{name}: gradient L2 norm {value:.3g}, {ratio:.2g}× the layers' geometric mean"
                )
            canvas.set_node_overlay(nid, colour, tip)
            self._tinted.add(nid)

    def clear(self) -> None:
        canvas = getattr(self.window, "canvas", None)
        for nid in self._tinted:
            if canvas is not None and nid in self.window.graph.nodes:
                canvas.set_node_overlay(nid, None, None)
        self._tinted.clear()
