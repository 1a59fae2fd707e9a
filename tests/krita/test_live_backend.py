"""Live painting through a real backend: the docker's live row on the fake Krita, the ``npe``
filter with a tiny random face model (tests/prep/npe.py) served over gRPC (live_server)."""

from __future__ import annotations

import pytest

from tests.krita import qt_binding  # isort: skip

pytest.importorskip(f"{qt_binding.NAME}.QtWidgets", reason=qt_binding.REASON)

import time

from tests.krita.mock_krita import Document, Selection

from neural_layer_filters.controller import Controller  # isort: skip
from neural_layer_filters.document import node_id  # isort: skip
from neural_layer_filters.live_panel import LivePanel  # isort: skip
from neural_layer_filters.qt import QApplication, QComboBox  # isort: skip
from neural_layer_filters.widgets import NO_LAYER, ParamForm  # isort: skip

W, H = 64, 56
BOX = (8, 6, 44, 44)


def wait_until(pred, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        QApplication.processEvents()
        time.sleep(0.005)


def photo():
    return bytes(
        v
        for y in range(H)
        for x in range(W)
        for v in (60 + 2 * y % 120, 90 + x % 100, 150 + (x * y) % 90, 255)
    )


class Panel:
    def __init__(self, krita, live_server, monkeypatch):
        monkeypatch.setenv("NLF_SERVER", live_server.address)
        self.ctl = Controller()
        self.ctl.refresh()
        wait_until(lambda: "npe" in self.ctl.filters)
        self.doc = krita.open(Document(W, H))
        root = self.doc.rootNode()
        self.bg = self.doc.createNode("Photo", "paintlayer")
        root.addChildNode(self.bg, None)
        self.bg.setPixelData(photo(), 0, 0, W, H)
        self.paint = self.doc.createNode("Paint", "paintlayer")
        root.addChildNode(self.paint, self.bg)
        sel = Selection(W, H)
        sel.select(*BOX, 255)
        self.doc.setSelection(sel)
        self.doc.setActiveNode(self.bg)
        layers = [("Photo", node_id(self.bg)), ("Paint", node_id(self.paint))]
        self.form = ParamForm(layer_source=lambda: layers)
        self.form.build(self.ctl.filters["npe"])
        values = dict(live_server.overrides["npe"], align=False, paint=node_id(self.paint))
        self.form.set_values(values)
        self.box = QComboBox()
        for spec in self.ctl.filters.values():
            self.box.addItem(spec.label, spec.id)
        self.box.setCurrentIndex(self.box.findData("npe"))
        self.panel = LivePanel(self.ctl, self.form, self.box)

    def stroke(self, x, y, bgr=(20, 30, 40)):
        self.paint.setPixelData(bytes((*bgr, 255)) * 48, x, y, 8, 6)

    def result(self):
        return bytes(self.panel.session.result_node().pixelData(0, 0, W, H))


@pytest.fixture
def panel(krita, live_server, monkeypatch):
    p = Panel(krita, live_server, monkeypatch)
    yield p
    if p.panel.session is not None:
        p.panel.session.stop()
    p.ctl.forget_client()


def changed_near(before, after, x0, y0, pad=3):
    total = 0
    for y in range(max(0, y0 - pad), min(H, y0 + 6 + pad)):
        for x in range(max(0, x0 - pad), min(W, x0 + 8 + pad)):
            i = 4 * (y * W + x)
            total += max(abs(after[i + c] - before[i + c]) for c in range(3))
    return total


def test_live_npe_strokes_accumulate_in_one_layer(panel):
    """The live row starts a session on the form's paint layer; each stroke reruns npe over
    gRPC and rewrites one result layer; the latent comes back as state and goes out with the
    next stroke, so the same strokes after Reset (one run, no state) give another result."""
    p = panel
    assert not p.panel.isHidden()
    p.panel.toggle.setChecked(True)
    session = p.panel.session
    assert session is not None, p.panel.status.text()
    session._timer.setInterval(20)
    p.stroke(16, 14)
    wait_until(lambda: session.runs == 1)
    names = [n.name() for n in p.doc.rootNode().childNodes()]
    assert names == ["Photo", "[NLF] Contextual paintbrush (live)", "Paint"]
    first = p.result()
    assert changed_near(photo(), first, 16, 14) > 0
    state1 = session.state
    assert isinstance(state1, bytes) and state1
    for y in range(H):  # outside the selection: the photo, bit for bit
        for x in range(W):
            if not (BOX[0] <= x < BOX[0] + BOX[2] and BOX[1] <= y < BOX[1] + BOX[3]):
                i = 4 * (y * W + x)
                assert first[i : i + 4] == photo()[i : i + 4], (x, y)
    p.stroke(36, 36, (200, 210, 230))
    wait_until(lambda: session.runs == 2)
    accumulated = p.result()
    assert accumulated != first and session.state not in (None, state1)
    assert len(p.doc.rootNode().childNodes()) == 3
    p.panel.reset_button.click()
    wait_until(lambda: session.runs == 3)
    assert p.result() != accumulated  # both strokes once, from the photo
    assert bytes(p.bg.data) == photo()
    p.panel.toggle.setChecked(False)
    assert p.panel.session is None and not session.active


def test_live_needs_a_paint_layer(panel):
    picker = panel.form.widgets["paint"]
    picker.setCurrentIndex(picker.findText(NO_LAYER))
    panel.panel.toggle.setChecked(True)
    assert panel.panel.session is None and not panel.panel.toggle.isChecked()
    assert "paint layer" in panel.panel.status.text()


def test_the_live_row_is_only_shown_for_npe(panel):
    panel.box.setCurrentIndex(panel.box.findData("test_invert"))
    assert panel.panel.isHidden()
    panel.box.setCurrentIndex(panel.box.findData("npe"))
    assert not panel.panel.isHidden()
