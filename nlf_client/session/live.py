"""Live painting, editor-neutral: when a paint layer's change is sent, what is coalesced, the
state carried between strokes and the history that lets an undone stroke restore its result.

An editor polls its paint layer, hands :meth:`Strokes.tick` a digest of it (:func:`paint_digest`)
and does what it answers: nothing, restore a remembered result, or run the filter (one run at
a time; strokes made meanwhile are coalesced into the next run). :func:`run_live` is one run.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any, Callable, Dict, Optional, Tuple

from ..api import FilterSpec, Layer, Mask
from ..client import Client
from ..errors import BackendError
from .messages import UserError

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


def paint_param(spec: FilterSpec, preferred: str = "paint") -> str:
    """The layer parameter live strokes go to: ``preferred`` if the filter has it, else its
    first layer parameter."""
    names = [p.name for p in spec.layer_params]
    if not names:
        raise LiveError("%s has no paint layer parameter" % spec.label)
    return preferred if preferred in names else names[0]


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
