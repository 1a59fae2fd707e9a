"""The document interface each plug-in implements, and one filter run against it.

A run has three steps so an editor can keep its pixels on its UI thread: :func:`prepare` reads
the source layer, the selection and the layer parameters; :func:`execute` talks to the backend
(any thread); :func:`finish` names the results and inserts them above the source. The source
layer itself is never written to.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any, Callable, List, Mapping, Optional, Sequence

from ..api import FilterSpec, Layer, Mask, Preview, Progress, RunResult
from ..client import Client
from .messages import UserError
from .naming import layer_name
from .pixels import downscale
from .request import Request, build_request

try:
    from typing import Protocol
except ImportError:  # pragma: no cover - Python < 3.8
    Protocol = object  # type: ignore[assignment,misc]


class Document(Protocol):
    """What the session needs from an editor's open image; ``ref`` names a layer."""

    def read(self, ref: Any) -> Optional[Layer]:
        """The layer's pixels as a wire layer (``name`` = the layer's name); None when it is
        gone; UserError when it cannot be filtered (a mask, an unsupported colour model…)."""

    def selection(self) -> Optional[Mask]:
        """The selection's coverage of the layer's rectangle; None when nothing is selected."""

    def insert(self, above: Any, layers: Sequence[Layer], names: Sequence[str]) -> List[Any]:
        """Add ``layers`` as new layers directly above ``above`` (first on top); UserError when
        ``above`` is gone. Returns the new layers."""


@dataclass(frozen=True)
class Job:
    """One prepared run: what is sent and where its results go."""

    spec: FilterSpec
    values: Mapping[str, Any]
    request: Request
    layer: Layer
    mask: Optional[Mask] = None
    source: Any = None
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)

    def scaled(self, longest: int) -> Job:
        """A copy at most ``longest`` pixels on its long side (for a quick preview)."""
        layer, mask = downscale(self.layer, self.mask, longest)
        extras = {k: downscale(v, None, longest)[0] for k, v in self.request.extras.items()}
        return replace(self, layer=layer, mask=mask, request=replace(self.request, extras=extras))


def prepare(
    doc: Document, spec: FilterSpec, values: Mapping[str, Any], source: Any, mask: Any = True
) -> Job:
    """Read what a run of ``spec`` on layer ``source`` sends: the form's values as a request,
    the layer, and the selection (``mask``: True = the document's, None = none, or a Mask)."""
    request = build_request(spec, values, doc)
    layer = doc.read(source)
    if layer is None:
        raise UserError("the layer to filter no longer exists")
    selection = doc.selection() if mask is True else mask
    if spec.needs_mask and selection is None:
        raise UserError("%s needs a selection" % spec.label)
    return Job(spec, dict(values), request, layer, selection, source)


def execute(
    client: Client,
    job: Job,
    on_progress: Optional[Callable[[Progress], None]] = None,
    on_preview: Optional[Callable[[Preview], None]] = None,
    cancel: Optional[threading.Event] = None,
) -> RunResult:
    """Run ``job`` on the backend; ``cancel`` (else ``job.cancel``) stops it when set."""
    r, stop = job.request, cancel or job.cancel
    return client.run(
        job.spec.id, job.layer, job.mask, r.params, r.extras, on_progress, on_preview, stop
    )


def result_names(job: Job, result: RunResult) -> List[str]:
    n = len(result.layers)
    names = job.request.layer_names
    return [layer_name(job.spec, job.values, names, r.name, n) for r in result.layers]


def finish(doc: Document, job: Job, result: RunResult) -> List[Any]:
    """Insert ``result``'s layers above the source with their names; returns the new layers."""
    if not result.layers:
        raise UserError("%s returned no layer" % job.spec.label)
    return doc.insert(job.source, result.layers, result_names(job, result))


def progress_text(p: Progress) -> str:
    """One line for a progress report."""
    if p.queue_position >= 0:
        return "waiting in the queue (position %d)" % (p.queue_position + 1)
    return p.message or p.stage


class ProgressLine:
    """A progress bar fed by :class:`Progress` reports and overall fractions: the text is
    ``"<title>: <what>"`` and only set when it changes; a job waiting in the queue pulses.
    ``set_text(text)``, ``set_fraction(f)`` and ``pulse()`` are the editor's."""

    def __init__(
        self,
        title: str,
        set_text: Callable[[str], None],
        set_fraction: Callable[[float], None],
        pulse: Callable[[], None],
    ) -> None:
        self.title, self._text = title, ""
        self._set_text, self._set_fraction, self._pulse = set_text, set_fraction, pulse

    def text(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self._set_text(text)

    def __call__(self, p: Progress) -> None:
        self.overall(p.fraction, progress_text(p) or "working", p.queue_position >= 0)

    def overall(self, fraction: float, text: str, waiting: bool = False) -> None:
        self.text("%s: %s" % (self.title, text))
        if waiting:
            self._pulse()
        else:
            self._set_fraction(max(0.0, min(1.0, fraction)))
