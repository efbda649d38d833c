#!/usr/bin/env python3
"""Render the editor to docs/screenshots/*.png (the README's pictures stay current).

    python3 scripts/screenshots.py [--out docs/screenshots]

Runs headless (Qt's offscreen platform unless a DISPLAY is given with QT_QPA_PLATFORM=xcb);
settings and autosaves go to a temporary folder, so a user's own are left alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_runtime = Path(tempfile.gettempdir()) / f"runtime-{os.getuid()}"
_runtime.mkdir(mode=0o700, exist_ok=True)
os.environ.setdefault("XDG_RUNTIME_DIR", str(_runtime))

REPO = Path(__file__).resolve().parent.parent


def _settle(app, window) -> None:
    for _ in range(5):
        app.processEvents()
    window.canvas.fit()
    app.processEvents()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QSettings

    from netbuilder.graph import commands as cmds
    from netbuilder.ui import theme
    from netbuilder.ui.app import create_window, make_app

    app = make_app()
    tmp = Path(tempfile.mkdtemp(prefix="nb-shots-"))

    def window_for(template: str, dark: bool, size=(1440, 900)):
        theme.apply(app, dark=dark)
        # fresh settings each time: no window size or dock layout carried from the last shot
        settings = QSettings(str(tempfile.mkdtemp(dir=tmp) + "/settings.ini"), QSettings.IniFormat)
        w = create_window(None, settings=settings, recovery_dir=tmp / "recovery")
        w.resize(*size)
        w.load_template(template)
        w.show()
        _settle(app, w)
        return w

    def shot(w, name: str) -> None:
        _settle(app, w)
        path = args.out / name
        w.grab().save(str(path))
        print(f"wrote {path}")

    def select(w, name: str) -> None:
        node = w.scene.graph.node_by_name(name)  # the level the canvas shows
        w.scene.select_nodes([node.id])
        app.processEvents()

    # 1. LeNet, light, conv2 selected so the inspector shows a real form
    w = window_for("lenet", dark=False)
    select(w, "conv2")
    shot(w, "lenet.png")
    w.runner.stack.setClean()
    w.close()

    # 2. the residual CNN, dark
    w = window_for("resnet", dark=True)
    select(w, "add1")
    shot(w, "resnet-dark.png")
    w.close()

    # 3. an invalid graph: a pinned Linear size that no longer matches, and a loose block
    w = window_for("lenet", dark=False)
    fc1 = w.graph.node_by_name("fc1")
    w.runner.push(cmds.SetParams(fc1.id, {"in_features": 256}))
    r = w.canvas.mapToScene(w.canvas.viewport().rect().bottomRight())
    w.runner.push(cmds.AddNode("ReLU", (r.x() - 260, r.y() - 120)))
    select(w, "fc1")
    shot(w, "invalid.png")
    w.runner.stack.setClean()
    w.close()

    # 4. composite blocks: ResNet-8 from BasicBlocks, collapsed, then entered (breadcrumb),
    # at a laptop's and a desktop's size
    for size, suffix in (((1280, 800), ""), ((1920, 1080), "-1920")):
        w = window_for("resnet8", dark=False, size=size)
        select(w, "layer2")
        shot(w, f"composite{suffix}.png")
        w.composites.enter(w.graph.node_by_name("layer2").id)
        select(w, "downsample")
        shot(w, f"composite-entered{suffix}.png")
        w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
