"""GUI training against `netbuilder train`: samples/s, UI event-loop stalls, Stop latency.

    python3 benchmarks/gui_training_perf.py [--steps 30] [--repeats 2] [--mnist DIR]

Both sides train LeNet (the template) on the same data for the same steps, from this script:
the CLI as `python -m netbuilder train` in a subprocess, the GUI through the real MainWindow's
dashboard (offscreen unless a display is set) with the Train action, which trains in the
dashboard's child process. Wall times include process start and data loading on both sides.
Runs alternate CLI, GUI, CLI, GUI... so machine noise hits both alike.

Training samples/s = samples / the summed step times the Trainer reports (each step's time
runs from the end of the previous step, so it includes listeners and any GIL contention from the
UI thread; data loading and test evaluation are left out on both sides).
The stall probe is a 5 ms QTimer; its lateness (interval - 5 ms) is recorded while the GUI trains.
Stop latency: from the Stop action to the dashboard showing the run ended.
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

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")
Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, exist_ok=True)

import numpy as np  # noqa: E402


def make_data(folder: Path, train: int, test: int, mnist: str | None) -> Path:
    from netbuilder.data import load_dataset

    split = load_dataset(mnist or "sample")
    path = folder / "bench.npz"
    np.savez(path, x_train=split.x_train[:train], y_train=split.y_train[:train],
             x_test=split.x_test[:test], y_test=split.y_test[:test])
    return path


def make_project(folder: Path, data: Path, batch: int, epochs: int) -> Path:
    from netbuilder.graph.project import save_project
    from netbuilder.graph.templates import load_template

    project = load_template("lenet")
    project.training.update(
        dataset=str(data), epochs=epochs, batch_size=batch, grad_every=20, seed=0
    )
    path = folder / "bench.json"
    save_project(project, path)
    return path


def rate_of(steps: list[tuple[int, float]]) -> float:
    """samples / summed step seconds, from (batch, samples_per_s) pairs."""
    samples = sum(b for b, _ in steps)
    seconds = sum(b / r for b, r in steps)
    return samples / seconds


def run_cli(project: Path, folder: Path, app=None, probe=None) -> tuple[float, float]:
    """`netbuilder train` as a user runs it: its own process (as the GUI's training is).
    With `app` and `probe`, the idle window's event loop is probed meanwhile: the stalls a
    training process next door causes on this machine without any dashboard work."""
    metrics = folder / "cli_metrics.jsonl"
    cmd = [sys.executable, "-m", "netbuilder", "train", str(project), "--no-progress",
           "--metrics-out", str(metrics)]
    cpu = time.process_time()
    t = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if probe:
        probe.start()
    while child.poll() is None and app is not None:
        app.processEvents()
        time.sleep(0.002)
    if probe:
        probe.stop()
    _, err = child.communicate()
    wall = time.perf_counter() - t
    IDLE_CPU.append((time.process_time() - cpu, wall))
    if child.returncode != 0:
        raise SystemExit(f"netbuilder train failed ({child.returncode}): {err.strip()}")
    batch = json.loads(project.read_text())["training"]["batch_size"]
    steps = [json.loads(line) for line in metrics.read_text().splitlines()]
    pairs = [(batch, s["samples_per_s"]) for s in steps if s["type"] == "step"]
    return rate_of(pairs), wall


GUI_CPU: list[tuple[float, float]] = []  # (CPU seconds of the window's process, wall) per run
IDLE_CPU: list[tuple[float, float]] = []  # the same while the CLI trains (probe and loop only)


class StallProbe:
    """A 5 ms timer; records how late each tick comes."""

    def __init__(self):
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.lateness: list[float] = []
        self._last = None

    def start(self):
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self):
        self.timer.stop()

    def _tick(self):
        now = time.perf_counter()
        self.lateness.append(max(0.0, now - self._last - 0.005))
        self._last = now


def time_ticks() -> list[float]:
    """Record how long each dashboard timer tick takes (patched before the window exists)."""
    from netbuilder.ui.training.session import TrainingSession

    seconds: list[float] = []
    tick = TrainingSession.tick

    def timed(self):
        t = time.perf_counter()
        tick(self)
        seconds.append(time.perf_counter() - t)

    TrainingSession.tick = timed
    return seconds


def run_gui(window, app, probe: StallProbe | None) -> tuple[float, float]:
    """One run started with the Train action; the rates are those the StepEnd events carry
    (the Trainer measures them in the training process), as the dashboard receives them."""
    from netbuilder.ui.training.session import TrainingSession

    d = window.training
    pairs: list[tuple[int, float]] = []
    batch = window.project.training["batch_size"]
    on_step = TrainingSession._on_StepEnd

    def recording(self, e):
        pairs.append((batch, e.samples_per_s))
        on_step(self, e)

    TrainingSession._on_StepEnd = recording
    cpu = time.process_time()
    t = time.perf_counter()
    if probe:
        probe.start()
    d.train_action.trigger()
    try:
        while d.running:
            app.processEvents()
            time.sleep(0.002)
    finally:
        if probe:
            probe.stop()
        TrainingSession._on_StepEnd = on_step
    wall = time.perf_counter() - t
    GUI_CPU.append((time.process_time() - cpu, wall))
    if d.run.status != "finished":
        raise SystemExit(f"GUI run ended {d.run.status}: {d.message}")
    return rate_of(pairs), wall


def stop_latency(window, app) -> float:
    d = window.training
    d.train_action.trigger()
    while d.step < 3 and d.running:
        app.processEvents()
        time.sleep(0.002)
    if not d.running:
        raise SystemExit(f"the run ended before it could be stopped: {d.run.status} {d.message}")
    t = time.perf_counter()
    d.stop_action.trigger()
    while d.running:
        app.processEvents()
        time.sleep(0.001)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=90, help="training steps per epoch (the "
                    "bundled sample has 6,000 images: at most 93 steps of 64)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=6, help="CLI/GUI pairs")
    ap.add_argument("--mnist", help="an MNIST IDX folder (default: the bundled sample)")
    args = ap.parse_args()

    from PySide6.QtWidgets import QApplication

    from netbuilder.graph.project import load_project
    from netbuilder.ui.mainwindow import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    tick_seconds = time_ticks()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = make_data(folder, args.steps * args.batch, 200, args.mnist)
        project_path = make_project(folder, data, args.batch, args.epochs)
        with np.load(data) as arrays:
            steps = args.epochs * -(-len(arrays["y_train"]) // args.batch)
        window = MainWindow(load_project(project_path), path=project_path,
                            recovery_dir=folder / "recovery")
        window.resize(1600, 1000)
        window.show()
        app.processEvents()

        run_cli(project_path, folder)  # warm-up: first-call costs (imports, caches) off the books
        idle = StallProbe()  # the same probe with nothing training: what the machine costs
        idle.start()
        end = time.perf_counter() + 3.0
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.002)
        idle.stop()
        cli_rates, gui_rates, cli_walls, gui_walls = [], [], [], []
        probe = StallProbe()
        beside_cli = StallProbe()
        for i in range(args.repeats):
            r, w = run_cli(project_path, folder, app, beside_cli)
            cli_rates.append(r)
            cli_walls.append(w)
            print(f"  CLI run {i + 1}: {r:7.1f} samples/s  ({w:.1f} s wall)", flush=True)
            r, w = run_gui(window, app, probe)
            gui_rates.append(r)
            gui_walls.append(w)
            print(f"  GUI run {i + 1}: {r:7.1f} samples/s  ({w:.1f} s wall)", flush=True)
        stops = [stop_latency(window, app) for _ in range(3)]
        window.training.shutdown()
        window.hide()  # not close(): the recorded runs made the project dirty, close() would ask

    cli_rate, gui_rate = statistics.median(cli_rates), statistics.median(gui_rates)
    late = np.asarray(probe.lateness) * 1000
    print()
    print(f"LeNet, batch {args.batch}, {steps} steps per run, {args.repeats} runs each")
    print(f"netbuilder train : {cli_rate:7.1f} samples/s median, {max(cli_rates):7.1f} best")
    print(f"GUI dashboard    : {gui_rate:7.1f} samples/s median, {max(gui_rates):7.1f} best")
    pairs = [g / c for g, c in zip(gui_rates, cli_rates)]
    print(f"GUI / CLI        : {100 * statistics.median(pairs):5.1f} % (median of the "
          f"{len(pairs)} back-to-back pairs; {100 * min(pairs):.0f}-{100 * max(pairs):.0f} %), "
          f"{100 * max(gui_rates) / max(cli_rates):5.1f} % best/best   (goal >= 90 %)")
    print(f"wall time        : CLI {statistics.median(cli_walls):.1f} s, "
          f"GUI {statistics.median(gui_walls):.1f} s per run (data loading and test included)")
    print(f"UI stall probe   : {len(late)} ticks, lateness p50 {np.percentile(late, 50):.1f} ms, "
          f"p99 {np.percentile(late, 99):.1f} ms, max {late.max():.1f} ms   (goal p99 < 50 ms)")
    cli_late = np.asarray(beside_cli.lateness) * 1000
    print(f"  beside the CLI : {len(cli_late)} ticks, lateness p50 "
          f"{np.percentile(cli_late, 50):.1f} ms, p99 {np.percentile(cli_late, 99):.1f} ms, "
          f"max {cli_late.max():.1f} ms   (window idle while netbuilder train runs)")
    base = np.asarray(idle.lateness) * 1000
    print(f"  idle baseline  : {len(base)} ticks, lateness p50 {np.percentile(base, 50):.1f} ms, "
          f"p99 {np.percentile(base, 99):.1f} ms, max {base.max():.1f} ms   (same probe, no run)")
    ticks = np.asarray(tick_seconds) * 1000
    print(f"  dashboard ticks: {len(ticks)}, p50 {np.percentile(ticks, 50):.1f} ms, "
          f"p99 {np.percentile(ticks, 99):.1f} ms, max {ticks.max():.1f} ms "
          "(draining events + setData; painting comes after)")
    cpu = sum(c for c, _ in GUI_CPU) / sum(w for _, w in GUI_CPU)
    idle_cpu = sum(c for c, _ in IDLE_CPU) / sum(w for _, w in IDLE_CPU)
    print(f"window process   : {100 * cpu:.0f} % of one core while the GUI trains, "
          f"{100 * idle_cpu:.0f} % while the CLI does (this script's probe and polling)")
    print(f"Stop latency     : {', '.join(f'{1000 * s:.0f}' for s in stops)} ms   (goal < 500 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
