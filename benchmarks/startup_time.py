#!/usr/bin/env python3
"""Start-up time of `netbuilder` (no argument): process start to a usable window.

    python3 benchmarks/startup_time.py [--runs 5] [--platform offscreen|xcb]

Each run starts a fresh Python process that runs `netbuilder.cli.main([])` exactly as the
`netbuilder` command does. The child records, from the moment the parent launched it:
  shown  the window's first show (the event loop is about to run),
  idle   the event loop has run everything queued at start-up (deferred builds included) and
         one more 0 ms round found nothing left to do: the window answers clicks from here,
  plots  the dashboard's plots exist (built shortly after the window shows),
and its own CPU time (user + system) at `idle` and at `plots`; then it quits. Prints each run
and the medians.
Settings and autosaves go to a temporary folder, so a user's own are left alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, os, resource, sys, time
t_launch = float(os.environ["NB_STARTUP_T0"])
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

marks = {}
show = QMainWindow.show
def timed_show(self):
    show(self)
    marks.setdefault("shown", time.time() - t_launch)
QMainWindow.show = timed_show

exec_ = QApplication.exec
def timed_exec(self=None):
    app = QApplication.instance()
    rounds = [0]
    def probe():
        # zero-timers run after what was queued before them: a few rounds in a row with
        # nothing else in between means start-up work is done
        rounds[0] += 1
        if rounds[0] < 3:
            QTimer.singleShot(0, probe)
            return
        marks["idle"] = time.time() - t_launch
        r = resource.getrusage(resource.RUSAGE_SELF)
        marks["cpu"] = r.ru_utime + r.ru_stime
        QTimer.singleShot(0, wait_for_plots)
    def wait_for_plots():
        # the dashboard's plots, built after the window shows (older versions: at once)
        windows = [w for w in app.topLevelWidgets() if isinstance(w, QMainWindow)]
        dash = getattr(windows[0], "training", None) if windows else None
        if dash is not None and not getattr(dash, "plots_ready", True):
            QTimer.singleShot(20, wait_for_plots)
            return
        marks["plots"] = time.time() - t_launch
        r = resource.getrusage(resource.RUSAGE_SELF)
        marks["cpu_plots"] = r.ru_utime + r.ru_stime
        for w in windows:
            w.runner.stack.setClean()
            w._extra_dirty = False
        app.quit()
    QTimer.singleShot(0, probe)
    return exec_()
QApplication.exec = timed_exec

from netbuilder.cli import main
main([])
print("STARTUP " + json.dumps(marks), flush=True)
"""


def one_run(platform: str, home: Path, source: Path | None = None) -> dict:
    env = dict(os.environ)
    if source is not None:  # another checkout (e.g. `git archive` of an older commit)
        env["PYTHONPATH"] = str(source)
    env.setdefault("QT_QPA_PLATFORM", platform)
    env["QT_QPA_PLATFORM"] = platform
    runtime = Path(tempfile.gettempdir()) / f"runtime-{os.getuid()}"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env.setdefault("XDG_RUNTIME_DIR", str(runtime))
    # QSettings and the recovery folder live under these: a clean profile every run
    env["HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / "config")
    env["XDG_DATA_HOME"] = str(home / "data")
    env["XDG_CACHE_HOME"] = str(home / "cache")
    env["NB_STARTUP_T0"] = repr(time.time())
    home.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(  # cwd: `python -c` puts it first on sys.path, before --compare's tree
        [sys.executable, "-c", CHILD],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    for line in out.stdout.splitlines():
        if line.startswith("STARTUP "):
            return json.loads(line[len("STARTUP ") :])
    raise RuntimeError(f"child failed ({out.returncode}):\n{out.stderr[-2000:]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--platform", default=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    ap.add_argument(
        "--compare",
        type=Path,
        help="another source tree (its netbuilder/ and engine/) to time in alternation",
    )
    args = ap.parse_args()
    trees = {"this tree": None}
    if args.compare:
        trees = {f"{args.compare}": args.compare.resolve(), **trees}
    results: dict[str, list] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="nb-startup-") as tmp:
        for k, src in enumerate(trees.values()):  # the first run fills the OS file cache
            one_run(args.platform, Path(tmp) / f"warm{k}", src)
        for i in range(args.runs):
            for k, (name, src) in enumerate(trees.items()):  # alternate: load hits both alike
                r = one_run(args.platform, Path(tmp) / f"run{i}-{k}", src)  # a fresh profile
                results[name].append(r)
                print(
                    f"{name} run {i + 1}: shown {r['shown']:.2f} s, idle {r['idle']:.2f} s "
                    f"wall, {r['cpu']:.2f} s CPU; plots built {r['plots']:.2f} s"
                )
    for name, rs in results.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        print(
            f"{name}: median of {len(rs)} ({args.platform}): window shown {med['shown']:.2f} s, "
            f"usable (event loop idle) {med['idle']:.2f} s wall, {med['cpu']:.2f} s CPU; "
            f"dashboard plots built at {med['plots']:.2f} s ({med['cpu_plots']:.2f} s CPU)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
