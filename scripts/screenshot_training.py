"""Screenshots of the training dashboard while LeNet learns MNIST (README, docs/screenshots/).

    python3 scripts/screenshot_training.py [--data /path/to/mnist] [--theme light|dark]
                                           [--size 1280x800]

Runs the real app under Xvfb (started here when no DISPLAY is set) on a screen of --size, with
the window at the size the app opens at on that screen, opens the LeNet template, trains on
MNIST when --data names an IDX folder (else on the bundled sample) and saves (SIZE: --size):
  docs/screenshots/training-ready-SIZE[-dark].png  the window before the run
  docs/screenshots/training-SIZE[-dark].png        after --steps steps (a run in progress)
  docs/screenshots/training-epoch-SIZE[-dark].png  after the run
--train N trains on the first N training images only (written to a temporary .npz), for a
quicker run on a slow machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="an MNIST IDX folder (default: the bundled sample)")
    ap.add_argument("--theme", choices=("light", "dark"), default="light")
    ap.add_argument("--steps", type=int, default=300, help="steps before the first screenshot")
    ap.add_argument("--train", type=int, default=0, help="training images (0: all)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--size", default="1280x800", help="screen size, WIDTHxHEIGHT")
    args = ap.parse_args()
    try:
        args.width, args.height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        ap.error(f"--size: expected WIDTHxHEIGHT such as 1280x800, not {args.size!r}")

    if not os.environ.get("DISPLAY") and os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            sys.exit("no DISPLAY and no xvfb-run: install Xvfb or set QT_QPA_PLATFORM=offscreen")
        screen = f"-screen 0 {args.width}x{args.height}x24 -nolisten tcp"
        cmd = [xvfb, "-a", "-s", screen, sys.executable, *sys.argv]
        return subprocess.call(cmd)
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    os.environ["NETBUILDER_THEME"] = args.theme
    return shoot(args)


def shoot(args) -> int:
    import tempfile

    import numpy as np
    from PySide6.QtCore import QSettings, Qt

    from netbuilder.data import load_dataset
    from netbuilder.ui.app import make_app
    from netbuilder.ui.mainwindow import MainWindow, default_size

    app = make_app(["netbuilder"])
    tmp = Path(tempfile.mkdtemp(prefix="nb-shot-"))
    # fresh settings: the default layout, not whatever a user's last session left
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, recovery_dir=tmp / "recovery")
    window.resize(*default_size())  # as the app opens on this screen
    window.load_template("lenet")
    window.show()
    d = window.training

    spec = str(Path(args.data).resolve()) if args.data else "sample"
    full = load_dataset(spec)
    n = len(full.y_train)
    if 0 < args.train < n:
        n = args.train
        spec = str(Path(tempfile.mkdtemp()) / f"{full.name}-{n}.npz")
        np.savez(
            spec,
            x_train=full.x_train[:n],
            y_train=full.y_train[:n],
            x_test=full.x_test,
            y_test=full.y_test,
        )
    d.form.dataset.set_value(spec)
    d.form.epochs.setValue(args.epochs)
    d.form.batch_size.setValue(64)
    d.form.grad_every.setValue(10)
    window.canvas.fit()

    def pump(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.005)

    pump(1.5)  # the dashboard builds its plots shortly after the window shows
    suffix = f"-{args.width}x{args.height}" + ("" if args.theme == "light" else "-dark")
    args.out.mkdir(parents=True, exist_ok=True)
    ready = args.out / f"training-ready{suffix}.png"
    window.grab().save(str(ready))
    print(f"{ready} before the run")
    select("conv2", window)
    d.views.setCurrentWidget(d.board.distributions)
    d.train_action.trigger()
    steps = min(args.steps, args.epochs * (n // 64) // 2)  # mid-run on a small data set
    while d.running and d.step < steps:
        pump(0.1)
    pump(0.3)
    first = args.out / f"training{suffix}.png"
    window.grab().save(str(first))
    print(f"{first} at step {d.step}")

    while d.running:
        pump(0.1)
    select("conv1", window)
    d.views.setCurrentWidget(d.samples)
    pump(0.5)
    second = args.out / f"training-epoch{suffix}.png"
    window.grab().save(str(second))
    print(f"{second} after {d.step} steps: {d.status_label.text()}")
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
    window.hide()
    return 0


def select(name: str, window) -> None:
    """Select a block on the canvas, as a click would."""
    node_id = next(nid for nid, n in window.graph.nodes.items() if n.name == name)
    item = window.scene.node_items[node_id]
    window.scene.clearSelection()
    item.setSelected(True)


if __name__ == "__main__":
    sys.exit(main())
