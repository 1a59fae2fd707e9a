"""Domain errors. ``backend.serving.server.status_for`` is the one place that maps them to gRPC
codes."""

from __future__ import annotations

SHOWN = 100
"""Longest name or value a message echoes back (a client may send megabytes of it)."""


def shown(value: object) -> str:
    """``value`` as text for a message, cut to :data:`SHOWN` characters."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}… ({len(text)} characters)"


class NlfError(Exception):
    """Base class of every error the backend reports to a user."""


class ParamError(NlfError, ValueError):
    """A parameter value is unknown, mistyped or out of range (INVALID_ARGUMENT)."""


class BadImage(NlfError, ValueError):
    """Pixels, sizes or masks in a request are malformed (INVALID_ARGUMENT)."""


class BadState(ParamError):
    """The state a client carried between runs is unreadable or too large (INVALID_ARGUMENT)."""


class UnknownFilter(NlfError, LookupError):
    """No filter is registered under the requested id (NOT_FOUND)."""


class Missing(NlfError):
    """Something the filter needs is not installed (FAILED_PRECONDITION).

    ``command`` is the exact shell command that installs it.
    """

    def __init__(self, what: str, command: str) -> None:
        super().__init__(f"{what} is not installed; run: {command}")
        self.what = what
        self.command = command


class WeightsMissing(Missing):
    """Network weights are not in the weights folder."""

    def __init__(self, name: str, command: str | None = None) -> None:
        super().__init__(f"weights '{name}'", command or f"python -m backend weights fetch {name}")
        self.name = name


class NotApplicable(NlfError):
    """The input does not hold what the filter works on, e.g. no face (FAILED_PRECONDITION)."""


class NoFace(NotApplicable):
    """Face alignment found no face in the selection."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message or "no face found in the selection: select a face, or set align=off"
        )


class Cancelled(NlfError):
    """The client cancelled the job or went away (CANCELLED)."""


class QueueFull(NlfError):
    """The job queue is full (RESOURCE_EXHAUSTED)."""


class Broken(NlfError):
    """An installed file (attribute pack, model) is unreadable or changed since it was
    installed (FAILED_PRECONDITION); ``command`` repairs it."""

    def __init__(self, problem: str, command: str) -> None:
        super().__init__(f"{problem}; to fix it run: {command}")
        self.problem = problem
        self.command = command
