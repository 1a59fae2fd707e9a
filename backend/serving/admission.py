"""What a backend admits at once: limits checked before anything is allocated or waited for.

* :class:`Limits` holds the serve flags that bound a request (validated at start-up).
* :class:`Slots` counts concurrent calls of one kind without ever blocking: a full house is an
  immediate :class:`~backend.errors.QueueFull` (RESOURCE_EXHAUSTED), so handler threads never
  pile up waiting and there is always a thread for GetStatus.
* :class:`IdleUploads` drops an upload that sent nothing for ``timeout`` seconds, so a stream
  that sends a header and waits cannot hold a handler thread (or a slot) forever.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from backend.errors import NlfError, QueueFull
from backend.serving import imaging

log = logging.getLogger(__name__)


class UploadIdle(NlfError):
    """An upload stopped sending pixels for longer than the server's idle timeout
    (DEADLINE_EXCEEDED)."""


@dataclass(frozen=True)
class Limits:
    """How much one backend takes on; every value must be positive (see :meth:`check`)."""

    max_queue: int = 16
    """Jobs that may wait for the worker."""
    max_pixels: int = imaging.DEFAULT_MAX_PIXELS
    """Largest single layer, in pixels."""
    max_total_pixels: int = 2 * imaging.DEFAULT_MAX_PIXELS
    """All layers of one request together, in pixels (masks excluded)."""
    max_uploads: int = 16
    """Requests that may be uploading pixels at the same time."""
    upload_idle: float = 30.0
    """Seconds an upload may send nothing before it is dropped."""

    def check(self) -> Limits:
        """Raise ValueError naming the flag when a value is unusable; return self."""
        for flag, value in (
            ("--max-queue", self.max_queue),
            ("--max-pixels", self.max_pixels),
            ("--max-total-pixels", self.max_total_pixels),
            ("--max-uploads", self.max_uploads),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{flag} must be a whole number of at least 1, got {value}")
        if self.max_total_pixels < self.max_pixels:
            raise ValueError(
                f"--max-total-pixels ({self.max_total_pixels}) must be at least --max-pixels "
                f"({self.max_pixels})"
            )
        if not (self.upload_idle > 0 and self.upload_idle < float("inf")):
            raise ValueError(
                "--upload-idle-timeout must be a positive number of seconds, "
                f"got {self.upload_idle}"
            )
        return self

    @property
    def max_runs(self) -> int:
        """Run calls alive at once: uploading, queued, running, and one delivering its result."""
        return self.max_uploads + self.max_queue + 2

    @property
    def threads(self) -> int:
        """Handler threads: every admitted Run call plus spares for status, lists and refusals."""
        return self.max_runs + 8


class Slots:
    """A counter of concurrent calls that refuses instead of waiting."""

    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.what = what
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        with self._lock:
            return self._used

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._lock:
            if self._used >= self.limit:
                raise QueueFull(
                    f"this backend is busy ({self.limit} {self.what} at once); try again when "
                    "the running jobs have finished"
                )
            self._used += 1
        try:
            yield
        finally:
            with self._lock:
                self._used -= 1


class _Upload:
    def __init__(self, context: Any) -> None:
        self.context = context
        self.last = time.monotonic()
        self.timed_out = False


class IdleUploads:
    """One watcher thread for all uploads; each one's clock restarts with every message."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._uploads: set[_Upload] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, requests: Iterable[Any], context: Any) -> Iterator[Any]:
        """``requests`` passed through; raises UploadIdle when the client stalls too long."""
        upload = _Upload(context)
        with self._lock:
            self._uploads.add(upload)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="nlf-idle", daemon=True)
                self._thread.start()
        try:
            for req in requests:
                upload.last = time.monotonic()
                yield req
        except Exception:
            if upload.timed_out:
                raise UploadIdle(self._message()) from None
            raise
        finally:
            with self._lock:
                self._uploads.discard(upload)
        if upload.timed_out:
            raise UploadIdle(self._message())

    def _message(self) -> str:
        return (
            f"the upload sent nothing for {self.timeout:g} s and was dropped; check the "
            "connection and send the job again"
        )

    def _loop(self) -> None:
        while True:
            time.sleep(min(1.0, self.timeout / 4))
            now = time.monotonic()
            with self._lock:
                stalled = [u for u in self._uploads if now - u.last > self.timeout]
            for upload in stalled:
                if not upload.timed_out:
                    upload.timed_out = True
                    log.info("dropping an upload idle for %.0f s", now - upload.last)
                    _end_call(upload.context, self._message())


def _end_call(context: Any, message: str) -> None:
    """End a call from outside its handler thread, which is blocked reading the next message.

    grpc's public ``context.cancel()`` answers CANCELLED without a reason; its core call can
    carry the real code and message, so use it where this grpc version has it.
    """
    try:
        from grpc._cython import cygrpc

        context._rpc_event.call.cancel(cygrpc.StatusCode.deadline_exceeded, message)
    except Exception:  # an other grpc version: the client still gets CANCELLED at once
        context.cancel()
