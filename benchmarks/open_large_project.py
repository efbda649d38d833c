#!/usr/bin/env python3
"""Opening the largest project the editor accepts (10,000 blocks) and hostile variants of it.

    python3 benchmarks/open_large_project.py [--blocks 10000]

Prints figures (no assertions): `netbuilder summary` wall time and stderr size for a chain and
for a chain closed into a loop, and the time until the main window has the project on its
canvas and has processed its events (offscreen), with the peak memory.
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


def chain(n: int, cycle: bool) -> dict:
    """Input -> n-1 ReLU blocks in a row (laid out in rows of 100); `cycle` wires the last back
    into the first ReLU instead of the Input."""
    nodes = [{"id": "n0", "type": "Input", "name": "input1", "params": {"shape": [16]},
              "pos": [0.0, 0.0]}]  # fmt: skip
    edges = []
    for i in range(1, n):
        pos = [float(i % 100 * 180), float(i // 100 * 120)]
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


def open_in_window(path: Path) -> str:
    code = f"""
import resource, sys, time
sys.path.insert(0, {str(ROOT)!r})
from PySide6.QtWidgets import QApplication
app = QApplication([])
from netbuilder.ui.mainwindow import MainWindow
w = MainWindow()
w.resize(1280, 800)
w.show()
app.processEvents()
t = time.perf_counter()
ok = w.open_path({str(path)!r})
app.processEvents()
opened = time.perf_counter() - t
t = time.perf_counter()
w.canvas.viewport().repaint()
app.processEvents()
painted = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"opened={{ok}} in {{opened:.2f}} s, first repaint {{painted:.2f}} s, peak {{peak:.0f}} MB,"
      f" {{len(w.scene.node_items):,}} blocks on the canvas")
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return proc.stdout.strip() or proc.stderr.strip()[-500:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for name, cycle in (("chain", False), ("loop", True)):
            path = Path(folder) / f"{name}.json"
            path.write_text(json.dumps(chain(args.blocks, cycle)))
            print(f"{args.blocks:,}-block {name}: summary {summary(path)}")
            print(f"{args.blocks:,}-block {name}: window {open_in_window(path)}")


if __name__ == "__main__":
    main()
