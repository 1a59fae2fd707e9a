"""The client's public types: plain frozen dataclasses, no proto types, no numpy.

Runs on the editors' Pythons (3.11 Krita, 3.13 GIMP): keep it free of 3.12-only syntax.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

FORMATS = ("u8", "u16", "f32")
BYTES_PER_CHANNEL = {"u8": 1, "u16": 2, "f32": 4}


@dataclass(frozen=True)
class Layer:
    """Straight RGBA pixels, row-major, little-endian; ``x``/``y`` = offset in the document.

    ``pixels`` is ``bytes``, or for results of a client connected with ``result_views=True``
    possibly a read-only ``memoryview`` of shared memory (same bytes, no copy)."""

    pixels: bytes = field(repr=False)
    width: int
    height: int
    format: str = "u8"
    x: int = 0
    y: int = 0
    name: str = ""

    @property
    def expected_size(self) -> int:
        return self.width * self.height * 4 * BYTES_PER_CHANNEL[self.format]


@dataclass(frozen=True)
class Mask:
    """8-bit selection coverage of the layer's rectangle (255 = selected, 0 = untouched)."""

    pixels: bytes = field(repr=False)
    width: int
    height: int


@dataclass(frozen=True)
class Colour:
    r: float
    g: float
    b: float
    a: float = 1.0


ParamValue = Union[float, int, bool, str, Colour]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: kind is float, int, bool, choice, string, colour or layer."""

    name: str
    kind: str
    label: str
    default: Any = None
    help: str = ""
    min: Optional[float] = None
    max: Optional[float] = None
    step: Optional[float] = None
    choices: Tuple[str, ...] = ()
    required: bool = False
    dynamic: bool = False


@dataclass(frozen=True)
class FilterSpec:
    id: str
    label: str
    description: str = ""
    category: str = ""
    needs_mask: bool = False
    params: Tuple[ParamSpec, ...] = ()

    @property
    def layer_params(self) -> Tuple[ParamSpec, ...]:
        return tuple(p for p in self.params if p.kind == "layer")

    def defaults(self) -> Dict[str, Any]:
        return {p.name: p.default for p in self.params if p.kind != "layer"}


@dataclass(frozen=True)
class Missing:
    what: str
    command: str


@dataclass(frozen=True)
class FilterStatus:
    id: str
    ready: bool
    missing: Tuple[Missing, ...] = ()


@dataclass(frozen=True)
class Status:
    server_version: str
    protocol_version: int
    device: str
    device_name: str
    memory_total: int
    memory_free: int
    queue_length: int
    filters: Tuple[FilterStatus, ...] = ()

    def filter_status(self, filter_id: str) -> Optional[FilterStatus]:
        for f in self.filters:
            if f.id == filter_id:
                return f
        return None


@dataclass(frozen=True)
class Progress:
    fraction: float
    stage: str = ""
    message: str = ""
    queue_position: int = -1
    """>= 0 while the job waits in the queue; -1 once it runs."""


@dataclass(frozen=True)
class Preview:
    pixels: bytes = field(repr=False)
    width: int
    height: int


@dataclass(frozen=True)
class RunResult:
    layers: List[Layer] = field(default_factory=list)
    state: bytes = field(default=b"", repr=False)
    """Opaque state of a stateful filter (npe: the latent between strokes); pass it as
    ``Client.run(..., state=result.state)`` to continue, or omit it to start fresh."""
