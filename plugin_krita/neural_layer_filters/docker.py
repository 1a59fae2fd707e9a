"""The "Neural Layer Filters" docker: status, filter, generated form, run, batch, settings.

Each tab is built by one method named in ``TABS``; a new mode adds its tab there.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple

from krita import DockWidget, Krita

from . import controller, qt
from .client import FilterSpec, session
from .document import layer_tree, node_id
from .live_panel import LivePanel
from .widgets import ParamForm

ERROR_STYLE = "color: #d05050"


def _named(w: Any, name: str, slot: Optional[Callable[..., Any]] = None, wrap: bool = False) -> Any:
    w.setObjectName(name)
    if slot is not None:
        w.clicked.connect(slot)
    if wrap:
        w.setWordWrap(True)
        w.setTextInteractionFlags(qt.Qt.TextInteractionFlag.TextSelectableByMouse)
    return w


def document_layers() -> List[Tuple[str, str]]:
    doc = Krita.instance().activeDocument()
    return [(label, node_id(n)) for label, n in layer_tree(doc.rootNode())] if doc else []


class NlfDocker(DockWidget):
    TABS = (("Filter", "_filter_tab"), ("Batch", "_batch_tab"), ("Settings", "_settings_tab"))

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Neural Layer Filters")
        self.ctl = ctl = controller.instance()
        root = qt.QWidget(self)
        box, top, run = qt.QVBoxLayout(root), qt.QHBoxLayout(), qt.QHBoxLayout()
        self.status = _named(qt.QLabel("Backend: connecting…"), "nlf_status", wrap=True)
        top.addWidget(self.status, 1)
        top.addWidget(_named(qt.QPushButton("Refresh"), "nlf_refresh", ctl.refresh))
        box.addLayout(top)
        self.tabs = qt.QTabWidget()
        for title, build in self.TABS:
            self.tabs.addTab(getattr(self, build)(), title)
        box.addWidget(self.tabs, 1)
        self.apply_button = _named(qt.QPushButton("Apply"), "nlf_apply", self.apply)
        self.preview_button = _named(
            qt.QPushButton("Preview"), "nlf_preview_button", self.run_preview
        )
        self.preview_button.setToolTip("A quick low-resolution run, shown here; adds no layer")
        self.cancel_button = _named(qt.QPushButton("Cancel"), "nlf_cancel", ctl.cancel)
        self.cancel_button.setEnabled(False)
        for w in (self.apply_button, self.preview_button, self.cancel_button):
            run.addWidget(w)
        box.addLayout(run)
        self.progress = _named(qt.QProgressBar(), "nlf_progress")
        self.progress.setRange(0, 1000)
        self.stage = _named(qt.QLabel(""), "nlf_stage")
        self.message = _named(qt.QLabel(""), "nlf_message", wrap=True)
        for w in (self.progress, self.stage, self.message):
            box.addWidget(w)
        self.setWidget(root)
        for signal, slot in (
            (ctl.filters_changed, self.set_filters),
            (ctl.status_changed, self.show_status),
            (ctl.busy_changed, self.set_busy),
            (ctl.progressed, self.show_progress),
            (ctl.previewed, self.show_preview),
            (ctl.finished, lambda text: self.show_message(text, error=False)),
            (ctl.failed, lambda text: self.show_message(text, error=True)),
            (ctl.filter_requested, self.select_filter),
        ):
            signal.connect(slot)
        if ctl.filters:
            self.set_filters(list(ctl.filters.values()))
        ctl.refresh()

    def _filter_tab(self) -> Any:
        tab = qt.QWidget()
        lay = qt.QVBoxLayout(tab)
        self.filter_box = _named(qt.QComboBox(), "nlf_filter")
        self.filter_box.currentIndexChanged.connect(self._filter_chosen)
        self.description = _named(qt.QLabel(""), "nlf_description", wrap=True)
        self.form = ParamForm(layer_source=document_layers)
        scroll = qt.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        self.previews = _named(qt.QCheckBox("Show previews while it runs"), "nlf_previews")
        self.previews.toggled.connect(lambda on: setattr(self.ctl, "want_previews", on))
        self.preview = _named(qt.QLabel(), "nlf_preview")
        for w, stretch in ((self.filter_box, 0), (self.description, 0), (scroll, 1)):
            lay.addWidget(w, stretch)
        lay.addWidget(self.previews)
        self.live = LivePanel(self.ctl, self.form, self.filter_box)  # "Paint with NPE"
        lay.addWidget(self.live)
        lay.addWidget(self.preview)
        return tab

    def _batch_tab(self) -> Any:
        tab = qt.QWidget()
        form = qt.QFormLayout(tab)
        self.batch_mode = _named(qt.QComboBox(), "nlf_batch_mode")
        for key, label in session.actions.BATCH_MODES:
            self.batch_mode.addItem(label, key)
        form.addRow("Apply to", self.batch_mode)
        self.in_dir = _named(qt.QLineEdit(), "nlf_batch_input")
        self.out_dir = _named(qt.QLineEdit(), "nlf_batch_output")
        for label, edit in (("Input folder", self.in_dir), ("Output folder", self.out_dir)):
            row = qt.QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(_named(qt.QPushButton("…"), "", lambda _=False, e=edit: self._browse(e)))
            form.addRow(label, row)
        self.batch_run = _named(qt.QPushButton("Run batch"), "nlf_batch_run", self.apply_batch)
        form.addRow(self.batch_run)
        return tab

    def _settings_tab(self) -> Any:
        """The session core's settings form (address, token, TLS CA, autostart, Python)."""
        tab = qt.QWidget()
        lay = qt.QVBoxLayout(tab)
        self.settings_form = ParamForm()
        self.settings_form.build(session.settings.FORM_SPEC)
        self.settings_form.set_values(session.settings.as_dict(self.ctl.settings))
        self.settings_form.widgets["token"].setEchoMode(qt.QLineEdit.EchoMode.Password)
        lay.addWidget(self.settings_form)
        lay.addWidget(
            _named(qt.QPushButton("Save and reconnect"), "nlf_save_settings", self.save_settings)
        )
        lay.addStretch(1)
        return tab

    def _browse(self, edit: Any) -> None:
        path = qt.QFileDialog.getExistingDirectory(self, "Choose a folder", edit.text())
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
        if spec is not None:
            if self.form.spec != spec:
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
        self.status.setStyleSheet("" if ok else ERROR_STYLE)

    def set_busy(self, busy: bool) -> None:
        for button in (self.apply_button, self.preview_button, self.batch_run):
            button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        if busy:
            self.message.setText("")
            self.preview.clear()

    def show_progress(self, fraction: float, stage: str) -> None:
        self.progress.setValue(int(1000 * max(0.0, min(1.0, fraction))))
        self.stage.setText(stage)

    def show_preview(self, p: Any) -> None:
        img = qt.QImage(p.pixels, p.width, p.height, 4 * p.width, qt.QImage.Format.Format_RGBA8888)
        self.preview.setPixmap(qt.QPixmap.fromImage(img.copy()).scaledToWidth(240))

    def show_message(self, text: str, error: bool) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(ERROR_STYLE if error else "")
        if not error:
            self.progress.setValue(1000)

    # -- user actions --
    def _chosen(self) -> Tuple[str, dict]:
        """(filter id, form values); "" when no filter is offered (the session core says so)."""
        return (self.form.spec.id if self.form.spec else "", self.form.values())

    def apply(self) -> None:
        self.ctl.apply(*self._chosen())

    def run_preview(self) -> None:
        self.ctl.preview(*self._chosen())

    def apply_batch(self) -> None:
        folders = (self.in_dir.text().strip(), self.out_dir.text().strip())
        self.ctl.apply_batch(*self._chosen(), self.batch_mode.currentData(), *folders)

    def save_settings(self) -> None:
        self.ctl.change_settings(self.settings_form.values())

    def canvasChanged(self, canvas: Any) -> None:
        self.form.refresh_layers()
