#!/usr/bin/env python3
"""Editor responsiveness on a 200-block graph, and start-up time to a usable window.

    python3 benchmarks/editor_perf.py [--edits 40]

Prints figures (no assertions): a parameter edit = SetParams through the undo stack, shape
inference over the whole graph, the incremental scene update, and the repaint (offscreen
raster, so the paint cost is real): of the regions that changed, as the view does, and, as a
worst case, of the whole canvas. Target: under 50 ms per edit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())


def build_graph(n_units: int = 49):
    """Input -> 49 residual units (conv, relu, conv, add) -> pool, flatten, fc: 200 blocks."""
    from netbuilder.graph import commands as cmds
    from netbuilder.graph.model import Graph

    g = Graph("bench200")
    with g.batch():

        def add(type_, params=None):
            c = cmds.AddNode(type_, (0, 0), params)
            c.redo(g)
            return c.node_id

        def wire(a, b, port=0):
            cmds.Connect(a, b, port).redo(g)

        prev = add("Input", {"shape": (8, 16, 16)})
        for _ in range(n_units):
            c1 = add("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1})
            r = add("ReLU")
            c2 = add("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1})
            s = add("Add")
            wire(prev, c1)
            wire(c1, r)
            wire(r, c2)
            wire(c2, s, 0)
            wire(prev, s, 1)
            prev = s
        gap = add("AdaptiveAvgPool2d", {"output_size": 1})
        flat = add("Flatten")
        fc = add("Linear", {"out_features": 10})
        wire(prev, gap)
        wire(gap, flat)
        wire(flat, fc)
    return g


SIZES = [(8, 16, 16), (8, 18, 18)]


def timed(fn, repeat):
    """Wall and CPU milliseconds per call. On a shared, loaded machine the CPU time of this
    (single-threaded) process is the better estimate of the wall time on an idle one."""
    wall, cpu = [], []
    for i in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn(i)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return wall, cpu


def summary(times) -> str:
    wall, cpu = times
    wall = sorted(wall)
    p95 = wall[min(len(wall) - 1, int(round(0.95 * (len(wall) - 1))))]
    return (
        f"wall median {statistics.median(wall):6.1f} ms, p95 {p95:6.1f} ms | "
        f"CPU median {statistics.median(cpu):6.1f} ms"
    )


def startup_seconds() -> tuple[float, float]:
    """(wall, CPU) seconds from launching Python to the LeNet window shown and painted."""
    code = (
        "import sys, time, tempfile\n"
        "t0 = float(sys.argv[1])\n"
        "from PySide6.QtCore import QSettings\n"
        "from netbuilder.ui.app import make_app, create_window\n"
        "app = make_app()\n"
        "tmp = tempfile.mkdtemp()\n"
        "w = create_window(None, settings=QSettings(tmp + '/s.ini', QSettings.IniFormat),"
        " recovery_dir=tmp)\n"
        "w.show(); w.canvas.fit(); app.processEvents(); w.repaint()\n"
        "print(time.time() - t0, time.process_time())\n"
        "w.runner.stack.setClean(); w.close()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, repr(time.time())],
        capture_output=True,
        text=True,
        check=True,
    )
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=40)
    args = parser.parse_args(argv)
    if hasattr(os, "getloadavg"):
        print(
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
            "(figures scale with it on a shared machine)"
        )

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from netbuilder.graph import commands as cmds
    from netbuilder.graph.inference import run_inference
    from netbuilder.graph.project import Project
    from netbuilder.ui.app import make_app
    from netbuilder.ui.mainwindow import MainWindow

    app = make_app()
    tmp = tempfile.mkdtemp()
    t0 = time.perf_counter()
    graph = build_graph()
    print(
        f"graph: {len(graph.nodes)} blocks, {len(graph.edges)} wires, "
        f"{graph.total_params:,} parameters, valid={graph.is_valid}"
    )
    w = MainWindow(
        Project(graph),
        settings=QSettings(tmp + "/s.ini", QSettings.IniFormat),
        recovery_dir=tmp,
        install_training=False,
    )
    w.resize(1440, 900)
    w.show()
    w.auto_layout()
    app.processEvents()
    print(f"window with the 200-block graph built and laid out: {time.perf_counter() - t0:.2f} s")
    vp = w.canvas.viewport()
    ids = {n.name: n.id for n in graph.nodes.values()}
    input_id = ids["input1"]
    mid_conv = ids["conv50"]

    def edit(node_id, params, full_repaint):
        w.runner.push(cmds.SetParams(node_id, params))
        app.processEvents()  # the view paints the regions the edit changed
        if full_repaint:
            vp.repaint()  # worst case: the whole visible canvas, synchronously

    print(
        f"\nparameter edit -> inference -> scene update -> repaint ({args.edits} edits each);"
        "\n'changed' = what the user waits for (the view repaints the regions that changed),"
        "\n'full' = the same plus a forced repaint of the whole canvas (worst case)"
    )
    for zoom_name, setup in (
        ("whole graph fitted in view", w.canvas.fit),
        ("zoom 1:1 (typical editing)", lambda: _one_to_one(w)),
    ):
        setup()
        app.processEvents()
        print(f"  {zoom_name}:")
        for what, node_id, params in (
            (
                "Input shape (every block's shape changes)",
                input_id,
                lambda i: {"shape": SIZES[i % 2]},
            ),
            (
                "one Conv2d out_channels (half the graph)",
                mid_conv,
                lambda i: {"out_channels": 8 + (i % 2) * 4},
            ),
        ):
            for full in (False, True):
                t = timed(lambda i, n=node_id, p=params, f=full: edit(n, p(i), f), args.edits)
                print(f"    {what}, {'full' if full else 'changed'}: {summary(t)}")

    t_inf = timed(lambda i: run_inference(graph), args.edits)
    print(f"  of which shape inference alone (200 blocks): {summary(t_inf)}")
    print("  (inference is netbuilder.graph's; the rest is the editor's scene update + repaint)")

    print("\npan and zoom (one synchronous repaint each)")
    w.canvas.fit()
    app.processEvents()

    def zoom(i):
        w.canvas.zoom_by(1.1 if i % 2 == 0 else 1 / 1.1)
        vp.repaint()

    def pan(i):
        bar = w.canvas.horizontalScrollBar()
        bar.setValue(bar.value() + (40 if i % 2 == 0 else -40))
        vp.repaint()

    print(f"  zoom step, whole graph visible: {summary(timed(zoom, args.edits))}")
    _one_to_one(w)
    print(f"  zoom step at 1:1:               {summary(timed(zoom, args.edits))}")
    print(f"  pan 40 px at 1:1:               {summary(timed(pan, args.edits))}")

    w.runner.stack.setClean()
    w.close()
    QApplication.processEvents()
    starts = [startup_seconds() for _ in range(3)]
    print(
        "\nstart-up to a usable LeNet window (fresh process, dashboard included): wall "
        + ", ".join(f"{w:.2f}" for w, _ in starts)
        + " s; CPU "
        + ", ".join(f"{c:.2f}" for _, c in starts)
        + " s"
    )
    return 0


def _one_to_one(w) -> None:
    w.canvas.resetTransform()
    first = next(iter(w.scene.node_items.values()))
    w.canvas.centerOn(first.sceneBoundingRect().center())


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
