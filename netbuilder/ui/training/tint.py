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


def entered_prefix(window) -> str:
    """The compiled-name prefix of the composite the canvas shows ("" at the network,
    "layer2." inside layer2): a block inside is named by the instances entered, outermost first."""
    path = getattr(getattr(window, "composites", None), "path", None) or []
    return "".join(f"{instance}." for _, instance, _ in path)


def combined(latest: dict[str, float], prefix: str) -> list[tuple[str, float]]:
    """The measured layers under `prefix` ("layer2."), largest first."""
    inner = [(k, v) for k, v in latest.items() if k.startswith(prefix) and math.isfinite(v)]
    return sorted(inner, key=lambda kv: -kv[1])


class CanvasTint:
    """Colours the canvas blocks of a run's layers; `clear` takes the colours off again.

    A composite block (or a block such as a Shortcut whose layers are numbered inside it) has
    no norm of its own: it shows the L2 norm of its inner layers' norms. Inside an entered
    composite each block shows the layer of that instance."""

    def __init__(self, window):
        self.window = window
        self.node_ids: dict[str, str] = {}  # layer (node) name -> node id
        self._tinted: set[str] = set()
        self._latest: dict[str, float] = {}
        self._centre = 0.0
        scene = getattr(window, "scene", None)
        if scene is not None and hasattr(scene, "graphChanged"):
            scene.graphChanged.connect(self._scene_changed)

    def follow(self, graph) -> None:
        self.node_ids = {n.name: nid for nid, n in graph.nodes.items()}

    def update(self, run) -> None:
        latest = {name: recent(s.y) for name, s in run.grad_norms.items() if len(s)}
        finite = [v for v in latest.values() if math.isfinite(v) and v > 0]
        if not finite:
            return
        self._latest = latest
        self._centre = math.exp(sum(math.log(v) for v in finite) / len(finite))  # geometric mean
        self._apply()

    def _shown_nodes(self) -> dict[str, tuple[str, bool]]:
        """Block name -> (node id, is a composite) in the graph the canvas shows."""
        scene = getattr(self.window, "scene", None)
        graph = getattr(scene, "graph", None)
        if graph is None:
            return {name: (nid, False) for name, nid in self.node_ids.items()}
        return {
            n.name: (nid, getattr(n, "definition", None) is not None)
            for nid, n in graph.nodes.items()
        }

    def _apply(self) -> None:
        if not self._latest:
            return
        canvas, centre, prefix = self.window.canvas, self._centre, entered_prefix(self.window)
        for block, (nid, composite) in self._shown_nodes().items():
            name = prefix + block
            value = self._latest.get(name)
            parts: list[tuple[str, float]] = []
            if value is None:
                parts = combined(self._latest, name + ".")
                if not parts:
                    continue
                value = math.sqrt(sum(v * v for _, v in parts))
            if not parts:
                colour, ratio = gradient_tint(value, centre)
                if ratio is None:
                    tip = f"{name}: gradient norm {value:.3g} (no signal: a dead or frozen layer?)"
                else:
                    tip = (
                        f"{name}: gradient L2 norm {value:.3g}, "
                        f"{ratio:.2g}× the layers' geometric mean"
                    )
            else:
                # n ordinary layers combine to sqrt(n) times one: the colour compares the
                # per-layer RMS, so a composite is not red merely for holding many layers
                rms = value / math.sqrt(len(parts))
                colour, ratio = gradient_tint(rms, centre)
                largest = ", ".join(f"{k[len(name) + 1 :]} {v:.3g}" for k, v in parts[:3])
                plural = "s" if len(parts) != 1 else ""
                tip = (
                    f"{name}: combined gradient L2 norm {value:.3g} of its {len(parts)} inner "
                    f"layer{plural} (sqrt of the sum of their squares)"
                    + (
                        f"\nPer layer (RMS) {rms:.3g}, {ratio:.2g}× the layers' geometric mean"
                        if ratio is not None
                        else "\nNo signal: dead or frozen layers?"
                    )
                    + f"\nLargest: {largest}"
                    + ("\nDouble-click the block to see each inner layer" if composite else "")
                )
            canvas.set_node_overlay(nid, colour, tip)
            self._tinted.add(nid)

    def _scene_changed(self, changes) -> None:
        if not changes and self._latest:  # a graph replaced (a composite entered or left)
            self._tinted.clear()
            self._apply()

    def clear(self) -> None:
        canvas = getattr(self.window, "canvas", None)
        scene = getattr(self.window, "scene", None)
        shown = getattr(scene, "graph", None) or self.window.graph
        for nid in self._tinted:
            if canvas is not None and nid in shown.nodes:
                canvas.set_node_overlay(nid, None, None)
        self._tinted.clear()
        self._latest = {}
