"""Which babl format the plug-in reads and writes, per GIMP precision, and mask helpers.

Choice (documented in docs/gimp.md): always the **perceptual** (sRGB-TRC) RGBA formats
``R'G'B'A u8`` / ``R'G'B'A u16`` / ``R'G'B'A float``, at the drawable's bit depth: the networks work
on sRGB-encoded values, and for GIMP's default (non-linear / perceptual) precisions reading and
writing in the drawable's own encoding is lossless, so pixels outside the selection stay
bit-identical. 32-bit integer, half and double precisions travel as ``f32``. Linear-light images
are converted to sRGB on the way out and back on the way in (exact only up to rounding).
No ``gi`` here: unit tests import it without GIMP.
"""

from __future__ import annotations

from typing import Optional

BABL_FORMATS = {"u8": "R'G'B'A u8", "u16": "R'G'B'A u16", "f32": "R'G'B'A float"}
MASK_FORMAT = "Y u8"
"""Selection coverage, 0..255; feathered / antialiased values are kept."""

_WIRE_BY_PRECISION = {
    "U8": "u8",
    "U16": "u16",
    "U32": "f32",
    "HALF": "f32",
    "FLOAT": "f32",
    "DOUBLE": "f32",
}


def wire_format(precision_name: str) -> str:
    """Wire pixel format for a GIMP precision name, e.g. ``GIMP_PRECISION_U16_NON_LINEAR`` -> u16.

    Accepts the enum's value name, its nick (``u16-non-linear``) or the bare member name.
    """
    name = precision_name.upper().replace("-", "_")
    if name.startswith("GIMP_PRECISION_"):
        name = name[len("GIMP_PRECISION_") :]
    head = name.split("_", 1)[0]
    try:
        return _WIRE_BY_PRECISION[head]
    except KeyError:
        raise ValueError("unsupported GIMP precision %r" % precision_name) from None


def babl_format(wire: str) -> str:
    """The babl format string used to read / write pixels of wire format ``wire``."""
    return BABL_FORMATS[wire]


def bytes_per_pixel(wire: str) -> int:
    return {"u8": 4, "u16": 8, "f32": 16}[wire]


def mask_or_none(coverage: bytes) -> Optional[bytes]:
    """``None`` when every pixel is fully selected (the wire's "whole layer"), else the mask."""
    if coverage.count(b"\xff") == len(coverage):
        return None
    return coverage


def mask_is_empty(coverage: bytes) -> bool:
    """True when the selection covers none of the layer's pixels."""
    return coverage.count(b"\x00") == len(coverage)
