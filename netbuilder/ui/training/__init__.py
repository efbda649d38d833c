"""The live training dashboard: settings, controls, plots.

Importing this package is light (no Qt) so that the training child process, which unpickles
netbuilder.ui.training.worker, does not load Qt; `install` imports the panel.
"""

from __future__ import annotations


def install(window, trainer_factory=None):
    """Add the training docks and the Train menu's actions to `window` (a MainWindow, or any
    DashboardHost: host.py) and return the TrainingDashboard, also kept as
    `window.training`. `trainer_factory(graph_dict, settings_dict) -> trainer` replaces the
    real Trainer (tests); it runs in the child process, so it must be picklable."""
    from .panel import TrainingDashboard

    dashboard = TrainingDashboard(window, trainer_factory=trainer_factory)
    window.training = dashboard
    return dashboard


__all__ = ["install"]
