"""Cooperative cancellation for loops that have no progress callback at hand.

The worker runs each job inside :func:`watching` its stop event; any loop of the job may call
:func:`checkpoint`, which raises :class:`~backend.errors.Cancelled` once that event is set. Outside
a job (tests, the in-process CLI) a checkpoint does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import torch

from backend.errors import Cancelled

_local = threading.local()
M = TypeVar("M", bound=torch.nn.Module)


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


def checked(net: M) -> M:
    """``net`` with a :func:`checkpoint` before each of its convolutions and before each of their
    gradients (added once per net), so a cancel stops even one long forward or backward pass (a
    big tile, a large working size on a CPU) within about a second."""
    if not getattr(net, "_nlf_cancel_checked", False):
        for module in net.modules():
            if isinstance(module, torch.nn.modules.conv._ConvNd):
                module.register_forward_pre_hook(_check_hook)
                module.register_forward_hook(_check_backward)
        net._nlf_cancel_checked = True  # type: ignore[assignment]
    return net


def _check_hook(module: torch.nn.Module, args: object) -> None:
    checkpoint()


def _check_backward(module: torch.nn.Module, args: object, output: object) -> None:
    if isinstance(output, torch.Tensor) and output.requires_grad:
        output.register_hook(_check_grad)


def _check_grad(grad: torch.Tensor) -> None:
    checkpoint()
