"""The one error type the client raises."""

from __future__ import annotations


class BackendError(Exception):
    """A failed call: ``code`` is the gRPC status name (e.g. ``"INVALID_ARGUMENT"``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
