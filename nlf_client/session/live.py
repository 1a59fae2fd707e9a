"""Live painting, editor-neutral: when a paint layer's change is sent, what is coalesced, the
state carried between strokes and the history that lets an undone stroke restore its result.

An editor polls its paint layer, hands :meth:`Strokes.tick` a digest of it (:func:`paint_digest`)
and does what it answers: nothing, restore a remembered result, or run the filter (one run at
a time; strokes made meanwhile are coalesced into the next run). :class:`LiveLoop` is that
polling flow with the editor's part as hooks; :func:`run_live` is one run.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from typing import Any, Callable, Dict, Optional, Tuple

from ..api import FilterSpec, Layer, Mask
from ..client import Client
from ..errors import BackendError
from .messages import UserError

log = logging.getLogger(__name__)
HISTORY = 24
"""Paint-layer states remembered for undo (each keeps one result layer's pixels)."""
RESULT_NAME = "[NLF] {label} (live)"
Rect = Tuple[int, int, int, int]


class LiveError(UserError):
    """Live painting cannot go on (the message is shown to the artist)."""


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


EMPTY = digest(b"empty")


def paint_digest(data: Optional[bytes], rect: Rect) -> Tuple[bytes, bool]:
    """(digest, empty) of the paint layer's pixels ``data`` read in ``rect`` (x0, y0, x1, y1);
    None or fully transparent pixels are an empty layer."""
    if not data or data.count(0) == len(data):
        return EMPTY, True
    return digest(b"%d,%d,%d,%d:" % rect + data), False


def clip(rect: Optional[Rect], width: int, height: int) -> Optional[Rect]:
    """The painted rectangle inside the canvas (None: all of it; an empty one: ``(0,0,0,0)``)."""
    if rect is None:
        return (0, 0, width, height)
    x, y, x1, y1 = max(0, rect[0]), max(0, rect[1]), min(width, rect[2]), min(height, rect[3])
    return (x, y, x1, y1) if x1 > x and y1 > y else None


class Strokes:
    """What a live session remembers (see the module docstring)."""

    def __init__(self) -> None:
        self.state: Any = None
        """The filter's opaque state after the result shown (sent with the next run)."""
        self.runs = 0
        self.generation = 0
        """Bumped by a reset or a stop: answers of older runs are dropped."""
        self._seen: Optional[bytes] = None  # digest at the last tick
        self._shown: Optional[bytes] = None  # digest of the paint the result shows
        self._origin: Optional[bytes] = None  # the paint layer when the state was last empty
        self._history: OrderedDict[bytes, Tuple[Layer, Any]] = OrderedDict()

    def begin(self, seen: bytes, empty: bool) -> None:
        self._origin = seen
        if empty:  # nothing painted yet: nothing to show until the first stroke
            self._shown = self._seen = seen

    def forget(self) -> None:
        """Start from the photo again with what is on the paint layer at the next tick."""
        self.generation += 1
        self.state, self._shown, self._origin, self._seen = None, None, None, None
        self._history.clear()

    def tick(self, seen: bytes, busy: bool) -> Optional[Tuple[str, Any]]:
        """None (still painting, nothing new, or busy: coalesced into the next run),
        ``("restore", (layer, state))`` for a paint layer seen before (undo / redo), or
        ``("run", state)``: run with that state (None back at the paint before the first
        stroke: from the photo)."""
        settled, self._seen = seen == self._seen, seen
        if not settled or seen == self._shown or busy:
            return None
        if seen in self._history:
            return "restore", self._history[seen]
        return "run", None if seen == self._origin else self.state

    def shown(self, seen: bytes, state: Any, generation: Optional[int] = None) -> bool:
        """The result for paint ``seen`` is on show, with the filter's ``state``; False (and
        nothing kept) when a reset or stop came since ``generation`` (while it was written)."""
        if generation is not None and generation != self.generation:
            return False
        self.state, self._shown = state, seen
        return True

    def ran(self, seen: bytes, layer: Layer, state: Any) -> None:
        self.runs += 1
        self._history[seen] = (layer, state)
        while len(self._history) > HISTORY:
            self._history.popitem(last=False)


class LiveLoop(Strokes):
    """A live session's flow on the editor's UI thread: one run at a time, answers of runs
    overtaken by a reset or a stop dropped, any failure stops the session (with why).

    The editor calls :meth:`poll` on a timer and supplies: ``check()`` (LiveError when the
    image or a layer is gone); ``read_paint() -> (digest, empty)`` (:func:`paint_digest`);
    ``launch(seen, state, generation) -> job``: start a run off the UI thread, its answer
    (result layer, state) going to :meth:`answered` or its error to :meth:`run_failed` on the
    UI thread (a job has ``cancel()``); ``write(layer)`` into the result layer (adding it the
    first time; an editor's event loop may run there); ``halt()`` (stop polling);
    ``notify(event, *args)`` for "refreshed" (a line to show), "stopped" (why) and
    "busy_changed" (busy).
    """

    def __init__(self, label: str = "") -> None:  # "": Qt's cooperative __init__ calls it bare
        Strokes.__init__(self)
        self.result_name = RESULT_NAME.format(label=label)
        self.job: Any = None
        """The running job, None when idle."""
        self._writing = False  # inside write(): the editor's event loop may poll meanwhile

    def stop(self, why: str = "") -> None:
        self.halt()
        self.generation += 1
        if self.job is not None:
            self.job.cancel()
        if why:
            self.notify("stopped", why)

    def reset(self) -> None:
        """Forget the state and the history: the next run starts from the photo again with
        what is on the paint layer now (an empty paint layer gives the photo back)."""
        self.forget()
        if self.job is not None:
            self.job.cancel()

    def poll(self) -> None:
        """Start a run when the paint layer changed and has settled; a failure stops."""
        try:
            self._poll()
        except UserError as exc:
            self.stop(str(exc))
        except Exception as exc:  # a timer's slot: never the editor's traceback dialog
            log.exception("live tick failed")
            self.stop("%s: %s" % (type(exc).__name__, exc))

    def _poll(self) -> None:
        if self._writing:
            return  # re-entered from the editor's event loop while a result is written
        self.check()
        seen = self.read_paint()[0]
        todo = Strokes.tick(self, seen, busy=self.job is not None)
        if todo is not None and todo[0] == "restore":  # undo / redo back to a known paint
            self._show(*todo[1], seen)
            self.notify("refreshed", "Restored the result for this paint layer")
        elif todo is not None:
            self.job = self.launch(seen, todo[1], self.generation)
            self.notify("busy_changed", True)

    def _over(self, job: Any) -> None:
        if self.job is job:
            self.job = None
            self.notify("busy_changed", False)

    def run_failed(self, job: Any, generation: int, exc: Exception) -> None:
        self._over(job)
        if generation == self.generation:  # else reset or stopped meanwhile: not wanted
            self.stop(stopped_text(exc))

    def answered(self, job: Any, generation: int, seen: bytes, out: Tuple[Layer, Any]) -> None:
        """A run's (result layer, state) for paint ``seen``: shown, remembered, told."""
        try:
            if generation != self.generation or not self._show(*out, seen):
                return
        except LiveError as exc:
            self.stop(str(exc))
            return
        finally:  # only now: a poll before the result is shown would send the stroke again
            self._over(job)
        self.ran(seen, *out)
        self.notify("refreshed", "Updated %s (run %d)" % (self.result_name, self.runs))

    def _show(self, layer: Layer, state: Any, seen: bytes) -> bool:
        """Write ``layer`` into the result layer; False when a reset came meanwhile."""
        generation, self._writing = self.generation, True
        try:
            self.write(layer)
        finally:
            self._writing = False
        return self.shown(seen, state, generation)

    # -- the editor's hooks --
    def check(self) -> None:
        raise NotImplementedError

    def read_paint(self) -> Tuple[bytes, bool]:
        raise NotImplementedError

    def launch(self, seen: bytes, state: Any, generation: int) -> Any:
        raise NotImplementedError

    def write(self, layer: Layer) -> None:
        raise NotImplementedError

    def halt(self) -> None:
        raise NotImplementedError

    def notify(self, event: str, *args: Any) -> None:
        raise NotImplementedError


def paint_param(spec: FilterSpec, preferred: str = "paint") -> str:
    """The layer parameter live strokes go to: ``preferred`` if the filter has it, else its
    first layer parameter."""
    names = [p.name for p in spec.layer_params]
    if not names:
        raise LiveError("%s has no paint layer parameter" % spec.label)
    return preferred if preferred in names else names[0]


def live_target(
    filters: Dict[str, FilterSpec],
    filter_id: str,
    form: Optional[FilterSpec],
    values: Dict[str, Any],
) -> Tuple[FilterSpec, str, Any]:
    """What switching live painting on paints with: (the filter's spec, its paint parameter, the
    layer chosen for it in the form or None). LiveError when the backend does not offer the
    filter the form shows."""
    spec = filters.get(filter_id)
    if spec is None or form is None or form.id != spec.id:
        raise LiveError("the backend does not offer this filter (refresh?)")
    param = paint_param(spec)
    return spec, param, values.get(param) or None


def run_values(spec: FilterSpec, values: Dict[str, Any]) -> Dict[str, Any]:
    """The form's values a live run sends (every non-layer parameter, else its default)."""
    return {p.name: values.get(p.name, p.default) for p in spec.params if p.kind != "layer"}


def run_live(
    client: Client,
    filter_id: str,
    paint_param: str,
    photo: Layer,
    mask: Optional[Mask],
    paint: Layer,
    params: Dict[str, Any],
    state: Any,
    on_progress: Optional[Callable[[Any], None]] = None,
    cancel: Optional[threading.Event] = None,
) -> Tuple[Layer, Any]:
    """One live run: the filter's first result layer and the state it returned (None from a
    filter without one)."""
    extra = {"state": state} if state is not None else {}
    result = client.run(
        filter_id, photo, mask, params, {paint_param: paint}, on_progress, None, cancel, **extra
    )
    if not result.layers:
        raise LiveError("the filter returned nothing")
    return result.layers[0], getattr(result, "state", None) or None


def stopped_text(exc: Exception) -> str:
    """Why a live session stopped after a failed run."""
    if isinstance(exc, BackendError):
        text = "%s [%s]" % (exc.message, exc.code) if exc.code else exc.message
    else:
        text = str(exc)
    return "%s; live painting stopped, the image was not changed" % text
