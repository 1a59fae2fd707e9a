"""Editor-neutral client for the Neural Layer Filters backend (stdlib + grpcio + protobuf)."""

from .api import (
    Colour,
    FilterSpec,
    FilterStatus,
    Layer,
    Mask,
    Missing,
    ParamSpec,
    Preview,
    Progress,
    RunResult,
    Status,
)
from .client import Client
from .errors import BackendError

__all__ = [
    "BackendError",
    "Client",
    "Colour",
    "FilterSpec",
    "FilterStatus",
    "Layer",
    "Mask",
    "Missing",
    "ParamSpec",
    "Preview",
    "Progress",
    "RunResult",
    "Status",
]
