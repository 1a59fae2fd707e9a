"""Live painting (live.py) on the fake Krita: change detection, one result layer refreshed in
place, coalescing, state carried between strokes, undo from history, reset, stopping.

A fake filter stands in for the backend here (the runner is the session's only link to it):
it paints the photo with the paint layer's colour where the paint is opaque, and its state
counts the runs that led to the answer. tests/krita/test_live_backend.py drives the
same session through a real backend.
"""

from __future__ import annotations

import pytest

from tests.krita import qt_binding  # isort: skip

pytest.importorskip(f"{qt_binding.NAME}.QtWidgets", reason=qt_binding.REASON)

import threading
import time

from nlf_client import Layer
from tests.krita.mock_krita import Document, Selection

from neural_layer_filters.document import node_id  # isort: skip
from neural_layer_filters import live  # isort: skip
from neural_layer_filters.live import LiveError, LiveSession  # isort: skip
from neural_layer_filters.qt import QApplication, QObject, QTimer, pyqtSignal  # isort: skip

W, H = 12, 10
PHOTO = bytes((10 * (i % W), 5 * (i // W), 200, 255)[c] for i in range(W * H) for c in range(4))


def wait_until(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        QApplication.processEvents()
        time.sleep(0.002)


class FakeFilter:
    """Records each call; optionally blocks until ``release`` is set."""

    def __init__(self) -> None:
        self.calls: list = []
        self.release = threading.Event()
        self.release.set()
        self.fail = None

    def __call__(self, job, photo, mask, paint, params, state):
        self.calls.append((paint.pixels, params, state))
        self.release.wait(10)
        if self.fail:
            from nlf_client import BackendError

            raise BackendError(*self.fail)
        out = bytearray(photo.pixels)  # straight RGBA (wire)
        for p in range(W * H):
            if paint.pixels[4 * p + 3] and (mask is None or mask.pixels[p]):
                out[4 * p : 4 * p + 3] = paint.pixels[4 * p : 4 * p + 3]
        runs = 1 if state is None else state + 1
        return Layer(bytes(out), photo.width, photo.height, photo.format), runs


class Scene:
    def __init__(self, krita, select=False, start=True):
        self.doc = krita.open(Document(W, H))
        root = self.doc.rootNode()
        self.photo = self.doc.createNode("Photo", "paintlayer")
        root.addChildNode(self.photo, None)
        self.photo.setPixelData(bgra(PHOTO), 0, 0, W, H)
        self.paint = self.doc.createNode("Paint", "paintlayer")
        root.addChildNode(self.paint, self.photo)
        if select:
            sel = Selection(W, H)
            sel.select(0, 0, 6, H, 255)  # the left half
            self.doc.setSelection(sel)
        self.filter = FakeFilter()
        self.values = {"strength": 1.0}
        self.messages: list = []
        self.session = LiveSession(
            self.doc,
            self.photo,
            self.paint,
            "Paint (test)",
            self.filter,
            lambda: dict(self.values),
            lambda d: d in krita.documents(),
        )
        self.session.refreshed.connect(self.messages.append)
        self.session.stopped.connect(self.messages.append)
        if start:
            self.session.start()

    def stroke(self, x, y, colour=(0, 255, 0)):
        """One opaque 2x2 dab, written the way a script (or a brush) changes pixel data."""
        b, g, r = colour[2], colour[1], colour[0]
        self.paint.setPixelData(bytes((b, g, r, 255)) * 4, x, y, 2, 2)

    def settle(self):
        """Two timer ticks: the change is seen, then found settled and sent."""
        self.session.tick()
        self.session.tick()
        wait_until(lambda: self.session.job is None)

    def names(self):
        return [n.name() for n in self.doc.rootNode().childNodes()]

    def result(self):
        return rgba(self.session.result_node().pixelData(0, 0, W, H))


def bgra(rgba_bytes):
    out = bytearray(rgba_bytes)
    out[0::4], out[2::4] = rgba_bytes[2::4], rgba_bytes[0::4]
    return bytes(out)


rgba = bgra  # the same swap


def px(data, x, y):
    return tuple(data[4 * (y * W + x) : 4 * (y * W + x) + 4])


@pytest.fixture
def scene(krita):
    s = Scene(krita)
    yield s
    s.session.stop()


def test_no_stroke_no_run_and_no_layer(scene):
    """An untouched paint layer sends nothing and adds nothing, however often the timer ticks."""
    for _ in range(5):
        scene.session.tick()
        assert scene.session.job is None  # a run would have started in tick()
    assert scene.filter.calls == [] and scene.names() == ["Photo", "Paint"]


def test_strokes_already_there_are_sent_when_live_mode_starts(krita):
    """Switching live mode on over a paint layer that already has strokes runs once."""
    s = Scene(krita, start=False)
    s.stroke(2, 2)
    s.session.start()
    s.settle()
    assert len(s.filter.calls) == 1 and s.filter.calls[0][2] is None
    s.session.stop()


def test_a_stroke_waits_until_the_layer_stops_changing(scene):
    """A stroke still being painted (changed since the last tick) is not sent yet."""
    scene.session.tick()
    scene.stroke(2, 2)
    scene.session.tick()  # changed: wait
    assert scene.filter.calls == []
    scene.stroke(4, 2)
    scene.session.tick()  # changed again: wait
    assert scene.filter.calls == []
    scene.session.tick()  # settled: send
    wait_until(lambda: scene.session.job is None)
    assert len(scene.filter.calls) == 1


def test_strokes_refresh_one_layer_in_place_and_carry_the_state(scene):
    """First stroke: one result layer above the photo; later strokes rewrite that same layer
    (no pile-up) and each run gets the state the previous one returned."""
    scene.stroke(2, 2)
    scene.settle()
    assert scene.names() == ["Photo", "[NLF] Paint (test) (live)", "Paint"]
    node = scene.session.result_node()
    first = scene.result()
    assert px(first, 2, 2) == (0, 255, 0, 255) and px(first, 8, 8) == px(PHOTO, 8, 8)
    scene.stroke(8, 6, (255, 0, 0))
    scene.settle()
    assert scene.names() == ["Photo", "[NLF] Paint (test) (live)", "Paint"]
    assert node_id(scene.session.result_node()) == node_id(node)
    second = scene.result()
    assert px(second, 8, 6) == (255, 0, 0, 255) and px(second, 2, 2) == (0, 255, 0, 255)
    assert [c[2] for c in scene.filter.calls] == [None, 1]  # state carried to the 2nd stroke
    assert scene.session.state == 2 and scene.session.runs == 2
    assert bytes(scene.photo.data) == bgra(PHOTO)  # the photo is never written


def test_strokes_during_a_run_are_coalesced_into_one_next_run(scene):
    """Three strokes while a run is in flight: no second run until it ends, then exactly one,
    with the paint layer as it is then."""
    scene.filter.release.clear()
    scene.stroke(0, 0)
    scene.session.tick()
    scene.session.tick()
    assert scene.session.job is not None
    wait_until(lambda: len(scene.filter.calls) == 1)  # the worker is inside the filter
    for x in (3, 6, 9):
        scene.stroke(x, 5)
        scene.session.tick()
        scene.session.tick()
    assert len(scene.filter.calls) == 1
    scene.filter.release.set()
    wait_until(lambda: scene.session.job is None)
    scene.settle()
    assert len(scene.filter.calls) == 2
    assert scene.filter.calls[1][0] == rgba(scene.paint.pixelData(0, 0, W, H))
    scene.session.tick()
    scene.session.tick()
    assert len(scene.filter.calls) == 2  # nothing new: no run


def test_undoing_a_stroke_restores_its_result_without_a_run(scene):
    """Paint back to an earlier content (Ctrl+Z on the stroke): that moment's result and state
    come back from history; back to before the first stroke, the next run starts from None."""
    empty = bytes(scene.paint.data)
    scene.stroke(2, 2)
    scene.settle()
    one, after_one = scene.result(), bytes(scene.paint.data)
    scene.stroke(8, 6, (255, 0, 0))
    scene.settle()
    assert scene.result() != one
    scene.paint.setPixelData(after_one, 0, 0, W, H)  # undo the second stroke
    scene.settle()
    assert len(scene.filter.calls) == 2 and scene.result() == one and scene.session.state == 1
    scene.paint.setPixelData(empty, 0, 0, W, H)  # undo the first stroke too
    scene.settle()
    assert len(scene.filter.calls) == 3 and scene.filter.calls[2][2] is None
    assert scene.result() == PHOTO


def test_reset_starts_from_the_photo_and_drops_an_answer_in_flight(scene):
    scene.stroke(2, 2)
    scene.settle()
    scene.filter.release.clear()
    scene.stroke(8, 6)
    scene.session.tick()
    scene.session.tick()
    before = scene.result()
    scene.session.reset()  # while the second run is in flight
    scene.filter.release.set()
    wait_until(lambda: scene.session.job is None)
    assert scene.result() == before  # the stale answer was not shown
    scene.settle()
    assert [c[2] for c in scene.filter.calls] == [None, 1, None]
    assert scene.session.state == 1


def test_a_reset_while_a_result_is_written_is_kept(scene):
    """Writing a result runs Krita's event loop (waitForDone), where Reset can be pressed: the
    write finishing must not undo it; the next settled tick runs from the photo again."""
    scene.stroke(2, 2)
    scene.settle()
    refresh = scene.doc.refreshProjection

    def reset_meanwhile():
        scene.doc.refreshProjection = refresh
        scene.session.reset()
        refresh()

    scene.doc.refreshProjection = reset_meanwhile
    scene.stroke(8, 6)
    scene.settle()
    assert scene.session.state is None and scene.session.runs == 1
    scene.settle()
    assert [c[2] for c in scene.filter.calls] == [None, 1, None] and scene.session.runs == 2


def test_the_docker_values_are_read_at_each_run(scene):
    scene.stroke(2, 2)
    scene.settle()
    scene.values["strength"] = 2.5
    scene.stroke(5, 5)
    scene.settle()
    assert [c[1]["strength"] for c in scene.filter.calls] == [1.0, 2.5]


def test_outside_the_selection_the_result_is_the_photo(krita):
    s = Scene(krita, select=True)
    s.stroke(2, 2)
    s.stroke(9, 2)
    s.settle()
    out = s.result()
    assert px(out, 2, 2) == (0, 255, 0, 255) and px(out, 9, 2) == px(PHOTO, 9, 2)
    s.session.stop()


def test_a_deleted_result_layer_is_added_again(scene):
    scene.stroke(2, 2)
    scene.settle()
    root = scene.doc.rootNode()
    root._children.remove(scene.session.result_node())
    scene.stroke(5, 5)
    scene.settle()
    assert scene.names() == ["Photo", "[NLF] Paint (test) (live)", "Paint"]


def test_a_backend_error_stops_the_session_and_changes_nothing(scene):
    scene.filter.fail = ("UNAVAILABLE", "backend gone")
    scene.stroke(2, 2)
    scene.settle()
    assert not scene.session.active and scene.names() == ["Photo", "Paint"]
    assert "backend gone [UNAVAILABLE]" in scene.messages[-1]


def test_deleting_the_paint_layer_or_closing_the_image_stops_it(krita):
    s = Scene(krita)
    s.doc.rootNode()._children.remove(s.paint)
    s.session.tick()
    assert not s.session.active and "deleted" in s.messages[-1]
    s2 = Scene(krita)
    krita.docs.remove(s2.doc)
    s2.session.tick()
    assert not s2.session.active and "closed" in s2.messages[-1]


def test_the_timer_alone_drives_it(scene):
    """No tick() calls: the session's own QTimer notices the stroke and refreshes."""
    scene.session._timer.setInterval(10)
    scene.stroke(2, 2)
    wait_until(lambda: scene.session.runs == 1)
    assert scene.names() == ["Photo", "[NLF] Paint (test) (live)", "Paint"]


def test_the_paint_layer_cannot_be_the_photo(krita):
    s = Scene(krita)
    with pytest.raises(LiveError, match="must not be the photo"):
        LiveSession(s.doc, s.photo, s.photo, "x", s.filter, dict, lambda d: True)
    s.session.stop()


def test_only_the_painted_rectangle_is_read_where_krita_gives_bounds(scene):
    """With ``Node.bounds`` (Krita's exact bounds of the strokes) the timer reads just that
    rectangle; strokes are still seen, and an emptied layer reads nothing."""
    from neural_layer_filters.qt import QtCore

    painted = {"rect": QtCore.QRect()}
    reads = []
    read = scene.paint.pixelData
    scene.paint.bounds = lambda: painted["rect"]
    scene.paint.pixelData = lambda x, y, w, h: reads.append((x, y, w, h)) or read(x, y, w, h)
    scene.session.tick()
    assert reads == []  # empty layer: nothing to read
    scene.stroke(4, 3)
    painted["rect"] = QtCore.QRect(4, 3, 2, 2)
    scene.session.tick()
    assert reads[-1] == (4, 3, 2, 2)
    scene.session.tick()
    wait_until(lambda: scene.session.job is None)
    assert scene.session.runs == 1
    scene.stroke(4, 3, (255, 0, 0))  # same rectangle, new colour: a change
    scene.settle()
    assert scene.session.runs == 2


class ReorderedJob(QObject):
    """A stand-in for worker.Job whose QThread.finished arrives before its answer is handled
    (as inside Krita's waitForDone() event loop)."""

    succeeded = pyqtSignal(object)
    failed = pyqtSignal(str, str)
    finished = pyqtSignal()

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.cancel_event = threading.Event()
        self.progress = None

    def cancel(self):
        self.cancel_event.set()

    def start_job(self):
        self.finished.emit()
        QTimer.singleShot(30, lambda: self.succeeded.emit(self.fn(self)))
        return self


def test_a_run_is_over_when_its_answer_arrives_not_when_its_thread_ends(scene, monkeypatch):
    """finished before succeeded: ticks in between must not send the same stroke again."""
    monkeypatch.setattr(live, "Job", ReorderedJob)
    scene.stroke(2, 2)
    scene.session.tick()
    scene.session.tick()
    for _ in range(3):
        scene.session.tick()  # the thread has "ended", the answer is not in yet
    wait_until(lambda: scene.session.runs >= 1)
    scene.session.tick()
    scene.session.tick()
    assert len(scene.filter.calls) == 1 and scene.session.runs == 1


def test_ticks_inside_krita_s_wait_for_done_send_nothing_twice(scene):
    """Krita's addChildNode waits for the image with an event loop, so the timer ticks while
    the result layer is being added: those ticks must not send the stroke again."""
    root = scene.doc.rootNode()
    add = root.addChildNode

    def add_with_event_loop(child, above):
        for _ in range(3):
            scene.session.tick()
        return add(child, above)

    root.addChildNode = add_with_event_loop
    scene.stroke(2, 2)
    scene.settle()
    for _ in range(3):
        scene.session.tick()
    wait_until(lambda: scene.session.job is None)
    assert len(scene.filter.calls) == 1 and scene.session.runs == 1
