"""`netbuilder.ui.app.main(argv)`: start the editor, with LeNet, the project file given or a
template named."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from netbuilder.desktop import APP_ID
from netbuilder.graph.templates import DEFAULT_TEMPLATE, template_names


def make_app(argv: list[str] | None = None):
    from PySide6.QtWidgets import QApplication

    from netbuilder.ui import theme

    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv or [sys.argv[0]])[:1])
        app.setApplicationName("NetBuilder")
        app.setOrganizationName("NetBuilder")
        app.setApplicationDisplayName("NetBuilder")
        app.setDesktopFileName(APP_ID)  # Wayland links the window to its launcher
    theme.apply(app)
    _follow_system_scheme(app)
    return app


def _follow_system_scheme(app) -> None:
    from PySide6.QtGui import QGuiApplication

    from netbuilder.ui import theme

    if os.environ.get("NETBUILDER_THEME") or getattr(app, "_nb_scheme_hooked", False):
        return
    hints = QGuiApplication.styleHints()
    if hasattr(hints, "colorSchemeChanged"):

        def restyle(*_):
            theme.apply(app)
            for w in app.topLevelWidgets():
                if hasattr(w, "retheme"):
                    w.retheme()

        hints.colorSchemeChanged.connect(restyle)
        app._nb_scheme_hooked = True


def create_window(path: str | os.PathLike | None = None, **kwargs):
    """A MainWindow holding the project at ``path`` (a file, or a template's name opened as a
    new, unsaved project), or the LeNet template ready to train."""
    from netbuilder.ui.mainwindow import MainWindow

    window = MainWindow(**kwargs)
    if path is not None and not Path(path).is_file() and str(path) in template_names():
        window.load_template(str(path))
    elif path is None or not window.open_path(path):
        window.load_template(DEFAULT_TEMPLATE)
    return window


def main(argv: list[str] | None = None) -> int:
    """argv as sys.argv: [program, FILE?] (an `open` subcommand word is skipped)."""
    argv = list(sys.argv if argv is None else argv)
    args = argv[1:]
    if args and args[0] == "open":
        args = args[1:]
    app = make_app(argv)
    from PySide6.QtCore import QTimer

    path = Path(args[0]) if args else None
    window = create_window(path)
    window.show()
    window.activateWindow()  # without a window manager (Xvfb, kiosk) nothing else does
    window.raise_()
    window.canvas.setFocus()  # Tab, F, L and Delete work at once
    window.canvas.fit()
    QTimer.singleShot(0, window.canvas.fit)
    QTimer.singleShot(50, window.offer_recovery)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
