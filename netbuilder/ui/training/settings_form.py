"""The training settings form, generated from the settings schema (one row per setting, in
its group, shown only when it applies to the chosen optimizer, schedule or loss).

The form edits a plain dict (the project's "training" settings) and reports each change with
`changed(key, value)`; the panel writes it into the project. Every box takes the schema's whole
range, so a value the schema accepts is shown and kept as it is, never clamped.
"""

from __future__ import annotations

import math
import queue
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QRegularExpression, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from netbuilder.training.schema import BY_NAME, INT_MAX, SETTINGS, TINY, SettingsError

from . import options

# dataset combo entries that are not paths
_SAMPLE = "sample"
_MNIST = "mnist"


class _SciSpin(QDoubleSpinBox):
    """A float box that shows any value exactly and readably (3e-4, 0.999, 2)."""

    def __init__(self, lo: float, hi: float, decimals: int = 323):
        super().__init__()
        self.setDecimals(decimals)  # no rounding of what the project holds
        self.setRange(lo, hi)
        self.setKeyboardTracking(False)

    def sizeHint(self) -> QSize:
        # Qt sizes a spin box for its longest value (1.8e308 here): size it for a typical one
        hint = super().sizeHint()
        typical = self.fontMetrics().horizontalAdvance("0.000001") + 40
        return QSize(min(hint.width(), typical), hint.height())

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), self.sizeHint().width()), hint.height())

    def textFromValue(self, value: float) -> str:
        text = repr(float(value))  # the shortest text that reads back as the same float
        return text[:-2] if text.endswith(".0") else text

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.replace(",", "."))
        except ValueError:
            return self.value()

    def validate(self, text, pos):
        from PySide6.QtGui import QValidator

        try:
            float(text.replace(",", "."))
            return QValidator.State.Acceptable, text, pos
        except ValueError:
            return QValidator.State.Intermediate, text, pos


class _IntSpin(QSpinBox):
    """A whole-number box sized for typical values, not for its largest (2147483647)."""

    def _typical_width(self) -> int:
        texts = ("000000" + self.suffix(), self.specialValueText())
        return max(self.fontMetrics().horizontalAdvance(t) for t in texts) + 40

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(min(hint.width(), self._typical_width()), hint.height())

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), self._typical_width()), hint.height())


def _remotes():
    from netbuilder.data.download import REMOTES

    return REMOTES


class DatasetChooser(QWidget):
    """Bundled sample, a downloaded data set (MNIST, Fashion-MNIST, KMNIST, CIFAR-10), a folder
    (IDX, CIFAR-10 binary or images) or a .npz file; downloads the named ones; opens the data
    view."""

    changed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setMinimumContentsLength(10)
        self.combo.addItem("Bundled sample", _SAMPLE)
        self.combo.addItem("MNIST (downloaded)", _MNIST)
        for name, remote in _remotes().items():
            if name != _MNIST:
                self.combo.addItem(f"{remote.title} (downloaded)", name)
        self.combo.setToolTip("The data set to train on; the default is the small bundled sample")
        layout.addWidget(self.combo)
        row = QHBoxLayout()
        row.setSpacing(4)
        self.idx_button = QPushButton("Folder…")
        self.idx_button.setToolTip(
            "A folder of MNIST-style IDX files, of CIFAR-10 binary batches "
            "(cifar-10-batches-bin), or of images: train/<class>/*.png|jpg and test/<class>/"
        )
        self.npz_button = QPushButton(".npz file…")
        self.npz_button.setToolTip("A .npz with x_train, y_train, x_test, y_test")
        self.download_button = QPushButton("Download MNIST")
        self.download_button.setToolTip("Fetch MNIST (about 11 MB) into the user cache")
        for b in (self.idx_button, self.npz_button):
            row.addWidget(b)
        layout.addLayout(row)
        self.look_button = QPushButton("Look at the data…")
        self.look_button.setToolTip(
            "Samples of every class, images per class, size, mean and std, and what the "
            "Input block makes of an image"
        )
        self.look_button.clicked.connect(self.look)
        lrow = QHBoxLayout()
        lrow.setSpacing(4)
        lrow.addWidget(self.download_button)
        lrow.addWidget(self.look_button)
        layout.addLayout(lrow)
        drow = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        drow.addWidget(self.progress, 1)
        drow.addWidget(self.cancel_button)
        layout.addLayout(drow)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self._set_downloading(False)
        self.status.hide()

        self.combo.currentIndexChanged.connect(lambda _i: self.changed.emit(self.value()))
        self.combo.currentIndexChanged.connect(self._label_download)
        self.idx_button.clicked.connect(self._choose_idx)
        self.npz_button.clicked.connect(self._choose_npz)
        self.download_button.clicked.connect(self.start_download)
        self.cancel_button.clicked.connect(self.cancel_download)

        self._download_thread: threading.Thread | None = None
        self._download_cancel = threading.Event()
        self._download_events: queue.Queue = queue.Queue()
        self._download_timer = QTimer(self)
        self._download_timer.setInterval(66)
        self._download_timer.timeout.connect(self._drain_download)

    def _download_name(self) -> str:
        """The named data set the Download button fetches: the chosen one, else MNIST."""
        value = self.value()
        return value if value in _remotes() else _MNIST

    def _label_download(self, *_) -> None:
        remote = _remotes()[self._download_name()]
        self.download_button.setText(f"Download {remote.title}")
        self.download_button.setToolTip(f"Fetch {remote.title} into the user cache, once")

    def look(self) -> None:
        """Open the data view for the chosen data set and the project's Input block."""
        from netbuilder.ui.data_view import DataView

        graph = getattr(getattr(self.window(), "project", None), "graph", None)
        inputs = [n for n in graph.nodes.values() if n.type == "Input"] if graph else []
        shape = inputs[0].out_shape if len(inputs) == 1 else None
        self.data_view = DataView(self.value(), shape, self.window())
        self.data_view.show()

    # -- value -------------------------------------------------------------------------------
    def value(self) -> str:
        return str(self.combo.currentData())

    def set_value(self, spec: str) -> None:
        spec = spec or _SAMPLE
        i = self.combo.findData(spec)
        if i < 0:
            name = Path(spec).name or spec
            self.combo.addItem(f"{name}  ({spec})", spec)
            i = self.combo.count() - 1
            self.combo.setItemData(i, spec, Qt.ItemDataRole.ToolTipRole)
        self.combo.setCurrentIndex(i)

    def _choose_idx(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder of IDX files")
        if path:
            self.set_value(path)

    def _choose_npz(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a .npz data set", "", "NumPy archives (*.npz)"
        )
        if path:
            self.set_value(path)

    # -- download ----------------------------------------------------------------------------
    @property
    def downloading(self) -> bool:
        return self._download_thread is not None and self._download_thread.is_alive()

    def _set_downloading(self, on: bool) -> None:
        self.progress.setVisible(on)
        self.cancel_button.setVisible(on)
        self.download_button.setEnabled(not on)

    def start_download(self, download=None) -> None:
        """Download MNIST on a thread; `download` replaces the real function in tests."""
        if self.downloading:
            return
        name = self._download_name()
        title = _remotes()[name].title
        if download is None or isinstance(download, bool):  # clicked(bool) passes a bool
            from netbuilder.data.download import download_dataset

            def download(**kwargs):
                return download_dataset(name, **kwargs)
        self._download_cancel.clear()
        self._download_events = events = queue.Queue()
        cancel = self._download_cancel

        def progress(done: int, total: int | None, file_name: str = "") -> None:
            events.put(("progress", (done, total), file_name))

        def work() -> None:
            try:
                path = download(progress=progress, cancel=cancel)
                events.put(("done", str(path), None))
            except Exception as exc:  # noqa: BLE001 - shown in the form, never a traceback
                if cancel.is_set():
                    events.put(("cancelled", None, None))
                else:
                    events.put(("error", f"{exc}", None))

        self.progress.setRange(0, 0)
        self.progress.setFormat(f"Downloading {title}…")
        self._set_downloading(True)
        self.status.setText(f"Downloading {title}…")
        self._downloading_name = name
        self.status.show()
        self._download_thread = threading.Thread(target=work, name="mnist-download", daemon=True)
        self._download_thread.start()
        self._download_timer.start()

    def cancel_download(self) -> None:
        self._download_cancel.set()
        self.status.setText("Cancelling…")

    def wait_download(self, timeout: float = 10.0) -> None:
        if self._download_thread is not None:
            self._download_thread.join(timeout)

    def _drain_download(self) -> None:
        while True:
            try:
                kind, a, b = self._download_events.get_nowait()
            except queue.Empty:
                break
            if kind == "progress":
                (done, total), name = a, b
                if total:
                    self.progress.setRange(0, 1000)
                    self.progress.setValue(int(1000 * min(done, total) / total))
                    self.progress.setFormat(f"{name}: {done / 1e6:.1f} of {total / 1e6:.1f} MB")
                else:
                    self.progress.setRange(0, 0)
                    self.progress.setFormat(f"{name}: {done / 1e6:.1f} MB")
            else:
                self._download_timer.stop()
                self._set_downloading(False)
                if kind == "done":
                    name = getattr(self, "_downloading_name", _MNIST)
                    self.status.setText(f"{_remotes()[name].title} is ready in {a}")
                    self.set_value(name)
                elif kind == "cancelled":
                    self.status.setText("Download cancelled; start it again to resume.")
                else:
                    self.status.setText(f"Download failed: {a}")
                return


_GROUPS = (("data", "Data"), ("optimisation", "Optimisation"), ("run", "Run"))
_FLOAT_MAX = sys.float_info.max  # "no upper bound" for a spin box


def _float_range(setting) -> tuple[float, float]:
    """The schema's range as a closed one (an open bound moves to the next float inside)."""
    low = -_FLOAT_MAX if setting.low is None else float(setting.low)
    high = _FLOAT_MAX if setting.high is None else float(setting.high)
    if setting.low_open:  # the schema refuses anything between 0 and TINY
        low = TINY if low == 0 else math.nextafter(low, math.inf)
    if setting.high_open:
        high = math.nextafter(high, -math.inf)
    return low, high


def _step(default) -> float:
    """Arrow step: a tenth of the default's order of magnitude (0.01 -> 0.001)."""
    default = abs(float(default or 0))
    return 10 ** math.floor(math.log10(default)) / 10 if default else 0.01


class SettingsForm(QWidget):
    """Every setting of the schema; `changed(key, value)` on every user edit. The widget of a
    setting is `widgets[name]` (also an attribute of that name: `form.lr`); a pair such as
    betas has two boxes, `beta1` and `beta2`."""

    changed = Signal(str, object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._loading = False
        self.load_problems: list[str] = []
        self.widgets: dict[str, QWidget] = {}
        self._rows: dict[str, tuple[QFormLayout, object]] = {}  # name -> (layout, row item)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        forms = {}
        for group, title in _GROUPS:
            box = QGroupBox(title)
            form = QFormLayout(box)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            forms[group] = form
            outer.addWidget(box)
        outer.addStretch(1)
        for setting in SETTINGS:
            self._add_row(forms[setting.group], setting)
        self._opt_form = forms["optimisation"]
        self.load(options.defaults())

    # -- building ----------------------------------------------------------------------------
    def _add_row(self, form: QFormLayout, setting) -> None:
        name, kind = setting.name, setting.kind
        tip = setting.help[:1].upper() + setting.help[1:]
        if kind == "text":  # the data set
            widget = DatasetChooser()
            widget.changed.connect(lambda v, k=name: self._emit(k, v))
            form.addRow(widget)
            self._register(name, widget, form, widget)
            return
        if kind == "choice":
            widget = QComboBox()
            for value, text in setting.choices:
                widget.addItem(text, value)
            # shrink with a narrow dock instead of clipping
            widget.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            widget.setMinimumContentsLength(8)
            widget.currentIndexChanged.connect(
                lambda _i, k=name, w=widget: self._emit(k, w.currentData())
            )
            if name in {k for values in _APPLIES_KEYS for k in values}:
                widget.currentIndexChanged.connect(self._update_visibility)
        elif kind == "bool":
            widget = QCheckBox(setting.label)
            widget.toggled.connect(lambda v, k=name: self._emit(k, bool(v)))
        elif kind == "int":
            widget = _IntSpin()
            low = -INT_MAX if setting.low is None else int(setting.low)
            widget.setRange(low, INT_MAX if setting.high is None else int(setting.high))
            if setting.unit:
                widget.setSuffix(f" {setting.unit}")
            if setting.special_zero and low == 0:
                widget.setSpecialValueText(setting.special_zero)
            widget.valueChanged.connect(lambda v, k=name: self._emit(k, v))
        elif kind == "float":
            widget = _SciSpin(*_float_range(setting))
            widget.setSingleStep(_step(setting.default))
            widget.valueChanged.connect(lambda v, k=name: self._emit(k, v))
        elif kind == "pair":
            widget = QWidget()
            row = QHBoxLayout(widget)
            row.setContentsMargins(0, 0, 0, 0)
            for i in range(2):
                box = _SciSpin(*_float_range(setting))
                box.setSingleStep(_step(setting.default[i]))
                box.setButtonSymbols(QDoubleSpinBox.ButtonSymbols.NoButtons)
                box.setMinimumWidth(60)
                box.valueChanged.connect(lambda _v, k=name: self._emit(k, self._value(k)))
                row.addWidget(box)
                self._attribute(f"{name[:-1]}{i + 1}", box)
        elif kind == "ints":
            widget = QLineEdit()
            widget.setPlaceholderText("epochs, e.g. 2, 4")
            widget.setValidator(
                QRegularExpressionValidator(QRegularExpression(r"^\s*(\d+\s*(,\s*)?)*$"))
            )
            widget.editingFinished.connect(lambda k=name: self._emit(k, self._value(k)))
        else:
            raise AssertionError(f"no widget for a {kind} setting")
        widget.setToolTip(tip)
        if kind == "bool":
            form.addRow("", widget)
        else:
            form.addRow(setting.label, widget)
        self._register(name, widget, form, widget)

    def _attribute(self, name: str, widget: QWidget) -> None:
        if not hasattr(QWidget, name):  # never hide a Qt method behind a setting's name
            setattr(self, name, widget)

    def _register(self, name: str, widget: QWidget, form: QFormLayout, row) -> None:
        self.widgets[name] = widget
        self._rows[name] = (form, row)
        self._attribute(name, widget)

    # -- plumbing --------------------------------------------------------------------------
    def _emit(self, key: str, value) -> None:
        if not self._loading:
            self.changed.emit(key, value)

    def _update_visibility(self, *_a) -> None:
        """Rows for the chosen optimizer, schedule and loss only (hidden rows take no space)."""
        current = {name: self._value(name) for name in _APPLIES_NAMES}
        for setting in SETTINGS:
            if setting.applies:
                form, row = self._rows[setting.name]
                form.setRowVisible(row, setting.applies_to(current))

    def _value(self, name: str):
        setting = BY_NAME[name]
        widget = self.widgets[name]
        if setting.kind == "text":
            return widget.value()
        if setting.kind == "choice":
            return widget.currentData()
        if setting.kind == "bool":
            return widget.isChecked()
        if setting.kind == "pair":
            return [box.value() for box in widget.findChildren(_SciSpin)]
        if setting.kind == "ints":
            return [int(t) for t in widget.text().replace(",", " ").split()]
        return widget.value()

    def _show(self, name: str, value) -> None:
        """Put a schema-checked value into its widget."""
        setting = BY_NAME[name]
        widget = self.widgets[name]
        value = setting.check(value)
        if setting.kind == "text":
            widget.set_value(value)
        elif setting.kind == "choice":
            widget.setCurrentIndex(widget.findData(value))
        elif setting.kind == "bool":
            widget.setChecked(value)
        elif setting.kind == "pair":
            for box, v in zip(widget.findChildren(_SciSpin), value, strict=True):
                box.setValue(v)
        elif setting.kind == "ints":
            widget.setText(", ".join(str(m) for m in value))
        else:
            widget.setValue(value)

    # -- public ----------------------------------------------------------------------------
    def load(self, settings: dict) -> None:
        """Show `settings` (missing keys take the defaults) without emitting `changed`.
        Values the schema refuses (a word where a number belongs) keep the default and are
        listed in `self.load_problems` as "key=value" for the panel to report."""
        defaults = options.defaults()
        values = {**defaults, **(settings or {})}
        self.load_problems = []
        self._loading = True
        try:
            for setting in SETTINGS:
                value = values.get(setting.name)
                try:
                    self._show(setting.name, value)
                except SettingsError:
                    self.load_problems.append(f"{setting.name}={value!r}")
                    self._show(setting.name, defaults[setting.name])
        finally:
            self._loading = False
        self._update_visibility()

    def values(self) -> dict:
        return {setting.name: self._value(setting.name) for setting in SETTINGS}

    def set_running(self, running: bool) -> None:
        for box in self.findChildren(QGroupBox):
            box.setEnabled(not running)


# the settings others depend on (optimizer, schedule, loss): their choice changes the rows shown
_APPLIES_KEYS = [tuple(s.applies) for s in SETTINGS]
_APPLIES_NAMES = sorted({k for keys in _APPLIES_KEYS for k in keys})
