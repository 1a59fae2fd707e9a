"""Cooperative cancellation for loops that have no progress callback at hand.

The worker runs each job inside :func:`watching` its stop event; any loop of the job may call
:func:`checkpoint`, which raises :class:`~backend.errors.Cancelled` once that event is set. Outside
a job (tests, the in-process CLI) a checkpoint does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from backend.errors import Cancelled

_local = threading.local()


@contextmanager
def watching(stop: threading.Event) -> Iterator[None]:
    """Make :func:`checkpoint` in this thread raise once ``stop`` is set."""
    previous = getattr(_local, "stop", None)
    _local.stop = stop
    try:
        yield
    finally:
        _local.stop = previous


def checkpoint() -> None:
    """Raise Cancelled if the job running in this thread was cancelled (cheap: one lookup)."""
    stop = getattr(_local, "stop", None)
    if stop is not None and stop.is_set():
        raise Cancelled("cancelled")
