"""The "Neural Layer Filters" docker: status, filter, generated form, run, batch, settings."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, List, Sequence, Tuple

from krita import DockWidget, Krita

from . import controller
from .client import FilterSpec
from .document import layer_tree, node_id
from .live_panel import LivePanel
from .qt import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QImage,
    QLabel,
    QLineEdit,
    QPixmap,
    QProgressBar,
    QPushButton,
    QScrollArea,
    Qt,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from .widgets import ParamForm

DOCKER_ID = "neural_layer_filters_docker"
BATCH_MODES = (
    ("selected", "Every selected layer"),
    ("children", "Every layer in the active group"),
    ("folder", "Every image in a folder"),
)


def _named(widget: Any, name: str) -> Any:
    widget.setObjectName(name)
    return widget


def document_layers() -> List[Tuple[str, str]]:
    doc = Krita.instance().activeDocument()
    return [(label, node_id(n)) for label, n in layer_tree(doc.rootNode())] if doc else []


class NlfDocker(DockWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Neural Layer Filters")
        self.ctl = controller.instance()
        root = QWidget(self)
        box = QVBoxLayout(root)

        top = QHBoxLayout()
        self.status = _named(QLabel("Backend: connecting…"), "nlf_status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        refresh = _named(QPushButton("Refresh"), "nlf_refresh")
        refresh.clicked.connect(self.ctl.refresh)
        top.addWidget(self.status, 1)
        top.addWidget(refresh)
        box.addLayout(top)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._filter_tab(), "Filter")
        self.tabs.addTab(self._batch_tab(), "Batch")
        self.tabs.addTab(self._settings_tab(), "Settings")
        box.addWidget(self.tabs, 1)

        run = QHBoxLayout()
        self.apply_button = _named(QPushButton("Apply"), "nlf_apply")
        self.apply_button.clicked.connect(self.apply)
        self.preview_button = _named(QPushButton("Preview"), "nlf_preview_button")
        self.preview_button.setToolTip("A quick low-resolution run, shown here; adds no layer")
        self.preview_button.clicked.connect(self.run_preview)
        self.cancel_button = _named(QPushButton("Cancel"), "nlf_cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.ctl.cancel)
        run.addWidget(self.apply_button)
        run.addWidget(self.preview_button)
        run.addWidget(self.cancel_button)
        box.addLayout(run)
        self.progress = _named(QProgressBar(), "nlf_progress")
        self.progress.setRange(0, 1000)
        self.stage = _named(QLabel(""), "nlf_stage")
        self.message = _named(QLabel(""), "nlf_message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for w in (self.progress, self.stage, self.message):
            box.addWidget(w)
        self.setWidget(root)

        self.ctl.filters_changed.connect(self.set_filters)
        self.ctl.status_changed.connect(self.show_status)
        self.ctl.busy_changed.connect(self.set_busy)
        self.ctl.progressed.connect(self.show_progress)
        self.ctl.previewed.connect(self.show_preview)
        self.ctl.finished.connect(lambda text: self.show_message(text, error=False))
        self.ctl.failed.connect(lambda text: self.show_message(text, error=True))
        self.ctl.filter_requested.connect(self.select_filter)
        if self.ctl.filters:
            self.set_filters(list(self.ctl.filters.values()))
        self.ctl.refresh()

    def _filter_tab(self) -> QWidget:
        tab = QWidget()
        lay = QVBoxLayout(tab)
        self.filter_box = _named(QComboBox(), "nlf_filter")
        self.filter_box.currentIndexChanged.connect(self._filter_chosen)
        self.description = QLabel("")
        self.description.setWordWrap(True)
        self.form = ParamForm(layer_source=document_layers)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        self.previews = _named(QCheckBox("Show previews while it runs"), "nlf_previews")
        self.previews.toggled.connect(lambda on: setattr(self.ctl, "want_previews", on))
        self.preview = _named(QLabel(), "nlf_preview")
        for w in (self.filter_box, self.description):
            lay.addWidget(w)
        lay.addWidget(scroll, 1)
        lay.addWidget(self.previews)
        self.live = LivePanel(self.ctl, self.form, self.filter_box)  # "Paint with NPE"
        lay.addWidget(self.live)
        lay.addWidget(self.preview)
        return tab

    def _batch_tab(self) -> QWidget:
        tab = QWidget()
        form = QFormLayout(tab)
        self.batch_mode = _named(QComboBox(), "nlf_batch_mode")
        for key, label in BATCH_MODES:
            self.batch_mode.addItem(label, key)
        self.in_dir = _named(QLineEdit(), "nlf_batch_input")
        self.out_dir = _named(QLineEdit(), "nlf_batch_output")
        form.addRow("Apply to", self.batch_mode)
        for label, edit in (("Input folder", self.in_dir), ("Output folder", self.out_dir)):
            row = QHBoxLayout()
            browse = QPushButton("…")
            browse.clicked.connect(lambda _=False, e=edit: self._browse(e))
            row.addWidget(edit, 1)
            row.addWidget(browse)
            form.addRow(label, row)
        run = _named(QPushButton("Run batch"), "nlf_batch_run")
        run.clicked.connect(self.apply_batch)
        self.batch_run = run
        form.addRow(run)
        return tab

    def _settings_tab(self) -> QWidget:
        tab = QWidget()
        form = QFormLayout(tab)
        s = self.ctl.settings
        self.address = _named(QLineEdit(s.address), "nlf_address")
        self.token = _named(QLineEdit(s.token), "nlf_token")
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.tls_ca = _named(QLineEdit(s.tls_ca), "nlf_tls_ca")
        self.tls_ca.setPlaceholderText("CA file (PEM) of a TLS backend; empty = no TLS")
        self.autostart = _named(QCheckBox("Start a local backend when none answers"), "nlf_auto")
        self.autostart.setChecked(s.autostart)
        self.python = _named(QLineEdit(s.python), "nlf_python")
        self.python.setPlaceholderText("python3 (an interpreter with the backend installed)")
        save = _named(QPushButton("Save and reconnect"), "nlf_save_settings")
        save.clicked.connect(self.save_settings)
        for label, w in (("Server", self.address), ("Token", self.token), ("", self.autostart)):
            form.addRow(label, w)
        form.addRow("TLS CA file", self.tls_ca)
        form.addRow("Python", self.python)
        form.addRow(save)
        return tab

    def _browse(self, edit: QLineEdit) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder", edit.text())
        if path:
            edit.setText(path)

    # -- reacting to the controller --
    def set_filters(self, specs: Sequence[FilterSpec]) -> None:
        current = self.filter_box.currentData()
        self.filter_box.blockSignals(True)
        self.filter_box.clear()
        for spec in specs:
            self.filter_box.addItem(spec.label, spec.id)
        self.filter_box.blockSignals(False)
        index = max(0, self.filter_box.findData(current))
        self.filter_box.setCurrentIndex(index)
        self._filter_chosen(index)

    def _filter_chosen(self, index: int) -> None:
        spec = self.ctl.filters.get(self.filter_box.itemData(index) or "")
        if spec is None:
            return
        if self.form.spec is None or self.form.spec != spec:
            self.form.build(spec)
        self.description.setText(spec.description)
        self.ctl.describe_status(spec.id)

    def select_filter(self, filter_id: str) -> None:
        index = self.filter_box.findData(filter_id)
        if index >= 0:
            self.filter_box.setCurrentIndex(index)
            self.tabs.setCurrentIndex(0)
        self.show()
        self.raise_()

    def show_status(self, text: str, ok: bool) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("" if ok else "color: #d05050")

    def set_busy(self, busy: bool) -> None:
        self.apply_button.setEnabled(not busy)
        self.preview_button.setEnabled(not busy)
        self.batch_run.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        if busy:
            self.message.setText("")
            self.preview.clear()

    def show_progress(self, fraction: float, stage: str) -> None:
        self.progress.setValue(int(1000 * max(0.0, min(1.0, fraction))))
        self.stage.setText(stage)

    def show_preview(self, p: Any) -> None:
        img = QImage(p.pixels, p.width, p.height, 4 * p.width, QImage.Format.Format_RGBA8888)
        self.preview.setPixmap(QPixmap.fromImage(img.copy()).scaledToWidth(240))

    def show_message(self, text: str, error: bool) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #d05050" if error else "")
        if not error:
            self.progress.setValue(1000)

    # -- user actions --
    def values(self) -> dict:
        return self.form.values()

    def apply(self) -> None:
        if self.form.spec is not None:
            self.ctl.apply(self.form.spec.id, self.values())
        else:
            self.show_message("no filter available: is the backend running?", error=True)

    def run_preview(self) -> None:
        if self.form.spec is not None:
            self.ctl.preview(self.form.spec.id, self.values())

    def apply_batch(self) -> None:
        if self.form.spec is None:
            self.show_message("no filter available: is the backend running?", error=True)
            return
        mode = self.batch_mode.currentData()
        self.ctl.apply_batch(
            self.form.spec.id, self.values(), mode, self.in_dir.text(), self.out_dir.text()
        )

    def save_settings(self) -> None:
        s = replace(
            self.ctl.settings,
            address=self.address.text().strip(),
            token=self.token.text(),
            tls_ca=self.tls_ca.text().strip(),
            autostart=self.autostart.isChecked(),
            python=self.python.text().strip(),
        )
        self.ctl.set_settings(s)

    def canvasChanged(self, canvas: Any) -> None:
        self.form.refresh_layers()
