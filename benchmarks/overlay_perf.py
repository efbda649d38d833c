"""What 50 overlaid runs cost the dashboard: the time to tick them all in the Runs table, and
each frame's repaint of the loss and accuracy plots with them drawn (offscreen).

    QT_QPA_PLATFORM=offscreen python3 benchmarks/overlay_perf.py [--runs 50] [--steps 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--steps", type=int, default=2000, help="steps per run (saved: 400 points)")
    args = ap.parse_args()

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from test_ui_training import FakeWindow  # a DashboardHost without the editor

    from netbuilder.ui.training import install
    from netbuilder.ui.training.demo import SyntheticRun

    runs = []
    for i in range(args.runs):
        feed = SyntheticRun(steps_per_epoch=args.steps // 4, epochs=4, seed=i)
        feed.advance(args.steps)
        feed.run.name = f"run {i + 1}"
        runs.append(feed.run.to_dict())
    window = FakeWindow()
    window.project.runs = runs
    window.resize(1600, 1000)
    d = install(window)
    d.set_expanded(True)
    window.show()
    app.processEvents()
    t = time.perf_counter()
    d.board.runs_table.set_checked(range(args.runs))
    app.processEvents()
    tick_all = time.perf_counter() - t
    frames = []
    for _ in range(20):
        t = time.perf_counter()
        d.loss_plot.viewport().repaint()
        d.accuracy_plot.viewport().repaint()
        frames.append(time.perf_counter() - t)
    print(f"{args.runs} runs of {args.steps} steps (saved as 400 points each)")
    print(f"tick all {args.runs} in the Runs table: {1000 * tick_all:.0f} ms (once)")
    print(
        f"repaint loss + accuracy with them: median {1000 * statistics.median(frames):.1f} ms, "
        f"max {1000 * max(frames):.1f} ms per frame"
    )
    d.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
