"""The backend client: the copy of ``nlf_client`` installed inside this package, else the repo's."""

from __future__ import annotations

try:
    from .nlf_client import (
        BackendError,
        Client,
        Colour,
        FilterSpec,
        Layer,
        Mask,
        ParamSpec,
        Preview,
        Progress,
        RunResult,
        Status,
    )
except ModuleNotFoundError as exc:  # a source checkout (unit tests): nlf_client is on sys.path
    if exc.name != f"{__package__}.nlf_client":
        raise
    from nlf_client import (  # type: ignore[no-redef]
        BackendError,
        Client,
        Colour,
        FilterSpec,
        Layer,
        Mask,
        ParamSpec,
        Preview,
        Progress,
        RunResult,
        Status,
    )

__all__ = [
    "BackendError",
    "Client",
    "Colour",
    "FilterSpec",
    "Layer",
    "Mask",
    "ParamSpec",
    "Preview",
    "Progress",
    "RunResult",
    "Status",
]
