"""Running blocking backend calls off the UI thread; results come back as Qt signals."""

from __future__ import annotations

import threading
from typing import Any, Callable, Set

from .client import Preview, session
from .qt import QThread, pyqtSignal

_running: Set[Job] = set()  # keeps Python references until each thread has finished


class Job(QThread):
    """``fn(job)`` on a worker thread. ``job.cancel_event`` / ``job.progress`` / ``job.preview``
    are for ``fn``; the UI connects to the signals, which Qt delivers on the UI thread."""

    progressed = pyqtSignal(float, str)
    previewed = pyqtSignal(object)
    succeeded = pyqtSignal(object)
    item_done = pyqtSignal(int, object)
    """(index, RunResult) for each finished item of a batch."""
    failed = pyqtSignal(object)
    """The BackendError, UserError or OSError (anything else arrives as an INTERNAL
    BackendError)."""

    def __init__(self, fn: Callable[[Job], Any]) -> None:
        super().__init__()
        self._fn = fn
        self.cancel_event = threading.Event()
        self.finished.connect(lambda: _running.discard(self))

    def start_job(self) -> Job:
        _running.add(self)
        self.start()
        return self

    def cancel(self) -> None:
        self.cancel_event.set()

    def progress(self, p: Any) -> None:
        self.progressed.emit(0.0 if p.queue_position >= 0 else p.fraction, session.progress_text(p))

    def preview(self, p: Preview) -> None:
        self.previewed.emit(p)

    def overall(self, fraction: float, text: str) -> None:
        self.progressed.emit(fraction, text)

    def item(self, index: int, result: Any) -> None:
        self.item_done.emit(index, result)

    def run(self) -> None:
        try:
            result = self._fn(self)
        except Exception as exc:  # the action boundary: shown, never a traceback dialog
            self.failed.emit(session.actions.caught(exc))
        else:
            self.succeeded.emit(result)
