"""One action run to its end on the calling thread, for editors whose plug-in calls block
(GIMP's procedures): the session's link, a progress line, and every failure in words.
"""

from __future__ import annotations

from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

from ..api import FilterSpec, Progress
from .actions import caught
from .batch import folder_summary, run_each
from .document import Document, ProgressLine, execute, finish, prepare
from .messages import UserError
from .session import Session
from .settings import Settings


class BlockingRun(Session, ProgressLine):
    """One call: a :class:`Session` (connects on first use, auto-starting a local backend and
    telling the progress line meanwhile) with a :class:`ProgressLine` on the editor's progress
    bar (``set_text``, ``set_fraction``, ``pulse``), titled ``label``."""

    def __init__(
        self,
        label: str,
        settings: Settings,
        settings_place: str,
        log_path: str,
        set_text: Callable[[str], None],
        set_fraction: Callable[[float], None],
        pulse: Callable[[], None],
    ) -> None:
        Session.__init__(self, settings, settings_place, log_path)
        ProgressLine.__init__(self, label, set_text, set_fraction, pulse)
        self.label, self.on_wait = label, self.text  # in messages / while a backend starts

    def attempt(self, work: Callable[[BlockingRun], None]) -> str:
        """Run ``work(self)``: "" when it succeeded, else what went wrong, in words (it never
        raises); the link to the backend is closed either way."""
        try:
            work(self)
        except Exception as exc:  # the action boundary: never crash the editor
            return self.describe(caught(exc), self.label)
        finally:
            self.forget_client()
        return ""

    def each(
        self, count: int, one: Callable[[int, Callable[[Progress], None]], Any], keep_going=False
    ) -> List[Tuple[int, str]]:
        """Items ``0..count-1`` with overall progress (:func:`.batch.run_each`)."""
        nothing = lambda *a: None  # noqa: E731
        return run_each(count, one, self.overall, nothing, lambda: False, keep_going)

    def each_file(
        self, files: Sequence[str], out_dir: str, one: Callable[[str, Callable[..., None]], Any]
    ) -> None:
        """``one(path, report)`` for each of ``files``, going on past one that fails; then
        UserError naming the failed ones and why (:func:`.batch.folder_summary`), if any."""
        failures = self.each(len(files), lambda i, report: one(files[i], report), keep_going=True)
        if failures:
            raise UserError(folder_summary(files, failures, out_dir))

    def run_on(
        self,
        doc: Document,
        spec: FilterSpec,
        values: Mapping[str, Any],
        source: Any,
        report: Optional[Callable[[Progress], None]] = None,
    ) -> List[Any]:
        """Layer ``source`` of ``doc`` (+ selection, + layer parameters) through the backend;
        the named results go in above it. Returns the new layers."""
        job = prepare(doc, spec, values, source)
        return finish(doc, job, execute(self.client(), job, report or self))
