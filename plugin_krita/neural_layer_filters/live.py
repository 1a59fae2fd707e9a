"""Live painting ("Paint with NPE"): rerun a filter whenever the artist paints on a layer.

While a :class:`LiveSession` is on, a timer reads the paint layer and hands its digest to the
session core's ``live.LiveLoop``, which decides (once the layer has stopped changing for a tick:
the pen is up) whether to run, to restore a remembered result, or to wait: one run at a time,
strokes made meanwhile coalesced into the next. A run sends the photo (the layer active when the
session started), the selection, the paint layer and the docker's other values; the answer
refreshes ONE result layer in place (the first adds it above the photo). The backend's opaque
state (the NPE latent) goes back with the next run, so strokes accumulate; :meth:`reset`
forgets it.

Undo: Krita's scripting API writes pixels (``Node.setPixelData``) outside the undo stack; only
adding and removing a layer are undo steps. So the result layer's creation is one undo step and
refreshes add none; when the paint layer comes back to content seen before (Ctrl+Z on a
stroke), the remembered result and state are restored: undoing a stroke undoes its refresh.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

from .client import Layer, session
from .document import KritaDocument, find_node, node_id
from .qt import QObject, QTimer, pyqtSignal
from .worker import Job

live = session.live
LiveError, HISTORY = live.LiveError, live.HISTORY
Runner = Callable[[Job, Layer, Any, Layer, Dict[str, Any], Any], Tuple[Layer, Any]]


class LiveSession(QObject, live.LiveLoop):
    """One live painting session on one document (see the module's docstring): the session
    core's ``LiveLoop`` with Krita's nodes, a Qt timer, worker threads and signals.

    ``run(job, photo, mask, paint, params, state)`` runs the filter on a worker thread and
    returns ``(result layer, new state)``; ``values()`` gives the docker's current non-layer
    values (read on the UI thread when a run starts).
    """

    refreshed = pyqtSignal(str)
    """A human line after each refresh ("Updated in 0.4 s")."""
    stopped = pyqtSignal(str)
    """The session ended by itself (document closed, layer deleted, backend error)."""
    busy_changed = pyqtSignal(bool)

    def __init__(self, doc: Any, source: Any, paint: Any, label: str, run: Runner,
                 values: Callable[[], Dict[str, Any]], is_open: Callable[[Any], bool],
                 interval_ms: int = 200) -> None:  # fmt: skip
        QObject.__init__(self)
        live.LiveLoop.__init__(self, label)
        if node_id(source) == node_id(paint):
            raise LiveError("the paint layer must not be the photo layer")
        self.doc, self.kdoc = doc, KritaDocument(doc)
        self.source_id, self.paint_id = node_id(source), node_id(paint)
        self.result_id: Optional[str] = None
        self._run, self._values, self._is_open = run, values, is_open
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.tick)

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def start(self) -> None:
        if self._node(self.paint_id) is not None:
            self.begin(*self.read_paint())
        self._timer.start()

    def tick(self) -> None:
        """The timer's slot: the session core's ``poll``."""
        self.poll()

    def _node(self, wanted: Optional[str]) -> Any:
        return find_node(self.doc.rootNode(), wanted) if wanted else None

    def result_node(self) -> Any:
        return self._node(self.result_id)

    # -- the session core's hooks --
    def notify(self, event: str, *args: Any) -> None:
        getattr(self, event).emit(*args)

    def halt(self) -> None:
        self._timer.stop()

    def check(self) -> None:
        if not self._is_open(self.doc):
            raise LiveError("the image was closed; live painting stopped")
        if self._node(self.paint_id) is None or self._node(self.source_id) is None:
            raise LiveError("the photo or the paint layer was deleted; live painting stopped")

    def read_paint(self) -> Tuple[bytes, bool]:
        """The paint layer's digest; only its painted rectangle is read where Krita says where
        that is (``Node.bounds``): a big canvas costs no more than its strokes."""
        paint = self._node(self.paint_id)
        b = paint.bounds() if hasattr(paint, "bounds") else None
        rect = None if b is None else (b.x(), b.y(), b.x() + b.width(), b.y() + b.height())
        rect = live.clip(rect, self.doc.width(), self.doc.height())
        if rect is None:
            return live.paint_digest(None, (0, 0, 0, 0))
        x, y, x1, y1 = rect
        return live.paint_digest(bytes(paint.pixelData(x, y, x1 - x, y1 - y)), rect)

    def launch(self, seen: bytes, state: Any, generation: int) -> Job:
        read = self.kdoc.layer_pixels
        photo, mask = read(self._node(self.source_id)), self.kdoc.selection()
        strokes, params = read(self._node(self.paint_id)), self._values()
        job = Job(lambda job: self._run(job, photo, mask, strokes, params, state))
        self.job = job
        # the run is over once its answer is written, not on QThread.finished: writing it calls
        # Krita's waitForDone(), whose event loop delivers finished and timer ticks meanwhile
        # (on Krita 6 such a tick sent the same stroke again)
        job.succeeded.connect(lambda out: self.answered(job, generation, seen, out))
        job.failed.connect(lambda exc: self.run_failed(job, generation, exc))
        return job.start_job()

    def write(self, layer: Layer) -> None:
        """Into the result layer (added above the photo the first time: one undo step)."""
        if not self._is_open(self.doc):
            raise LiveError("the image was closed; the result was dropped")
        node = self._node(self.result_id)
        if node is None:
            source = self._node(self.source_id)
            if source is None:
                raise LiveError("the photo layer was deleted; the result was dropped")
            (node,) = self.kdoc.insert(source, [layer], [self.result_name])
            self.result_id = node_id(node)
        else:
            data = session.wire_to_native(layer.pixels, layer.format, node.colorDepth())
            node.setPixelData(data, layer.x, layer.y, layer.width, layer.height)
            self.doc.refreshProjection()


def client_runner(client: Callable[[], Any], filter_id: str, paint_param: str) -> Runner:
    """A ``run`` for :class:`LiveSession` through the plug-in's backend client."""

    def run(job: Job, photo: Layer, mask: Any, paint: Layer, params: Dict[str, Any],
            state: Any) -> Tuple[Layer, Any]:  # fmt: skip
        args = (photo, mask, paint, params, state, job.progress, job.cancel_event)
        return live.run_live(client(), filter_id, paint_param, *args)

    return run
