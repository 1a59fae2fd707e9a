"""Running blocking backend calls off the UI thread; results come back as Qt signals."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Set

from .client import BackendError, Preview, session
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

    def run(self) -> None:
        try:
            result = self._fn(self)
        except (BackendError, session.UserError, OSError) as exc:
            self.failed.emit(exc)
        except Exception as exc:  # the action boundary: log it, show it, never a traceback dialog
            log.exception("job failed")
            self.failed.emit(BackendError("INTERNAL", f"{type(exc).__name__}: {exc}"))
        else:
            self.succeeded.emit(result)
