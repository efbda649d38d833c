"""The inspector: the selected block's name and parameters, as a form built from its schema."""

from __future__ import annotations

import math
import re

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from netbuilder.blocks import BlockError
from netbuilder.graph import commands as cmds
from netbuilder.ui import icons
from netbuilder.ui.canvas.items import format_shape

INT_LIMIT = 2_000_000_000


def parse_shape(text: str) -> tuple[int, ...]:
    parts = [p for p in re.split(r"[x×,\s]+", text.strip()) if p]
    if not parts:
        raise BlockError("enter a shape such as 1x28x28 (channels x height x width) or 784")
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise BlockError(
            f"'{text}' is not a shape: use whole numbers joined by x, e.g. 1x28x28"
        ) from None


def parse_padding(text: str):
    t = text.strip().lower()
    if t in ("same", "valid"):
        return t
    try:
        values = parse_shape(t)
    except BlockError:
        raise BlockError(
            f"padding '{text}' must be a number, two numbers (h, w), 'same' or 'valid'"
        ) from None
    return values[0] if len(values) == 1 else values


def _pair(value) -> tuple[int, int]:
    if isinstance(value, (list, tuple)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


class _Field:
    """One parameter's editor; reads and writes the model value, emits via ``commit``."""

    def __init__(self, inspector: Inspector, spec):
        self.inspector = inspector
        self.spec = spec
        self.auto_box: QCheckBox | None = None
        self.widget = self._make()
        container = QWidget()
        row = QHBoxLayout(container)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        row.addWidget(self.widget, 1)
        if spec.auto or spec.optional:
            self.auto_box = QCheckBox("auto")
            self.auto_box.setToolTip("Follow the input (checked) or pin a number (unchecked)")
            self.auto_box.toggled.connect(self._auto_toggled)
            row.addWidget(self.auto_box)
        self.container = container
        for w in (self.widget, container):
            w.setToolTip(spec.help)

    def _make(self) -> QWidget:
        s = self.spec
        kind = s.kind
        if kind == "int":
            w = QSpinBox()
            w.setRange(
                int(s.min) if s.min is not None else -INT_LIMIT,
                int(s.max) if s.max is not None else INT_LIMIT,
            )
            w.setKeyboardTracking(False)
            w.valueChanged.connect(self._commit_widget)
        elif kind == "float":
            w = QDoubleSpinBox()
            # enough decimals for small defaults such as BatchNorm's eps = 1e-5
            small = abs(float(s.default or 0.0))
            w.setDecimals(
                4 if small == 0 or small >= 1e-3 else min(10, 2 - math.floor(math.log10(small)))
            )
            lo = float(s.min) if s.min is not None else -1e9
            hi = float(s.max) if s.max is not None else 1e9
            w.setRange(lo, hi)
            w.setSingleStep(0.05 if hi <= 1.0 else 0.1)
            w.setKeyboardTracking(False)
            w.valueChanged.connect(self._commit_widget)
        elif kind == "bool":
            w = QCheckBox()
            w.toggled.connect(self._commit_widget)
        elif kind == "choice":
            w = QComboBox()
            for c in s.choices or ():
                w.addItem(str(c), c)
            w.activated.connect(self._commit_widget)
        elif kind == "pair":
            w = QWidget()
            lay = QHBoxLayout(w)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.setSpacing(4)
            self.pair = []
            for axis in ("h", "w"):
                spin = QSpinBox()
                spin.setRange(
                    int(s.min) if s.min is not None else 0,
                    int(s.max) if s.max is not None else 4096,
                )
                spin.setKeyboardTracking(False)
                spin.setPrefix(f"{axis} ")
                spin.valueChanged.connect(self._commit_widget)
                lay.addWidget(spin)
                self.pair.append(spin)
        else:  # "shape", "padding" and anything textual
            w = QLineEdit()
            if kind == "padding":
                w.setPlaceholderText("2, 1x2 (h x w), same or valid")
            elif kind == "shape":
                w.setPlaceholderText("1x28x28 or 784")
            w.editingFinished.connect(self._commit_widget)
        w.setObjectName(f"param_{s.name}")
        # spin boxes size themselves for their whole range (10 digits): let the form decide
        for spin in [w, *getattr(self, "pair", [])]:
            if isinstance(spin, QSpinBox | QDoubleSpinBox):
                spin.setMinimumWidth(56)
        return w

    # model -> widget
    def show(self, value, resolved) -> None:
        s, w = self.spec, self.widget
        w.blockSignals(True)
        for spin in getattr(self, "pair", []):
            spin.blockSignals(True)
        try:
            is_auto = (s.auto or s.optional) and value is None
            if is_auto and resolved is None:
                resolved = self.inspector.effective_default(s)
            shown = resolved if is_auto else value
            if self.auto_box is not None:
                self.auto_box.blockSignals(True)
                self.auto_box.setChecked(is_auto)
                n = "?" if resolved is None else resolved
                self.auto_box.setText(f"auto (= {n})" if is_auto else "auto")
                self.auto_box.blockSignals(False)
                w.setEnabled(not is_auto)
            if s.kind == "int":
                w.setValue(int(shown) if shown is not None else w.minimum())
            elif s.kind == "float":
                w.setValue(float(shown) if shown is not None else 0.0)
            elif s.kind == "bool":
                w.setChecked(bool(shown))
            elif s.kind == "choice":
                i = w.findData(shown)
                w.setCurrentIndex(i if i >= 0 else w.findText(str(shown)))
            elif s.kind == "pair":
                if shown is not None:
                    h, ww = _pair(shown)
                    self.pair[0].setValue(h)
                    self.pair[1].setValue(ww)
            elif s.kind == "shape":
                w.setText(format_shape(shown) if shown is not None else "")
            else:
                if isinstance(shown, (list, tuple)):
                    w.setText(", ".join(str(v) for v in shown))
                else:
                    w.setText("" if shown is None else str(shown))
        finally:
            w.blockSignals(False)
            for spin in getattr(self, "pair", []):
                spin.blockSignals(False)

    # widget -> model
    def value(self):
        s, w = self.spec, self.widget
        if s.kind in ("int", "float"):
            return w.value()
        if s.kind == "bool":
            return w.isChecked()
        if s.kind == "choice":
            return w.currentData()
        if s.kind == "pair":
            h, ww = self.pair[0].value(), self.pair[1].value()
            return h if h == ww else (h, ww)
        if s.kind == "shape":
            return parse_shape(w.text())
        if s.kind == "padding":
            return parse_padding(w.text())
        return w.text()

    def _commit_widget(self, *_):
        try:
            value = self.value()
        except BlockError as exc:
            self.inspector.refuse(str(exc))
            return
        self.inspector.commit(self.spec.name, value)

    def _auto_toggled(self, checked: bool) -> None:
        if checked:
            self.inspector.commit(self.spec.name, None)
        else:
            node = self.inspector.node()
            pinned = node.resolved.get(self.spec.name) if node is not None else None
            if pinned is None:
                pinned = self.inspector.effective_default(self.spec)
            self.inspector.commit(self.spec.name, pinned)


class Inspector(QWidget):
    """Edits one node: Rename and SetParams commands, pushed through the editor's runner."""

    def __init__(self, runner, block_for, parent=None):
        super().__init__(parent)
        self.runner = runner
        self.block_for = block_for
        self.graph = None
        self.node_id: str | None = None
        self.fields: dict[str, _Field] = {}
        self._locked_reason: str | None = None

        self.title = QLabel()
        self.title.setObjectName("inspectorTitle")
        self.icon = QLabel()
        head = QHBoxLayout()
        head.addWidget(self.icon)
        head.addWidget(self.title, 1)
        self.description = QLabel(wordWrap=True)
        self.description.setObjectName("inspectorHelp")
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("nodeName")
        self.name_edit.setToolTip("The node's name: a Python identifier, used in the exported code")
        self.name_edit.editingFinished.connect(self._rename)
        self.network_name_edit = QLineEdit()
        self.network_name_edit.setObjectName("networkName")
        self.network_name_edit.setToolTip(
            "The network's name: its class in the exported code (a Python identifier, like LeNet)"
        )
        self.network_name_edit.editingFinished.connect(self._rename_network)
        self.output = QLabel()
        self.output.setObjectName("inspectorOutput")
        self.problems = QLabel(wordWrap=True)
        self.problems.setObjectName("inspectorProblems")
        self.error = QLabel(wordWrap=True)
        self.error.setObjectName("inspectorError")
        self.field_help = QLabel(wordWrap=True)
        self.field_help.setObjectName("inspectorHelp")
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.form.setLabelAlignment(Qt.AlignRight | Qt.AlignVCenter)

        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(10, 10, 10, 10)
        lay.setSpacing(8)
        lay.addLayout(head)
        lay.addWidget(self.description)
        self.name_row = QWidget()
        name_form = QFormLayout(self.name_row)
        name_form.setContentsMargins(0, 0, 0, 0)
        name_form.setLabelAlignment(Qt.AlignRight | Qt.AlignVCenter)
        name_form.addRow("Name", self.name_edit)
        lay.addWidget(self.name_row)
        self.network_row = QWidget()
        network_form = QFormLayout(self.network_row)
        network_form.setContentsMargins(0, 0, 0, 0)
        network_form.setLabelAlignment(Qt.AlignRight | Qt.AlignVCenter)
        network_form.addRow("Name", self.network_name_edit)
        lay.insertWidget(1, self.network_row)  # under the title, as a block's name is
        lay.addWidget(self.form_host)
        lay.addWidget(self.output)
        lay.addWidget(self.problems)
        lay.addWidget(self.error)
        lay.addWidget(self.field_help)
        lay.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self._body = body
        QApplication.instance().focusChanged.connect(self._focus_changed)
        self.show_node(None)

    def _focus_changed(self, old, new) -> None:
        """Show the help of the parameter being edited under the form."""
        for field in self.fields.values():
            if new is not None and (new is field.widget or field.container.isAncestorOf(new)):
                self.field_help.setText(f"<b>{field.spec.label}</b>: {field.spec.help}")
                return

    def set_graph(self, graph) -> None:
        self.graph = graph
        self.show_node(None)

    def node(self):
        if self.graph is None or self.node_id is None:
            return None
        return self.graph.nodes.get(self.node_id)

    def show_node(self, node_id: str | None, count: int = 0, selected=()) -> None:
        """Build the form for a node (None: show a hint, or a summary of the ``selected``
        node ids when several blocks are selected)."""
        self.node_id = node_id
        self.fields.clear()
        while self.form.rowCount():
            self.form.removeRow(0)
        self.error.clear()
        self.field_help.clear()
        node = self.node()
        has = node is not None
        for w in (self.name_row, self.form_host, self.output, self.problems, self.icon):
            w.setVisible(has)
        # nothing selected: the network itself is what the inspector edits
        self.network_row.setVisible(not has and count < 2)
        if not has:
            self.title.setText("<b>Network</b>" if count < 2 else f"{count} blocks selected")
            if count < 2:
                self._show_network()
            else:
                self.description.setText(self._selection_summary(selected))
            return
        block = self.block_for(node)
        self.title.setText(f"<b>{block.label if block else node.type}</b>")
        self.icon.setPixmap(icons.block_icon(block.icon if block else "").pixmap(22, 22))
        self.description.setText(block.description if block else "")
        for spec in block.params if block else ():
            field = _Field(self, spec)
            label = QLabel(spec.label)
            label.setToolTip(spec.help)
            self.form.addRow(label, field.container)
            self.fields[spec.name] = field
        self.refresh()

    def _selection_summary(self, node_ids) -> str:
        chosen = set(node_ids)
        nodes = [n for nid, n in (self.graph.nodes.items() if self.graph else ()) if nid in chosen]
        if not nodes:
            return ""
        names = ", ".join(n.name for n in nodes[:8]) + (", …" if len(nodes) > 8 else "")
        total = sum(n.param_count or 0 for n in nodes)
        unknown = any(n.param_count is None for n in nodes)
        return (
            f"{names}\n{'at least ' if unknown else ''}{total:,} parameters in all.\n\n"
            "Delete removes them; Ctrl+C, Ctrl+X and Ctrl+D copy, cut and duplicate them with "
            "their wires; the arrow keys move them. Select one block to edit its parameters."
        )

    def _show_network(self) -> None:
        graph = self.graph
        if graph is not None and not self.network_name_edit.hasFocus():
            self.network_name_edit.setText(graph.name)
        self.network_name_edit.setEnabled(graph is not None and self._locked_reason is None)
        count = len(graph.nodes) if graph is not None else 0
        stats = (
            f"{count} block{'s' if count != 1 else ''} · {graph.total_params:,} parameters\n\n"
            if count
            else ""
        )
        self.description.setText(
            f"{stats}Select a block to edit its parameters. Drag blocks from the palette, or "
            "press Tab on the canvas to add one."
        )

    def refresh(self) -> None:
        """Show the model's current values (after any change: undo, inference, others' edits)."""
        node = self.node()
        if node is None:
            if self.node_id is not None:
                self.show_node(None)
            elif self.network_row.isVisibleTo(self):
                self._show_network()
            return
        if not self.name_edit.hasFocus():
            self.name_edit.setText(node.name)
        # inside a composite, a value its instance sets (an exposed parameter) shows that
        # instance's value and is edited on the composite one level up
        overrides = (getattr(self.graph, "param_overrides", None) or {}).get(node.id, {})
        for name, field in self.fields.items():
            if name in overrides:
                field.show(overrides[name], node.resolved.get(name))
                field.container.setEnabled(False)
                field.container.setToolTip(
                    "Set by this composite's own parameter: change it on the composite block "
                    "one level up"
                )
            else:
                field.show(node.params.get(name), node.resolved.get(name))
                field.container.setEnabled(True)
        count = node.param_count
        counted = (
            "? parameters (unknown until its input is)"
            if count is None
            else f"{count:,} parameters"
        )
        self.output.setText(f"Output <b>{format_shape(node.out_shape)}</b> · {counted}")
        self.problems.setText("<br>".join(f"⚠ {p}" for p in node.problems))
        self.problems.setVisible(bool(node.problems))
        self.form_host.setEnabled(self._locked_reason is None)
        self.name_edit.setEnabled(self._locked_reason is None)

    def effective_default(self, spec):
        """What None means for an optional parameter: pool stride = the kernel size."""
        node = self.node()
        if spec.name == "stride" and node is not None and "kernel_size" in node.params:
            return node.params["kernel_size"]
        if spec.default is not None:
            return spec.default
        return int(spec.min) if spec.min is not None else 1

    def set_locked(self, reason: str | None) -> None:
        self._locked_reason = reason
        self.refresh()
        if reason:
            self.error.setText(reason)
        else:
            self.error.clear()

    def refuse(self, reason: str) -> None:
        self.error.setText(f"Refused: {reason}")
        self.refresh()

    def commit(self, name: str, value) -> None:
        node = self.node()
        if node is None or node.params.get(name) == value:
            return
        self.error.clear()
        if not self.runner.push(cmds.SetParams(node.id, {name: value})):
            self.refuse(self.runner.last_error or "the value was refused")

    def _rename_network(self) -> None:
        new = self.network_name_edit.text().strip()
        if self.graph is None or new == self.graph.name:
            return
        self.error.clear()
        if not self.runner.push(cmds.RenameNetwork(new)):
            self.network_name_edit.setText(self.graph.name)
            self.error.setText(f"Refused: {self.runner.last_error}")

    def _rename(self) -> None:
        node = self.node()
        new = self.name_edit.text().strip()
        if node is None or new == node.name:
            return
        self.error.clear()
        if not self.runner.push(cmds.Rename(node.id, new)):
            self.name_edit.setText(node.name)
            self.error.setText(f"Refused: {self.runner.last_error}")
