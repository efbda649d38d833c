"""The live training dashboard (issue 7): settings, controls, plots; see CONTRACTS.md section 7."""

from __future__ import annotations

from .panel import TrainingDashboard


def install(window, trainer_factory=None) -> TrainingDashboard:
    """Add the training docks and the Train menu's actions to `window` (a MainWindow, or any
    object with the section-7 members). `trainer_factory(graph, settings)` replaces the
    Trainer (tests, benchmarks). The dashboard is kept as `window.training`."""
    dashboard = TrainingDashboard(window, trainer_factory=trainer_factory)
    window.training = dashboard
    return dashboard


__all__ = ["TrainingDashboard", "install"]
