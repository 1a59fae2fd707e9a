"""Running blocking backend calls off the UI thread; results come back as Qt signals."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Set

from .client import BackendError, Preview, Progress
from .qt import QThread, pyqtSignal

log = logging.getLogger(__name__)
_running: Set[Job] = set()  # keeps Python references until each thread has finished


class Job(QThread):
    """``fn(job)`` on a worker thread. ``job.cancel_event`` / ``job.progress`` / ``job.preview``
    are for ``fn``; the UI connects to the signals, which Qt delivers on the UI thread."""

    progressed = pyqtSignal(float, str)
    previewed = pyqtSignal(object)
    succeeded = pyqtSignal(object)
    item_done = pyqtSignal(int, object)
    """(index, RunResult) for each finished item of a batch."""
    failed = pyqtSignal(str, str)
    """(code, message): a BackendError's code, or "INTERNAL" for anything unexpected."""

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

    def progress(self, p: Progress) -> None:
        if p.queue_position >= 0:
            self.progressed.emit(0.0, f"waiting in the queue (position {p.queue_position + 1})")
        else:
            self.progressed.emit(p.fraction, p.message or p.stage)

    def preview(self, p: Preview) -> None:
        self.previewed.emit(p)

    def run(self) -> None:
        try:
            result = self._fn(self)
        except BackendError as exc:
            self.failed.emit(exc.code, exc.message)
        except Exception as exc:  # the action boundary: log it, show it, never a traceback dialog
            log.exception("job failed")
            self.failed.emit("INTERNAL", f"{type(exc).__name__}: {exc}")
        else:
            self.succeeded.emit(result)
