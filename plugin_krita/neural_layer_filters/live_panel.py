"""The docker's "Paint with NPE" row: a live-mode switch, Reset and a status line.

Shown while the docker's filter is one that paints live (``LIVE_FILTERS``). Switching it on
takes the active layer as the photo and the layer chosen for the filter's paint parameter in
the form, and starts a :class:`live.LiveSession`; the form's other values are read at every run.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from krita import Krita

from .document import find_node
from .live import LiveError, LiveSession, client_runner, live
from .qt import QCheckBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

LIVE_FILTERS = ("npe",)


def _open(doc: Any) -> bool:
    return doc in Krita.instance().documents()


class LivePanel(QWidget):
    def __init__(self, ctl: Any, form: Any, filter_box: Any) -> None:
        super().__init__()
        self.ctl, self.form, self.filter_box = ctl, form, filter_box
        self.session: Optional[LiveSession] = None
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.toggle = QCheckBox("Paint with NPE (live)")
        self.toggle.setObjectName("nlf_live")
        self.toggle.setToolTip(
            "While on, every stroke on the paint layer reruns the filter and updates one "
            "result layer above the active layer"
        )
        self.toggle.toggled.connect(self._toggled)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setObjectName("nlf_live_reset")
        self.reset_button.setToolTip("Forget the strokes so far: start from the photo again")
        self.reset_button.setEnabled(False)
        self.reset_button.clicked.connect(self.reset)
        row.addWidget(self.toggle, 1)
        row.addWidget(self.reset_button)
        box.addLayout(row)
        self.status = QLabel("")
        self.status.setObjectName("nlf_live_status")
        self.status.setWordWrap(True)
        box.addWidget(self.status)
        filter_box.currentIndexChanged.connect(self._filter_changed)
        self._filter_changed()

    def current_filter(self) -> str:
        return self.filter_box.currentData() or ""

    def _filter_changed(self, *_: Any) -> None:
        live = self.current_filter() in LIVE_FILTERS
        if not live and self.toggle.isChecked():
            self.toggle.setChecked(False)
        self.setVisible(live)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #d05050" if error else "")

    def _toggled(self, on: bool) -> None:
        if on:
            try:
                self.session = self._start()
            except LiveError as exc:
                self.toggle.blockSignals(True)
                self.toggle.setChecked(False)
                self.toggle.blockSignals(False)
                self._say(str(exc), error=True)
                return
            self._say("Live: paint on the paint layer")
        elif self.session is not None:
            self.session.stop()
            self.session = None
            self._say("Live painting off")
        self.reset_button.setEnabled(self.session is not None)

    def _values(self) -> Dict[str, Any]:
        return live.run_values(self.form.spec, self.form.values())

    def _start(self) -> LiveSession:
        target = (self.ctl.filters, self.current_filter(), self.form.spec, self.form.values())
        spec, paint_param, wanted = live.live_target(*target)
        doc = Krita.instance().activeDocument()
        if doc is None:
            raise LiveError("open an image first")
        source = doc.activeNode()
        if source is None or source.type().endswith("mask"):
            raise LiveError("make the photo layer (not a mask) active first")
        paint = find_node(doc.rootNode(), wanted) if wanted else None
        if paint is None:
            raise LiveError("choose the paint layer in the form first")
        run = client_runner(self.ctl.client, spec.id, paint_param)
        session = LiveSession(doc, source, paint, spec.label, run, self._values, _open)
        session.refreshed.connect(self._say)
        session.stopped.connect(self._stopped)
        session.start()
        return session

    def _stopped(self, why: str) -> None:
        self.session = None
        self.toggle.blockSignals(True)
        self.toggle.setChecked(False)
        self.toggle.blockSignals(False)
        self.reset_button.setEnabled(False)
        self._say(why, error=True)

    def reset(self) -> None:
        if self.session is not None:
            self.session.reset()
            self._say("Reset: the next run starts from the photo")
