"""Pixel formats, selection and layer insertion against the fake krita module."""

from __future__ import annotations

import pytest

from tests.krita import qt_binding  # isort: skip

pytest.importorskip(f"{qt_binding.NAME}.QtWidgets", reason=qt_binding.REASON)

import math
import struct

from hypothesis import given
from hypothesis import strategies as st

from nlf_client import Layer
from nlf_client.session import UserError as DocumentError
from tests.krita.mock_krita import Document, Selection

from neural_layer_filters.document import (  # isort: skip
    KritaDocument,
    find_node,
    from_wire,
    layer_tree,
    node_id,
    to_wire,
)


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


def _doc(w=4, h=3, depth="U8"):
    doc = Document(w, h, depth=depth)
    bg = doc.createNode("Background", "paintlayer")
    doc.rootNode().addChildNode(bg, None)
    doc.setActiveNode(bg)
    return doc, bg


def test_layer_pixels_read_the_whole_canvas_as_rgba():
    """The active paint layer is read over the canvas and converted to RGBA at the boundary."""
    doc, bg = _doc(2, 1)
    bg.setPixelData(bytes([1, 2, 3, 4, 5, 6, 7, 8]), 0, 0, 2, 1)
    layer = KritaDocument(doc).layer_pixels(bg)
    assert (layer.width, layer.height, layer.format, layer.x, layer.y) == (2, 1, "u8", 0, 0)
    assert layer.pixels == bytes([3, 2, 1, 4, 7, 6, 5, 8])


def test_non_rgb_layers_are_refused_with_a_fix():
    """A CMYK layer is refused with a message that says how to convert it."""
    doc, _ = _doc()
    doc._model = "CMYKA"
    node = doc.createNode("cmyk", "paintlayer")
    with pytest.raises(DocumentError, match="Convert Image Color Space"):
        KritaDocument(doc).layer_pixels(node)


def test_masks_cannot_be_filtered_and_no_document_is_an_error():
    """An active mask or a missing document gives a message, not a crash."""
    with pytest.raises(DocumentError, match="open an image"):
        KritaDocument(None)
    doc, _ = _doc()
    mask = doc.createNode("Selection Mask", "selectionmask")
    doc.setActiveNode(mask)
    with pytest.raises(DocumentError, match="not a mask"):
        KritaDocument(doc).active_node()


def test_selection_becomes_the_exact_mask():
    """No selection -> no mask; a (feathered) selection -> its bytes, unchanged."""
    doc, _ = _doc(4, 3)
    assert KritaDocument(doc).selection() is None
    sel = Selection(4, 3)
    sel.select(1, 1, 2, 1, 255)
    sel.select(0, 2, 1, 1, 37)
    doc.setSelection(sel)
    mask = KritaDocument(doc).selection()
    assert (mask.width, mask.height) == (4, 3)
    assert mask.pixels == bytes([0, 0, 0, 0, 0, 255, 255, 0, 37, 0, 0, 0])


def test_results_go_directly_above_the_source_in_order_and_source_is_untouched():
    """New layers stack right above the source (first result lowest) inside its group."""
    doc, bg = _doc(1, 1)
    group = doc.createNode("Group", "grouplayer")
    doc.rootNode().addChildNode(group, bg)
    src = doc.createNode("Paint", "paintlayer")
    top = doc.createNode("Top", "paintlayer")
    group.addChildNode(src, None)
    group.addChildNode(top, src)
    src.setPixelData(bytes([9, 8, 7, 6]), 0, 0, 1, 1)
    before, writes = bytes(src.data), src.writes
    results = [Layer(bytes([1, 2, 3, 255]), 1, 1, "u8"), Layer(bytes([4, 5, 6, 255]), 1, 1, "u8")]
    created = KritaDocument(doc).insert(src, results, ["A", "B"])
    assert [n.name() for n in group.childNodes()] == ["Paint", "A", "B", "Top"]
    assert created[0].pixelData(0, 0, 1, 1) == bytes([3, 2, 1, 255])
    assert (bytes(src.data), src.writes) == (before, writes)
    assert doc.refreshed == 1


def test_results_for_a_closed_image_are_dropped():
    """Results arriving after the image was closed are refused in words, nothing written."""
    doc, bg = _doc(1, 1)
    closed = KritaDocument(doc, is_open=lambda d: False)
    with pytest.raises(DocumentError, match="image was closed"):
        closed.insert(bg, [Layer(bytes([1, 2, 3, 255]), 1, 1, "u8")], ["A"])
    assert [n.name() for n in doc.rootNode().childNodes()] == ["Background"]


def test_results_in_a_16_bit_document_are_written_at_16_bits():
    """u16 results become U16 layers with Krita's channel order."""
    doc, bg = _doc(1, 1, depth="U16")
    wire = struct.pack("<4H", 1, 2, 3, 4)
    (node,) = KritaDocument(doc).insert(bg, [Layer(wire, 1, 1, "u16")], ["r"])
    assert struct.unpack("<4H", node.pixelData(0, 0, 1, 1)) == (3, 2, 1, 4)


def test_layer_tree_lists_layers_top_first_without_masks():
    """Layer pickers see every layer (group children as "group / child"), never masks."""
    doc, bg = _doc()
    group = doc.createNode("G", "grouplayer")
    doc.rootNode().addChildNode(group, bg)
    child = doc.createNode("c", "paintlayer")
    group.addChildNode(child, None)
    doc.rootNode().addChildNode(doc.createNode("Selection Mask", "selectionmask"), group)
    labels = [label for label, _ in layer_tree(doc.rootNode())]
    assert labels == ["G", "G / c", "Background"]
    assert find_node(doc.rootNode(), node_id(child)) is child
    assert find_node(doc.rootNode(), "{nope}") is None
