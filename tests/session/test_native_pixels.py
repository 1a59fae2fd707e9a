"""Editors' native pixels (Krita's ``pixelData`` at each colour depth) to the wire and back,
and a selection's coverage as a run's mask."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nlf_client.session import UserError as DocumentError
from nlf_client.session import native_to_wire as to_wire
from nlf_client.session import selection_mask
from nlf_client.session import wire_to_native as from_wire


def test_u8_bgra_becomes_rgba_and_back():
    """Krita's U8 B,G,R,A bytes go on the wire as R,G,B,A and come back unchanged."""
    krita_px = bytes([10, 20, 30, 255, 1, 2, 3, 4])
    wire, fmt = to_wire(krita_px, "U8")
    assert (fmt, wire) == ("u8", bytes([30, 20, 10, 255, 3, 2, 1, 4]))
    assert from_wire(wire, "u8", "U8") == krita_px


def test_u16_bgra_becomes_little_endian_rgba():
    """U16 swaps red and blue per 16-bit channel and stays u16 on the wire."""
    krita_px = struct.pack("<8H", 100, 2000, 65535, 40000, 0, 1, 2, 3)
    wire, fmt = to_wire(krita_px, "U16")
    assert fmt == "u16"
    assert struct.unpack("<8H", wire) == (65535, 2000, 100, 40000, 2, 1, 0, 3)
    assert from_wire(wire, "u16", "U16") == krita_px


def test_f16_widens_to_f32_rgba_and_narrows_back_exactly():
    """F16 pixels (already R,G,B,A) become exact f32 values and return bit-identical."""
    values = (0.5, 0.25, 1.0, 0.0009765625, -2.0, 65504.0, 0.0, 1.0)
    krita_px = struct.pack("<8e", *values)
    wire, fmt = to_wire(krita_px, "F16")
    assert fmt == "f32"
    assert struct.unpack("<8f", wire) == values
    assert from_wire(wire, "f32", "F16") == krita_px


def test_f32_keeps_channel_order():
    """F32 is R,G,B,A in Krita and on the wire: passed through bit for bit."""
    krita_px = struct.pack("<4f", 0.1, 0.2, 0.3, 1.0)
    assert to_wire(krita_px, "F32") == (krita_px, "f32")
    assert from_wire(krita_px, "f32", "F32") == krita_px


def test_f16_clamps_values_beyond_half_range():
    """Results too large for half floats are clamped instead of failing."""
    wire = struct.pack("<4f", 1e6, -1e6, 0.5, 1.0)
    assert struct.unpack("<4e", from_wire(wire, "f32", "F16")) == (65504.0, -65504.0, 0.5, 1.0)


def test_cross_depth_conversion_rounds_and_clamps():
    """A u16 or f32 result written into a U8 layer is scaled, rounded, clamped and BGRA."""
    wire16 = struct.pack("<4H", 65535, 32768, 0, 65535)
    assert from_wire(wire16, "u16", "U8") == bytes([0, 128, 255, 255])
    wiref = struct.pack("<4f", 1.5, 0.5, -1.0, 1.0)
    assert from_wire(wiref, "f32", "U8") == bytes([0, 128, 255, 255])
    assert struct.unpack("<4H", from_wire(bytes([255, 0, 51, 255]), "u8", "U16")) == (
        13107,
        0,
        65535,
        65535,
    )


def test_unknown_depth_is_refused():
    """Depths the wire cannot carry raise a message for the artist."""
    with pytest.raises(DocumentError, match="U32"):
        to_wire(b"\0" * 16, "U32")


@given(st.sampled_from(["U8", "U16", "F32"]), st.binary(min_size=0, max_size=64))
def test_round_trip_is_identity(depth, raw):
    """to_wire then from_wire gives back Krita's bytes for any pixels (integer and f32)."""
    size = {"U8": 4, "U16": 8, "F32": 16}[depth]
    raw = raw[: len(raw) // size * size]
    wire, fmt = to_wire(raw, depth)
    assert from_wire(wire, fmt, depth) == raw


_HALF_BITS = st.builds(
    lambda sign, exp, mant: sign << 15 | exp << 10 | mant,
    st.integers(0, 1),
    st.integers(0, 30),  # 31 = inf / NaN
    st.integers(0, 1023),
)


@given(st.lists(_HALF_BITS, min_size=0, max_size=32))
def test_f16_round_trip_is_identity(bits):
    """Any finite half-float pixels (subnormals too) survive the f32 wire bit for bit."""
    bits = bits[: len(bits) // 4 * 4]
    raw = struct.pack("<%dH" % len(bits), *bits)
    wire, fmt = to_wire(raw, "F16")
    assert all(math.isfinite(v) for v in struct.unpack("<%df" % len(bits), wire))
    assert from_wire(wire, fmt, "F16") == raw


def test_selection_coverage_becomes_a_mask():
    """Full coverage = no mask; none at all = a message naming the layer; else the coverage."""
    assert selection_mask(b"\xff" * 6, 3, 2, "Photo") is None
    with pytest.raises(DocumentError, match="does not overlap layer 'Photo'"):
        selection_mask(b"\x00" * 6, 3, 2, "Photo")
    mask = selection_mask(b"\x00\x80\xff" * 2, 3, 2, "Photo")
    assert (mask.pixels, mask.width, mask.height) == (b"\x00\x80\xff" * 2, 3, 2)
