"""The row above the plots: show/hide, Train, Pause, Stop, progress, Save/Export, messages."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

# one line at 1280x800: the collapsed dock has room for no more
START_HINT = "Press Train (F5): loss, accuracy and each layer's gradients appear here."
LOCK_REASON = "Training is running: stop it (Shift+F5) to change the network"


def action_button(action: QAction, primary: bool = False) -> QToolButton:
    b = QToolButton()
    b.setDefaultAction(action)
    b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    b.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
    b.setMinimumHeight(30)
    if primary:
        f = b.font()
        f.setBold(True)
        b.setFont(f)
    return b


def html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
    )


class TrainingHeader(QWidget):
    """Buttons, progress and messages above the plots, visible whenever the dock is."""

    blockChosen = Signal(str)  # a node id: a warning's block name was clicked

    def __init__(self, train, pause, stop, save, export, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 2)
        layout.setSpacing(4)
        row = QHBoxLayout()
        row.setSpacing(6)
        self.plots_toggle = QToolButton()
        self.plots_toggle.setObjectName("plotsToggle")
        self.plots_toggle.setCheckable(True)
        self.plots_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.plots_toggle.setAutoRaise(True)
        self.plots_toggle.setText("Plots")
        self.plots_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.plots_toggle.setToolTip("Show or hide the plots (they open when training starts)")
        row.addWidget(self.plots_toggle)
        self.train_button = action_button(train, primary=True)
        self.pause_button = action_button(pause)
        self.stop_button = action_button(stop)
        for b in (self.train_button, self.pause_button, self.stop_button):
            b.setMinimumWidth(58)
            row.addWidget(b)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("Ready")
        self.progress.setMinimumHeight(26)
        self.progress.setMinimumWidth(150)
        row.addWidget(self.progress, 1)
        self.save_button = action_button(save)
        self.export_button = action_button(export)
        row.addWidget(self.save_button)
        row.addWidget(self.export_button)
        layout.addLayout(row)

        info = QHBoxLayout()
        self.status_label = QLabel(START_HINT)
        self.status_label.setWordWrap(True)
        info.addWidget(self.status_label, 1)
        self.lock_label = QLabel("Network locked while training")
        self.lock_label.setToolTip(LOCK_REASON)
        self.lock_label.setStyleSheet(
            "QLabel { background: rgba(237, 201, 72, 70); border-radius: 4px; padding: 2px 6px;"
            " border: 1px solid rgba(237, 201, 72, 170); }"
        )
        self.lock_label.hide()
        info.addWidget(self.lock_label)
        layout.addLayout(info)

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.setStyleSheet(
            "QLabel { background: rgba(225, 87, 89, 45); border-radius: 4px; padding: 6px;"
            " border: 1px solid rgba(225, 87, 89, 170); }"
        )
        self.message_label.hide()
        layout.addWidget(self.message_label)

        self.warning_label = QLabel()
        self.warning_label.setObjectName("layerWarnings")
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet(
            "QLabel { background: rgba(237, 201, 72, 55); border-radius: 4px; padding: 4px 6px;"
            " border: 1px solid rgba(237, 201, 72, 170); }"
        )
        self.warning_label.setToolTip("Click a block's name to select it on the canvas")
        self.warning_label.linkActivated.connect(lambda href: self.blockChosen.emit(href))
        self.warning_label.hide()
        layout.addWidget(self.warning_label)
        self.warnings: list[tuple[str, str]] = []

    def show_warnings(self, warnings: list[tuple[str, str]], node_ids: dict) -> None:
        """(block name, sentence) pairs; the name at the start of each links to its block."""
        self.warnings = list(warnings)
        if not warnings:
            self.warning_label.hide()
            return
        lines = []
        for block, text in warnings[:3]:
            rest = html(text[len(block) :] if text.startswith(block) else ": " + text)
            nid = node_ids.get(block)
            name = f"<a href='{html(nid)}'>{html(block)}</a>" if nid else html(block)
            lines.append(f"⚠ <b>{name}</b>{rest}")
        if len(warnings) > 3:
            lines.append(f"… and {len(warnings) - 3} more")
        self.warning_label.setText("<br>".join(lines))
        self.warning_label.show()

    def show_message(self, title: str, message: str) -> None:
        self.message_label.setText(f"<b>{html(title)}</b><br>{html(message)}")
        self.message_label.show()

    def set_expanded_arrow(self, on: bool) -> None:
        self.plots_toggle.setChecked(on)
        self.plots_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
