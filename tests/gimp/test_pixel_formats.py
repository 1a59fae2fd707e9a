"""Precision -> wire / babl formats and selection mask helpers (no GIMP)."""

from __future__ import annotations

import pytest
from nlf_gimp.pixel_formats import (
    BABL_FORMATS,
    babl_format,
    bytes_per_pixel,
    mask_is_empty,
    mask_or_none,
    wire_format,
)

from nlf_client.api import BYTES_PER_CHANNEL

PRECISIONS = {
    "U8": "u8",
    "U16": "u16",
    "U32": "f32",
    "HALF": "f32",
    "FLOAT": "f32",
    "DOUBLE": "f32",
}


@pytest.mark.parametrize("depth", sorted(PRECISIONS))
@pytest.mark.parametrize("trc", ["LINEAR", "NON_LINEAR", "PERCEPTUAL"])
def test_every_gimp_precision_has_a_wire_format(depth: str, trc: str) -> None:
    """All 18 GIMP precisions map to u8, u16 or f32 whatever their TRC, in any spelling."""
    want = PRECISIONS[depth]
    assert wire_format(f"GIMP_PRECISION_{depth}_{trc}") == want
    assert wire_format(f"{depth}_{trc}".lower().replace("_", "-")) == want


def test_unknown_precision_is_an_error() -> None:
    """An unknown precision is refused instead of guessed."""
    with pytest.raises(ValueError, match="precision"):
        wire_format("GIMP_PRECISION_U64_LINEAR")


def test_babl_formats_are_perceptual_rgba_at_wire_depth() -> None:
    """Reads/writes use R'G'B'A (sRGB TRC) with the wire's sample type and size."""
    assert babl_format("u8") == "R'G'B'A u8"
    assert babl_format("u16") == "R'G'B'A u16"
    assert babl_format("f32") == "R'G'B'A float"
    for fmt in BABL_FORMATS:
        assert bytes_per_pixel(fmt) == 4 * BYTES_PER_CHANNEL[fmt]


def test_mask_helpers_keep_feathered_coverage() -> None:
    """Full coverage means 'whole layer' (None); partial values pass through untouched."""
    assert mask_or_none(b"\xff" * 12) is None
    feathered = bytes([0, 1, 128, 254, 255])
    assert mask_or_none(feathered) == feathered
    assert mask_is_empty(b"\x00" * 9)
    assert not mask_is_empty(b"\x00\x00\x01")
