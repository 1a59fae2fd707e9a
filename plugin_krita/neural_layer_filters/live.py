"""Live painting ("Paint with NPE"): rerun a filter whenever the artist paints on a layer.

While a :class:`LiveSession` is on, a timer reads the paint layer's pixels and compares a digest
with the last one it saw: a stroke needs no click. A change is sent once the layer has stopped
changing for one tick (the pen is up), with the photo (the layer that was active when the
session started), the selection and the filter's other values from the docker. The answer
refreshes ONE result layer in place: the first answer adds it above the photo, later answers
rewrite its pixels.

Runs never pile up: one run at a time; strokes that arrive while it runs are coalesced into the
next run, which sends the paint layer as it is then.

The backend's opaque state (``RunResult.state``: the NPE latent) is sent back with the next run,
so strokes accumulate; :meth:`LiveSession.reset` forgets it and starts from the photo again.

Undo: Krita's scripting API writes pixels (``Node.setPixelData``) outside the undo stack; only
adding and removing a layer are undo steps. So the result layer's creation is one undo step and
refreshes add none; the stroke itself is the artist's undo step. When the paint layer comes back
to content seen before (Ctrl+Z on a stroke), the session restores that moment's result and state
from its history instead of running again: undoing a stroke undoes its refresh.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from typing import Any, Callable, Dict, Optional, Tuple

from .client import Layer, Mask
from .document import find_node, from_wire, node_id, to_wire
from .qt import QObject, QTimer, pyqtSignal
from .worker import Job

log = logging.getLogger(__name__)
RESULT_NAME = "[NLF] {label} (live)"
HISTORY = 24
"""Paint-layer states remembered for undo (each keeps one result layer's pixels)."""
Runner = Callable[[Job, Layer, Any, Layer, Dict[str, Any], Any], Tuple[Layer, Any]]


class LiveError(Exception):
    """Live painting cannot go on (the message is shown to the artist)."""


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


# -- the few document operations the session needs, on Krita's own objects --
def read_layer(doc: Any, node: Any) -> Layer:
    """A node's pixels over the whole canvas as a wire layer (a group: its projection)."""
    if node.colorModel() != "RGBA":
        raise LiveError(f"layer '{node.name()}' is {node.colorModel()}; convert it to RGB/Alpha")
    w, h = doc.width(), doc.height()
    read = node.pixelData if node.type() == "paintlayer" else node.projectionPixelData
    pixels, fmt = to_wire(bytes(read(0, 0, w, h)), node.colorDepth())
    return Layer(pixels, w, h, fmt, 0, 0, name=node.name())


def read_selection(doc: Any) -> Optional[Mask]:
    sel = doc.selection()
    if sel is None:
        return None
    w, h = doc.width(), doc.height()
    return Mask(bytes(sel.pixelData(0, 0, w, h)), w, h)


def write_layer(node: Any, layer: Layer) -> None:
    data = from_wire(layer.pixels, layer.format, node.colorDepth())
    node.setPixelData(data, layer.x, layer.y, layer.width, layer.height)


def add_layer(doc: Any, above: Any, layer: Layer, name: str) -> Any:
    """A new paint layer holding ``layer``, directly above ``above`` (one Krita undo step)."""
    node = doc.createNode(name, "paintlayer")
    write_layer(node, layer)
    (above.parentNode() or doc.rootNode()).addChildNode(node, above)
    doc.refreshProjection()
    return node


class LiveSession(QObject):
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

    def __init__(
        self,
        doc: Any,
        source: Any,
        paint: Any,
        label: str,
        run: Runner,
        values: Callable[[], Dict[str, Any]],
        is_open: Callable[[Any], bool],
        interval_ms: int = 200,
    ) -> None:
        super().__init__()
        if node_id(source) == node_id(paint):
            raise LiveError("the paint layer must not be the photo layer")
        self.doc = doc
        self.source_id, self.paint_id = node_id(source), node_id(paint)
        self.result_id: Optional[str] = None
        self.result_name = RESULT_NAME.format(label=label)
        self._run, self._values, self._is_open = run, values, is_open
        self.state: Any = None
        self.job: Optional[Job] = None
        self.runs = 0
        self._generation = 0
        self._seen: Optional[bytes] = None  # digest at the last tick
        self._shown: Optional[bytes] = None  # digest of the paint the result layer shows
        self._origin: Optional[bytes] = None  # the paint layer when the state was last empty
        self._history: OrderedDict[bytes, Tuple[Layer, Any]] = OrderedDict()
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
            self._origin, empty = self._read(paint)
            if empty:  # nothing painted yet: nothing to show until the first stroke
                self._shown = self._seen = self._origin
        self._timer.start()

    def stop(self, why: str = "") -> None:
        self._timer.stop()
        self._generation += 1
        if self.job is not None:
            self.job.cancel()
        if why:
            self.stopped.emit(why)

    def reset(self) -> None:
        """Forget the state and the history: the next run starts from the photo again with
        what is on the paint layer now (an empty paint layer gives the photo back)."""
        self._generation += 1
        if self.job is not None:
            self.job.cancel()
        self.state, self._shown, self._origin = None, None, None
        self._history.clear()
        self._seen = None

    # -- the timer --
    def _node(self, wanted: Optional[str]) -> Any:
        return find_node(self.doc.rootNode(), wanted) if wanted else None

    def _read(self, paint: Any) -> Tuple[bytes, bool]:
        """(digest of the paint layer, whether it is empty). Only its painted rectangle is read
        where Krita says where that is (``Node.bounds``): a big canvas costs no more than its
        strokes."""
        w, h = self.doc.width(), self.doc.height()
        x, y, x1, y1 = 0, 0, w, h
        bounds = getattr(paint, "bounds", None)
        if bounds is not None:
            r = bounds()
            x, y = max(0, r.x()), max(0, r.y())
            x1, y1 = min(w, r.x() + r.width()), min(h, r.y() + r.height())
            if x1 <= x or y1 <= y:
                return digest(b"empty"), True
        data = bytes(paint.pixelData(x, y, x1 - x, y1 - y))
        if data.count(0) == len(data):  # fully transparent
            return digest(b"empty"), True
        return digest(b"%d,%d,%d,%d:" % (x, y, x1, y1) + data), False

    def tick(self) -> None:
        """Poll the paint layer; start a run when it changed and has settled."""
        try:
            self._tick()
        except LiveError as exc:
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
        settled, self._seen = seen == self._seen, seen
        if not settled or seen == self._shown or self.job is not None:
            return  # still painting, nothing new, or coalesced into the run after this one
        if seen in self._history:  # undo / redo back to a known paint layer
            layer, state = self._history[seen]
            self._show(layer, seen, state)
            self.refreshed.emit("Restored the result for this paint layer")
            return
        # back to the paint layer as it was before the first stroke: start from the photo
        self._launch(seen, None if seen == self._origin else self.state)

    def _launch(self, seen: bytes, state: Any) -> None:
        source, paint = self._node(self.source_id), self._node(self.paint_id)
        photo, mask = read_layer(self.doc, source), read_selection(self.doc)
        strokes, params, generation = (
            read_layer(self.doc, paint),
            self._values(),
            self._generation,
        )

        def work(job: Job) -> Tuple[Layer, Any]:
            return self._run(job, photo, mask, strokes, params, state)

        job = Job(work)
        self.job = job
        # the run is over once its answer is written, not on QThread.finished: writing it calls
        # Krita's waitForDone(), whose event loop delivers finished and timer ticks meanwhile
        # (on Krita 6 such a tick sent the same stroke again)
        job.succeeded.connect(lambda out: self._done(job, generation, seen, out))
        job.failed.connect(lambda *error: self._failed(job, generation, *error))
        self.busy_changed.emit(True)
        job.start_job()

    # -- answers (UI thread) --
    def _over(self, job: Job) -> None:
        if self.job is job:
            self.job = None
            self.busy_changed.emit(False)

    def _failed(self, job: Job, generation: int, *error: Any) -> None:
        """``Job.failed`` carries (code, message), or the error itself (the session core's)."""
        self._over(job)
        if generation != self._generation:
            return  # reset or stopped meanwhile: the answer is no longer wanted
        if len(error) == 1:
            exc = error[0]
            code, message = getattr(exc, "code", ""), getattr(exc, "message", str(exc))
        else:
            code, message = error
        text = f"{message} [{code}]" if code else str(message)
        self.stop(f"{text}; live painting stopped, the image was not changed")

    def _done(self, job: Job, generation: int, seen: bytes, out: Tuple[Layer, Any]) -> None:
        try:
            if generation != self._generation:
                return
            layer, state = out
            self._show(layer, seen, state)
        except LiveError as exc:
            self.stop(str(exc))
            return
        finally:  # only now: a tick before the result is shown would send the stroke again
            self._over(job)
        self.runs += 1
        self._history[seen] = (layer, state)
        while len(self._history) > HISTORY:
            self._history.popitem(last=False)
        self.refreshed.emit(f"Updated {self.result_name} (run {self.runs})")

    def _show(self, layer: Layer, seen: bytes, state: Any) -> None:
        """Write ``layer`` into the result layer (added above the photo the first time)."""
        self._writing = True
        try:
            self._write(layer)
        finally:
            self._writing = False
        self.state, self._shown = state, seen

    def _write(self, layer: Layer) -> None:
        if not self._is_open(self.doc):
            raise LiveError("the image was closed; the result was dropped")
        node = self._node(self.result_id)
        if node is None:
            source = self._node(self.source_id)
            if source is None:
                raise LiveError("the photo layer was deleted; the result was dropped")
            self.result_id = node_id(add_layer(self.doc, source, layer, self.result_name))
        else:
            write_layer(node, layer)
            self.doc.refreshProjection()

    def result_node(self) -> Any:
        return self._node(self.result_id)


def client_runner(client: Callable[[], Any], filter_id: str, paint_param: str) -> Runner:
    """A ``run`` for :class:`LiveSession` through the plug-in's backend client: the filter's
    first result layer and the state it returned (None from a filter without one)."""

    def run(
        job: Job, photo: Layer, mask: Any, paint: Layer, params: Dict[str, Any], state: Any
    ) -> Tuple[Layer, Any]:
        extra = {"state": state} if state is not None else {}
        result = client().run(
            filter_id,
            photo,
            mask,
            params,
            {paint_param: paint},
            job.progress,
            None,
            job.cancel_event,
            **extra,
        )
        if not result.layers:
            raise LiveError("the filter returned nothing")
        return result.layers[0], getattr(result, "state", None) or None

    return run
