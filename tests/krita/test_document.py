"""Selection, layers and layer insertion against the fake krita module (the pixel formats:
tests/session/test_native_pixels.py)."""

from __future__ import annotations

import pytest

from tests.krita import qt_binding  # isort: skip

pytest.importorskip(f"{qt_binding.NAME}.QtWidgets", reason=qt_binding.REASON)

import struct

from nlf_client import Layer
from nlf_client.session import UserError as DocumentError
from tests.krita.mock_krita import Document, Selection

from neural_layer_filters.document import (  # isort: skip
    KritaDocument,
    find_node,
    layer_tree,
    node_id,
)


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
