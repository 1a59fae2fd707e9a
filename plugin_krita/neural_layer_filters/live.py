"""Live painting ("Paint with NPE"): rerun a filter whenever the artist paints on a layer.

While a :class:`LiveSession` is on, a timer reads the paint layer and hands its digest to the
session core's ``live.Strokes``, which decides (once the layer has stopped changing for a tick:
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

import logging
from typing import Any, Callable, Dict, Optional, Tuple

from .client import Layer, session
from .document import KritaDocument, find_node, from_wire, node_id
from .qt import QObject, QTimer, pyqtSignal
from .worker import Job

log = logging.getLogger(__name__)
live = session.live
LiveError, HISTORY = live.LiveError, live.HISTORY
Runner = Callable[[Job, Layer, Any, Layer, Dict[str, Any], Any], Tuple[Layer, Any]]


def write_layer(node: Any, layer: Layer) -> None:
    data = from_wire(layer.pixels, layer.format, node.colorDepth())
    node.setPixelData(data, layer.x, layer.y, layer.width, layer.height)


class LiveSession(QObject, live.Strokes):
    """One live painting session on one document (see the module's docstring).

    ``run(job, photo, mask, paint, params, state)`` runs the filter on a worker thread and
    returns ``(result layer, new state)``; ``values()`` gives the docker's current non-layer
    values (read on the UI thread when a run starts).
    """

    refreshed = pyqtSignal(str)
    """A human line after each refresh ("Updated in 0.4 s")."""
    failed = pyqtSignal(str)
    stopped = pyqtSignal(str)
    """The session ended by itself (document closed, layer deleted, backend error)."""
    busy_changed = pyqtSignal(bool)

    def __init__(self, doc: Any, source: Any, paint: Any, label: str, run: Runner,
                 values: Callable[[], Dict[str, Any]], is_open: Callable[[Any], bool],
                 interval_ms: int = 200) -> None:  # fmt: skip
        QObject.__init__(self)
        live.Strokes.__init__(self)
        if node_id(source) == node_id(paint):
            raise LiveError("the paint layer must not be the photo layer")
        self.doc, self.kdoc = doc, KritaDocument(doc)
        self.source_id, self.paint_id = node_id(source), node_id(paint)
        self.result_id: Optional[str] = None
        self.result_name = live.RESULT_NAME.format(label=label)
        self._run, self._values, self._is_open = run, values, is_open
        self.job: Optional[Job] = None
        self._writing = False  # inside _show: Krita's waitForDone() runs the event loop there
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.tick)

    # -- lifecycle --
    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def start(self) -> None:
        paint = self._node(self.paint_id)
        if paint is not None:
            self.begin(*self._read(paint))
        self._timer.start()

    def stop(self, why: str = "") -> None:
        self._timer.stop()
        self.generation += 1
        if self.job is not None:
            self.job.cancel()
        if why:
            self.stopped.emit(why)

    def reset(self) -> None:
        """Forget the state and the history: the next run starts from the photo again with
        what is on the paint layer now (an empty paint layer gives the photo back)."""
        self.forget()
        if self.job is not None:
            self.job.cancel()

    # -- the timer --
    def _node(self, wanted: Optional[str]) -> Any:
        return find_node(self.doc.rootNode(), wanted) if wanted else None

    def _read(self, paint: Any) -> Tuple[bytes, bool]:
        """The paint layer's digest; only its painted rectangle is read where Krita says where
        that is (``Node.bounds``): a big canvas costs no more than its strokes."""
        b = paint.bounds() if hasattr(paint, "bounds") else None
        rect = None if b is None else (b.x(), b.y(), b.x() + b.width(), b.y() + b.height())
        rect = live.clip(rect, self.doc.width(), self.doc.height())
        if rect is None:
            return live.paint_digest(None, (0, 0, 0, 0))
        x, y, x1, y1 = rect
        return live.paint_digest(bytes(paint.pixelData(x, y, x1 - x, y1 - y)), rect)

    def tick(self) -> None:
        """Poll the paint layer; start a run when it changed and has settled."""
        try:
            self._tick()
        except session.UserError as exc:
            self.stop(str(exc))
        except Exception as exc:  # a timer slot: never Krita's traceback dialog
            log.exception("live tick failed")
            self.stop(f"{type(exc).__name__}: {exc}")

    def _tick(self) -> None:
        if self._writing:
            return  # re-entered from Krita's waitForDone() while a result is written
        if not self._is_open(self.doc):
            raise LiveError("the image was closed; live painting stopped")
        paint = self._node(self.paint_id)
        if paint is None or self._node(self.source_id) is None:
            raise LiveError("the photo or the paint layer was deleted; live painting stopped")
        seen = self._read(paint)[0]
        todo = live.Strokes.tick(self, seen, busy=self.job is not None)
        if todo is not None and todo[0] == "restore":  # undo / redo back to a known paint
            self._show(*todo[1], seen)
            self.refreshed.emit("Restored the result for this paint layer")
        elif todo is not None:
            self._launch(seen, todo[1])

    def _launch(self, seen: bytes, state: Any) -> None:
        read = self.kdoc.layer_pixels
        photo, mask = read(self._node(self.source_id)), self.kdoc.selection()
        strokes, params = read(self._node(self.paint_id)), self._values()
        generation = self.generation
        job = Job(lambda job: self._run(job, photo, mask, strokes, params, state))
        self.job = job
        # the run is over once its answer is written, not on QThread.finished: writing it calls
        # Krita's waitForDone(), whose event loop delivers finished and timer ticks meanwhile
        # (on Krita 6 such a tick sent the same stroke again)
        job.succeeded.connect(lambda out: self._done(job, generation, seen, out))
        job.failed.connect(lambda exc: self._failed(job, generation, exc))
        self.busy_changed.emit(True)
        job.start_job()

    # -- answers (UI thread) --
    def _over(self, job: Job) -> None:
        if self.job is job:
            self.job = None
            self.busy_changed.emit(False)

    def _failed(self, job: Job, generation: int, exc: Exception) -> None:
        self._over(job)
        if generation == self.generation:  # else reset or stopped meanwhile: not wanted
            self.stop(live.stopped_text(exc))

    def _done(self, job: Job, generation: int, seen: bytes, out: Tuple[Layer, Any]) -> None:
        try:
            if generation != self.generation or not self._show(*out, seen):
                return
        except LiveError as exc:
            self.stop(str(exc))
            return
        finally:  # only now: a tick before the result is shown would send the stroke again
            self._over(job)
        self.ran(seen, *out)
        self.refreshed.emit(f"Updated {self.result_name} (run {self.runs})")

    def _show(self, layer: Layer, state: Any, seen: bytes) -> bool:
        """Write ``layer`` into the result layer (added above the photo the first time); False
        when Reset was pressed meanwhile (Krita's waitForDone() runs the event loop there)."""
        generation, self._writing = self.generation, True
        try:
            self._write(layer)
        finally:
            self._writing = False
        return self.shown(seen, state, generation)

    def _write(self, layer: Layer) -> None:
        if not self._is_open(self.doc):
            raise LiveError("the image was closed; the result was dropped")
        node = self._node(self.result_id)
        if node is None:
            source = self._node(self.source_id)
            if source is None:
                raise LiveError("the photo layer was deleted; the result was dropped")
            (node,) = self.kdoc.insert(source, [layer], [self.result_name])  # one undo step
            self.result_id = node_id(node)
        else:
            write_layer(node, layer)
            self.doc.refreshProjection()

    def result_node(self) -> Any:
        return self._node(self.result_id)


def client_runner(client: Callable[[], Any], filter_id: str, paint_param: str) -> Runner:
    """A ``run`` for :class:`LiveSession` through the plug-in's backend client."""

    def run(job: Job, photo: Layer, mask: Any, paint: Layer, params: Dict[str, Any],
            state: Any) -> Tuple[Layer, Any]:  # fmt: skip
        args = (photo, mask, paint, params, state, job.progress, job.cancel_event)
        return live.run_live(client(), filter_id, paint_param, *args)

    return run
