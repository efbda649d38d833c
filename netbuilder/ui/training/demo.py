"""The run's plots fed with synthetic training events, without training anything.

    python -m netbuilder.ui.training.plots [--steps-per-s 60] [--epochs 5] [--save shot.png]

A made-up network (three conv layers, two linear) "trains": the loss falls with noise, the
gradient norms settle, each epoch adds a test point, a confusion matrix and a histogram. Try the
smoothing slider, the x-axis choice, hovering, wheel zoom and Reset zoom while it runs.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

LAYERS = ("conv1", "conv2", "conv3", "fc1", "fc2")


class SyntheticRun:
    """Events of a plausible run, made from a seeded random stream."""

    def __init__(self, steps_per_epoch: int = 200, epochs: int = 5, seed: int = 0):
        from .runs import RunCurves

        self.rng = np.random.default_rng(seed)
        self.run = RunCurves(settings={"optimizer": "sgd", "lr": 0.05, "epochs": epochs})
        self.run.name = "synthetic"
        self.run.steps_per_epoch = steps_per_epoch
        self.run.total_epochs = epochs
        self.run.layer_names = list(LAYERS)
        self.step = 0

    @property
    def done(self) -> bool:
        return self.step >= self.run.steps_per_epoch * self.run.total_epochs

    def advance(self, steps: int = 1) -> bool:
        """Add `steps` steps (and an epoch's figures where one ends); True if an epoch ended."""
        from .runs import EpochPoint
        from .session import layer_norms

        ended = False
        for _ in range(steps):
            if self.done:
                break
            self.step += 1
            s = self.step
            loss = 2.3 * math.exp(-s / 180) + 0.08 + 0.12 * self.rng.standard_normal() ** 2
            self.run.add_step(s, loss, s * 0.012)
            if s % 10 == 0:
                norms = {
                    f"{name}.weight": (0.3 + i * 0.4) * (1.2 + math.sin(s / 90 + i)) * 0.5
                    + 0.05 * self.rng.random()
                    for i, name in enumerate(LAYERS)
                }
                self.run.add_grad_norms(s, layer_norms(norms))
                ratios = {
                    name: 10 ** (-2.2 - 0.4 * i - s / 2000 + 0.2 * self.rng.standard_normal())
                    for i, name in enumerate(LAYERS)
                }
                dead = {"relu1": 0.05 + s / 20000, "relu2": min(0.9, s / 1200)}
                spread = 0.1 + s / 5000
                weights = {name: np.array([-2, -0.7, 0, 0.7, 2]) * spread for name in LAYERS}
                grads = {name: w * 0.05 / (1 + s / 300) for name, w in weights.items()}
                self.run.add_diagnostics(s, ratios, dead, weights, grads)
            if s % self.run.steps_per_epoch == 0:
                e = s // self.run.steps_per_epoch
                acc = 0.99 - 0.5 * math.exp(-e)
                test = 0.05 + 0.6 * math.exp(-e)
                self.run.add_epoch(EpochPoint(e, s, loss, test, acc, 2.4))
                ended = True
        return ended

    def confusion(self) -> np.ndarray:
        m = self.rng.integers(0, 6, size=(10, 10))
        np.fill_diagonal(m, self.rng.integers(80, 120, size=10))
        return m

    def histogram(self):
        grad = np.histogram(self.rng.normal(0, 0.01, 4000), bins=32)
        weight = np.histogram(self.rng.normal(0, 0.1, 4000), bins=32)
        return grad, weight


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps-per-s", type=float, default=60.0)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--save", help="render until the run ends, save a PNG of the plots, exit")
    args = ap.parse_args(argv)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .board import PlotBoard
    from .plot_theme import Theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    board = PlotBoard(Theme())
    board.setWindowTitle("NetBuilder plots: synthetic run")
    board.resize(1200, 720)
    feed = SyntheticRun(epochs=args.epochs)
    board.grad_plot.set_layers(list(LAYERS))
    board.show_run(feed.run, None)
    board.show()
    per_tick = max(1, round(args.steps_per_s / 10)) if not args.save else 40

    def tick() -> None:
        if feed.advance(per_tick):
            board.confusion.set_matrix(feed.confusion(), feed.run.epochs[-1].epoch)
            board.loss_plot.show_epochs(feed.run)
            board.accuracy_plot.show_run(feed.run)
        board.loss_plot.show_steps(feed.run)
        board.grad_plot.show_run(feed.run)
        board.show_diagnostics(feed.run, "conv2")
        grad, weight = feed.histogram()
        board.histograms.show_histograms("conv2", feed.step, grad, weight)

    if args.save:  # render the whole run at once, save, return (no event loop of its own)
        while not feed.done:
            tick()
            app.processEvents()
        board.grab().save(args.save)
        board.close()
        board.deleteLater()
        return 0
    timer = QTimer()
    timer.setInterval(100)
    timer.timeout.connect(lambda: timer.stop() if feed.done else tick())
    timer.start()
    app.exec()
    return 0
