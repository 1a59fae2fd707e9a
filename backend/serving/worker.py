"""The single worker that owns the device, and its bounded queue of jobs."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from backend.cancel import watching
from backend.errors import Cancelled, QueueFull
from backend.filters.base import Filter, Step
from backend.serving.jobs import Job, execute_job

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Ticket:
    """A submitted job: the worker puts ("step", Step), ("result", Executed) or ("error", exc).

    Compared by identity: the queue looks tickets up, and field equality would compare pixels.
    """

    job: Job
    flt: Filter
    stop: threading.Event = field(default_factory=threading.Event)
    events: queue.Queue[tuple[str, Any]] = field(default_factory=queue.Queue)
    started: float = 0.0


class Worker:
    """Runs one job at a time on the device; at most ``max_queue`` jobs wait."""

    def __init__(self, max_queue: int = 16, max_pixels: int | None = None) -> None:
        self.max_queue = max_queue
        self.max_pixels = max_pixels
        self._pending: deque[Ticket] = deque()
        self._current: Ticket | None = None
        self._cv = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="nlf-worker", daemon=True)
        self._thread.start()

    @property
    def queue_length(self) -> int:
        with self._cv:
            return len(self._pending)

    @property
    def busy(self) -> bool:
        return self._current is not None

    def submit(self, ticket: Ticket) -> int:
        """Queue a job; return how many jobs run before it (0 = next)."""
        with self._cv:
            if len(self._pending) >= self.max_queue:
                raise QueueFull(
                    f"the backend's queue is full ({self.max_queue} jobs waiting); try again "
                    "when the running jobs have finished"
                )
            self._pending.append(ticket)
            self._cv.notify()
            return len(self._pending) - 1 + (1 if self._current else 0)

    def position(self, ticket: Ticket) -> int | None:
        """Jobs ahead of ``ticket`` while it waits; None once it runs or ended."""
        with self._cv:
            for i, waiting in enumerate(self._pending):
                if waiting is ticket:
                    return i + (1 if self._current else 0)
            return None

    def withdraw(self, ticket: Ticket) -> bool:
        """Take a cancelled ``ticket`` out of the queue at once (its slot frees for others);
        False when it is not waiting (running or ended: its stop event ends it)."""
        with self._cv:
            try:
                self._pending.remove(ticket)
            except ValueError:
                return False
        ticket.events.put(("error", Cancelled("cancelled while waiting in the queue")))
        return True

    def close(self) -> None:
        with self._cv:
            self._closed = True
            for t in self._pending:
                t.events.put(("error", Cancelled("the server is shutting down")))
            self._pending.clear()
            self._cv.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                ticket = self._pending.popleft()
                self._current = ticket
            try:
                self._run(ticket)
            finally:
                with self._cv:
                    self._current = None

    def _run(self, ticket: Ticket) -> None:
        if ticket.stop.is_set():
            ticket.events.put(("error", Cancelled("cancelled before it started")))
            return

        def on_step(step: Step) -> None:
            if ticket.stop.is_set():
                raise Cancelled("cancelled")
            ticket.events.put(("step", step))

        ticket.started = time.perf_counter()
        try:
            kwargs = {} if self.max_pixels is None else {"max_pixels": self.max_pixels}
            with watching(ticket.stop):
                result = execute_job(ticket.flt, ticket.job, on_step, **kwargs)
        except BaseException as exc:  # the worker must survive anything a filter does
            if ticket.stop.is_set() and not isinstance(exc, Cancelled):
                exc = Cancelled("cancelled")
            ticket.events.put(("error", exc))
        else:
            ticket.events.put(("result", result))
