#!/usr/bin/env python3
"""Opening the largest project the editor accepts (10,000 blocks) and hostile variants of it.

    python3 benchmarks/open_large_project.py [--blocks 10000] [--source OTHER_CHECKOUT]

Prints figures (no assertions): `netbuilder summary` wall time and stderr size for a chain and
for a chain closed into a loop, and, offscreen, the time from File > Open until every block and
wire is on the canvas, the event-loop stalls meanwhile and the peak memory. The stall probe is a
5 ms QTimer; a stall is its lateness (time between ticks minus 5 ms). `--source` measures another
checkout (e.g. an older commit exported with `git archive`) in the same run, for before/after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())
ROOT = Path(__file__).resolve().parent.parent


def chain(n: int, cycle: bool, spacing: float = 180.0) -> dict:
    """Input -> n-1 ReLU blocks in a row (laid out in rows of 100); `cycle` wires the last back
    into the first ReLU instead of the Input. At 180 the wires take lanes (too close for a
    curve); at 200 each is a curve that first checks which blocks lie in its way."""
    nodes = [{"id": "n0", "type": "Input", "name": "input1", "params": {"shape": [16]},
              "pos": [0.0, 0.0]}]  # fmt: skip
    edges = []
    for i in range(1, n):
        pos = [float(i % 100 * spacing), float(i // 100 * 120)]
        nodes.append({"id": f"n{i}", "type": "ReLU", "name": f"relu{i}", "params": {}, "pos": pos})
        edges.append({"src": f"n{i - 1}", "dst": f"n{i}", "dst_port": 0})
    if cycle:
        edges[0] = {"src": f"n{n - 1}", "dst": "n1", "dst_port": 0}
    graph = {"name": "Big", "nodes": nodes, "edges": edges}
    return {"format": "netbuilder-project", "version": 1, "graph": graph}


def summary(path: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "netbuilder", "summary", str(path)],
                          capture_output=True, text=True, env=env)  # fmt: skip
    seconds = time.perf_counter() - t
    return f"{seconds:.2f} s, exit {proc.returncode}, stderr {len(proc.stderr):,} bytes"


def open_in_window(path: Path, source: Path) -> str:
    code = f"""
import resource, sys, time
sys.path.insert(0, {str(source)!r})
import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from netbuilder.ui.mainwindow import MainWindow
w = MainWindow()
w.resize(1280, 800)
w.show()
end = time.perf_counter() + 3.0  # the window's own warm-up (the training panel) is not the open
while time.perf_counter() < end:
    app.processEvents()
ticks = []
probe = QTimer()
probe.setInterval(5)
probe.timeout.connect(lambda: ticks.append(time.perf_counter()))
probe.start()
state = {{}}

def start():
    state["t0"] = time.perf_counter()
    state["ok"] = w.open_path({str(path)!r})
    state["returned"] = time.perf_counter() - state["t0"]

def done():
    scene = w.scene
    return ("ok" in state and not getattr(scene, "building", False)
            and len(scene.node_items) == len(w.graph.nodes)
            and len(scene.edge_items) == len(w.graph.edges))

QTimer.singleShot(50, start)
while not done():
    app.processEvents()
    time.sleep(0.001)
for _ in range(20):  # the paint that follows the last item
    app.processEvents()
    time.sleep(0.002)
opened = time.perf_counter() - state["t0"]
probe.stop()
late = np.diff([t for t in ticks if t >= state["t0"] - 0.01]) * 1000 - 5
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"opened={{state['ok']}} in {{opened:.2f}} s (open_path returned after"
      f" {{state['returned']:.2f}} s), stalls: {{len(late)}} ticks, p50"
      f" {{np.percentile(late, 50):.0f}} ms, p99 {{np.percentile(late, 99):.0f}} ms,"
      f" max {{late.max():.0f}} ms; peak {{peak:.0f}} MB;"
      f" {{len(w.scene.node_items):,}} blocks, {{len(w.scene.edge_items):,}} wires on the canvas")
"""
    env = {**os.environ, "PYTHONPATH": str(source)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return proc.stdout.strip() or proc.stderr.strip()[-500:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10_000)
    parser.add_argument("--source", type=Path, action="append", default=[],
                        help="another checkout to measure too (repeatable)")  # fmt: skip
    parser.add_argument("--no-summary", action="store_true", help="only the window figures")
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as folder:
        for name, cycle, spacing in (("chain", False, 180), ("loop", True, 180),
                                     ("spaced chain", False, 200)):  # fmt: skip
            path = Path(folder) / f"{name.replace(' ', '_')}.json"
            path.write_text(json.dumps(chain(args.blocks, cycle, spacing)))
            if not args.no_summary:
                print(f"{args.blocks:,}-block {name}: summary {summary(path)}")
            for source in [ROOT, *args.source]:
                where = "" if source == ROOT else f" [{source}]"
                result = open_in_window(path, source.resolve())
                print(f"{args.blocks:,}-block {name}{where}: window {result}")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
