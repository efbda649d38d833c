"""A real QDrag from the palette onto the canvas, under Xvfb (offscreen QDrag drops nothing)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.xvfb


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"Xvfb is required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def xvfb_display():
    """Start Xvfb on a free display number; skip (outside CI) when it cannot start."""
    if shutil.which("Xvfb") is None:
        _unavailable("Xvfb is not installed")
    for n in range(90, 130):
        if Path(f"/tmp/.X11-unix/X{n}").exists() or Path(f"/tmp/.X{n}-lock").exists():
            continue
        proc = subprocess.Popen(
            ["Xvfb", f":{n}", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            if Path(f"/tmp/.X11-unix/X{n}").exists():
                break
            time.sleep(0.05)
        if proc.poll() is None and Path(f"/tmp/.X11-unix/X{n}").exists():
            try:
                yield f":{n}"
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            return
        proc.kill()
    _unavailable("Xvfb could not start on any display :90-:129")


REAL_DRAG = textwrap.dedent(
    """
    import sys, tempfile
    from PySide6.QtCore import QPoint, QSettings, QTimer, Qt
    from PySide6.QtGui import QDrag
    from PySide6.QtTest import QTest
    from netbuilder.ui.app import make_app
    from netbuilder.ui.canvas.items import NODE_HEIGHT, NODE_WIDTH
    from netbuilder.ui.mainwindow import MainWindow

    tmp = tempfile.mkdtemp()
    app = make_app()
    w = MainWindow(settings=QSettings(tmp + "/s.ini", QSettings.IniFormat), recovery_dir=tmp,
                   install_training=False)
    w.load_template("lenet")
    w.resize(1440, 900)
    w.show()
    assert QTest.qWaitForWindowExposed(w)
    w.canvas.fit()
    app.processEvents()
    tree = w.palette.tree
    rect = tree.visualItemRect(w.palette.item_for("Dropout"))
    vp = w.canvas.viewport()
    target = QPoint(vp.width() - 150, vp.height() - 80)
    expected = w.canvas.mapToScene(target)
    entered = []

    def inside_the_drag_loop():
        # runs from QDrag.exec's own event loop, once the palette has started the drag
        if entered or not tree.findChildren(QDrag):
            return
        entered.append(True)
        poll.stop()
        for i in range(1, 6):
            QTest.mouseMove(vp, target - QPoint(10 * (5 - i), 0))
            QTest.qWait(20)
        QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, target)

    poll = QTimer()
    poll.timeout.connect(inside_the_drag_loop)
    poll.start(50)
    start = rect.center()
    QTest.mousePress(tree.viewport(), Qt.LeftButton, Qt.NoModifier, start)
    for i in range(1, 6):  # past the drag distance: QAbstractItemView starts a real QDrag
        QTest.mouseMove(tree.viewport(), start + QPoint(8 * i, 2 * i))
    QTest.qWait(100)
    added = [n for n in w.graph.nodes.values() if n.type == "Dropout"]
    print("entered", bool(entered))
    print("added", len(added))
    if added:
        x, y = added[0].pos
        error = abs(x + NODE_WIDTH / 2 - expected.x()) + abs(y + NODE_HEIGHT / 2 - expected.y())
        print("centre_error", error)
    w.runner.stack.setClean()
    w.close()
    """
)


def test_real_qdrag_from_palette_to_canvas(xvfb_display, tmp_path):
    env = dict(os.environ, DISPLAY=xvfb_display, QT_QPA_PLATFORM="xcb")
    proc = subprocess.run(
        [sys.executable, "-c", REAL_DRAG], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    assert lines.get("entered") == "True", proc.stdout
    assert lines.get("added") == "1", proc.stdout
    assert float(lines["centre_error"]) < 3.0
