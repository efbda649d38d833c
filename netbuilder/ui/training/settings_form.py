"""The training settings form: data set, loss, optimizer, schedule, batch size, epochs, seed.

The form edits a plain dict (the project's "training" settings, CONTRACTS.md section 6) and
reports each change with `changed(key, value)`; the panel writes it into the project.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

from PySide6.QtCore import QRegularExpression, Qt, QTimer, Signal
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

from . import options

# dataset combo entries that are not paths
_SAMPLE = "sample"
_MNIST = "mnist"


class _SciSpin(QDoubleSpinBox):
    """A float box that shows small values such as 3e-4 readably."""

    def __init__(self, lo: float, hi: float, decimals: int = 6):
        super().__init__()
        self.setRange(lo, hi)
        self.setDecimals(decimals)
        self.setKeyboardTracking(False)

    def textFromValue(self, value: float) -> str:
        return f"{value:.6g}"

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


class DatasetChooser(QWidget):
    """Bundled sample, the downloaded MNIST, an IDX folder or a .npz file; downloads MNIST."""

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
        self.combo.setToolTip("The data set to train on; the default is the small bundled sample")
        layout.addWidget(self.combo)
        row = QHBoxLayout()
        row.setSpacing(4)
        self.idx_button = QPushButton("IDX folder…")
        self.idx_button.setToolTip(
            "A folder with MNIST-style IDX files (train/t10k images, labels)"
        )
        self.npz_button = QPushButton(".npz file…")
        self.npz_button.setToolTip("A .npz with x_train, y_train, x_test, y_test")
        self.download_button = QPushButton("Download MNIST")
        self.download_button.setToolTip("Fetch MNIST (about 11 MB) into the user cache")
        for b in (self.idx_button, self.npz_button):
            row.addWidget(b)
        layout.addLayout(row)
        layout.addWidget(self.download_button)
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
        if download is None or isinstance(download, bool):  # clicked(bool) passes a bool
            from netbuilder.data import download_mnist as download
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
        self.progress.setFormat("Downloading MNIST…")
        self._set_downloading(True)
        self.status.setText("Downloading MNIST…")
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
                    self.status.setText(f"MNIST is ready in {a}")
                    self.set_value(_MNIST)
                elif kind == "cancelled":
                    self.status.setText("Download cancelled; start it again to resume.")
                else:
                    self.status.setText(f"Download failed: {a}")
                return


class SettingsForm(QWidget):
    """All the TrainSettings fields; `changed(key, value)` on every user edit."""

    changed = Signal(str, object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._loading = False
        self.load_problems: list[str] = []
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)

        data_box = QGroupBox("Data")
        data_form = QFormLayout(data_box)
        self.dataset = DatasetChooser()
        data_form.addRow(self.dataset)
        self.val_split = QDoubleSpinBox()
        self.val_split.setRange(0.0, 0.5)
        self.val_split.setSingleStep(0.05)
        self.val_split.setToolTip("Share of the training set held out for validation")
        data_form.addRow("Validation split", self.val_split)
        outer.addWidget(data_box)

        opt_box = QGroupBox("Optimisation")
        form = self._opt_form = QFormLayout(opt_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.loss = QComboBox()
        for key, label in options.LOSS_CHOICES:
            self.loss.addItem(label, key)
        form.addRow("Loss", self.loss)
        self.optimizer = QComboBox()
        for key, label in options.OPTIMIZER_CHOICES:
            self.optimizer.addItem(label, key)
        form.addRow("Optimizer", self.optimizer)
        self.lr = _SciSpin(1e-8, 1e6, 8)
        self.lr.setSingleStep(0.001)
        self.lr.setToolTip("Learning rate")
        form.addRow("Learning rate", self.lr)
        # each optimizer keeps its own momentum (SGD's classic 0.9 must not leak into RMSprop,
        # whose PyTorch default is 0): one box per field, shown for its optimizer only
        self.momentum = self._momentum_box()
        self.rmsprop_momentum = self._momentum_box()
        self.nesterov = QCheckBox("Nesterov momentum")
        self.momentum_label = QLabel("Momentum")
        form.addRow(self.momentum_label, self.momentum)
        form.addRow("Momentum", self.rmsprop_momentum)
        form.addRow("", self.nesterov)
        self.beta1 = QDoubleSpinBox()
        self.beta2 = QDoubleSpinBox()
        for b in (self.beta1, self.beta2):
            b.setRange(0.0, 0.99999)
            b.setDecimals(5)
            b.setSingleStep(0.001)
            b.setButtonSymbols(QDoubleSpinBox.ButtonSymbols.NoButtons)
            b.setMinimumWidth(60)
        brow = QHBoxLayout()
        brow.addWidget(self.beta1)
        brow.addWidget(self.beta2)
        self.betas_label = QLabel("Betas")
        form.addRow(self.betas_label, brow)
        self._betas_row = brow
        self.weight_decay = _SciSpin(0.0, 10.0, 8)
        self.weight_decay.setSingleStep(1e-4)
        form.addRow("Weight decay", self.weight_decay)
        self.schedule = QComboBox()
        for key, label in options.SCHEDULE_CHOICES:
            self.schedule.addItem(label, key)
        form.addRow("LR schedule", self.schedule)
        self.step_size = QSpinBox()
        self.step_size.setRange(1, 1000)
        self.step_size.setSuffix(" epoch(s)")
        self.step_size_label = QLabel("Step every")
        form.addRow(self.step_size_label, self.step_size)
        self.gamma = QDoubleSpinBox()
        self.gamma.setRange(0.001, 1.0)
        self.gamma.setDecimals(3)
        self.gamma.setSingleStep(0.05)
        self.gamma_label = QLabel("Gamma")
        form.addRow(self.gamma_label, self.gamma)
        self.t_max = QSpinBox()
        self.t_max.setRange(1, 1000)
        self.t_max.setSuffix(" epoch(s)")
        self.t_max.setRange(0, 1000)
        self.t_max.setSpecialValueText("the run's epochs")
        self.t_max_label = QLabel("Cosine period")
        form.addRow(self.t_max_label, self.t_max)
        self.milestones = QLineEdit()
        self.milestones.setPlaceholderText("epochs, e.g. 2, 4")
        self.milestones.setValidator(
            QRegularExpressionValidator(QRegularExpression(r"^\s*(\d+\s*(,\s*)?)*$"))
        )
        self.milestones_label = QLabel("Milestones")
        form.addRow(self.milestones_label, self.milestones)
        self.patience = QSpinBox()
        self.patience.setRange(0, 1000)
        self.patience.setSuffix(" epoch(s)")
        self.patience_label = QLabel("Patience")
        form.addRow(self.patience_label, self.patience)
        outer.addWidget(opt_box)

        run_box = QGroupBox("Run")
        rform = QFormLayout(run_box)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 65536)
        rform.addRow("Batch size", self.batch_size)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10000)
        rform.addRow("Epochs", self.epochs)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        rform.addRow("Seed", self.seed)
        self.grad_every = QSpinBox()
        self.grad_every.setRange(1, 100000)
        self.grad_every.setSuffix(" steps")
        self.grad_every.setToolTip("How often gradient norms and histograms are measured")
        rform.addRow("Gradients every", self.grad_every)
        outer.addWidget(run_box)
        outer.addStretch(1)

        self._fields = {
            "loss": self.loss,
            "optimizer": self.optimizer,
            "lr": self.lr,
            "momentum": self.momentum,
            "rmsprop_momentum": self.rmsprop_momentum,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
            "schedule": self.schedule,
            "step_size": self.step_size,
            "gamma": self.gamma,
            "t_max": self.t_max,
            "patience": self.patience,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "seed": self.seed,
            "val_split": self.val_split,
            "grad_every": self.grad_every,
        }
        for key, w in self._fields.items():
            self._connect(key, w)
            if isinstance(w, QComboBox):  # shrink with a narrow dock instead of clipping
                w.setSizeAdjustPolicy(
                    QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
                )
                w.setMinimumContentsLength(8)
        self.beta1.valueChanged.connect(self._betas_changed)
        self.beta2.valueChanged.connect(self._betas_changed)
        self.dataset.changed.connect(lambda v: self._emit("dataset", v))
        self.milestones.editingFinished.connect(
            lambda: self._emit("milestones", self._milestones())
        )
        self.optimizer.currentIndexChanged.connect(self._update_visibility)
        self.schedule.currentIndexChanged.connect(self._update_visibility)
        self.load(options.defaults())

    # -- plumbing --------------------------------------------------------------------------
    @staticmethod
    def _momentum_box() -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(0.0, 0.999)
        box.setDecimals(3)
        box.setSingleStep(0.05)
        return box

    def _connect(self, key: str, w) -> None:
        if isinstance(w, QComboBox):
            w.currentIndexChanged.connect(lambda _i, k=key, w=w: self._emit(k, w.currentData()))
        elif isinstance(w, QCheckBox):
            w.toggled.connect(lambda v, k=key: self._emit(k, bool(v)))
        else:
            w.valueChanged.connect(lambda v, k=key: self._emit(k, v))

    def _emit(self, key: str, value) -> None:
        if not self._loading:
            self.changed.emit(key, value)

    def _betas_changed(self, _v) -> None:
        self._emit("betas", [self.beta1.value(), self.beta2.value()])

    def _update_visibility(self, *_a) -> None:
        opt = self.optimizer.currentData()
        sched = self.schedule.currentData()
        uses_betas = opt in options.BETAS_OPTIMIZERS
        form = self._opt_form  # hidden rows take no space (hidden widgets alone would)
        for optimizer, field in options.MOMENTUM_FIELDS.items():
            form.setRowVisible(self._fields[field], opt == optimizer)
        form.setRowVisible(self.nesterov, opt in options.NESTEROV_OPTIMIZERS)
        form.setRowVisible(self._betas_row, uses_betas)
        for key, field in (
            ("step_size", self.step_size),
            ("gamma", self.gamma),
            ("t_max", self.t_max),
            ("milestones", self.milestones),
            ("patience", self.patience),
        ):
            form.setRowVisible(field, key in options.SCHEDULE_FIELDS.get(sched, ()))

    # -- public ----------------------------------------------------------------------------
    def load(self, settings: dict) -> None:
        """Show `settings` (missing keys take the defaults) without emitting `changed`.
        Values the form cannot show (a word where a number belongs) keep the default and are
        listed in `self.load_problems` as "key=value" for the panel to report."""
        defaults = options.defaults()
        values = {**defaults, **(settings or {})}
        self.load_problems = []
        self._loading = True
        try:
            self.dataset.set_value(str(values["dataset"]))
            for key, w in self._fields.items():
                v = values.get(key)
                if v is None:
                    continue
                try:
                    self._show_value(w, v)
                except (TypeError, ValueError, OverflowError):
                    self.load_problems.append(f"{key}={v!r}")
                    self._show_value(w, defaults[key])
            try:
                b1, b2 = values.get("betas") or (0.9, 0.999)
                self.beta1.setValue(float(b1))
                self.beta2.setValue(float(b2))
            except (TypeError, ValueError):
                self.load_problems.append(f"betas={values.get('betas')!r}")
                self.beta1.setValue(0.9)
                self.beta2.setValue(0.999)
            milestones = values.get("milestones") or ()
            if isinstance(milestones, list | tuple):
                self.milestones.setText(", ".join(str(m) for m in milestones))
            else:
                self.load_problems.append(f"milestones={milestones!r}")
        finally:
            self._loading = False
        self._update_visibility()

    @staticmethod
    def _show_value(w, v) -> None:
        if isinstance(w, QComboBox):
            i = w.findData(v)
            if i < 0:  # a choice this version lacks: shown as is; Train refuses it, saying why
                w.addItem(str(v), v)
                i = w.count() - 1
            w.setCurrentIndex(i)
        elif isinstance(w, QCheckBox):
            if not isinstance(v, bool):
                raise TypeError("not true/false")
            w.setChecked(v)
        elif isinstance(w, QSpinBox):
            if isinstance(v, bool) or float(v) != int(float(v)):
                raise ValueError("not a whole number")
            w.setValue(int(v))
        else:
            if isinstance(v, bool):
                raise TypeError("not a number")
            w.setValue(float(v))

    def values(self) -> dict:
        out = {
            "dataset": self.dataset.value(),
            "betas": [self.beta1.value(), self.beta2.value()],
            "milestones": self._milestones(),
        }
        for key, w in self._fields.items():
            if isinstance(w, QComboBox):
                out[key] = w.currentData()
            elif isinstance(w, QCheckBox):
                out[key] = w.isChecked()
            else:
                out[key] = w.value()
        return out

    def _milestones(self) -> list[int]:
        return [int(t) for t in self.milestones.text().replace(",", " ").split()]

    def set_running(self, running: bool) -> None:
        for box in self.findChildren(QGroupBox):
            box.setEnabled(not running)
