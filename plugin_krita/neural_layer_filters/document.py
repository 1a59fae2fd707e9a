"""Everything that touches Krita documents and image files: pixels in and out, selection, layers.

``Node.pixelData`` gives native-endian channels: B, G, R, A for the integer depths (U8, U16) and
R, G, B, A for the float depths (F16, F32); a ``Selection`` gives one byte per pixel. On the wire
a layer is straight RGBA in "u8", "u16" or "f32" (F16 is widened to f32 and narrowed back): the
session core's ``native_to_wire`` / ``wire_to_native``.
"""

from __future__ import annotations

import os
from operator import methodcaller
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple

from .client import Layer, Mask, UserError, session
from .qt import QImage


def node_kind(node: Any) -> str:
    """The session core's layer kind of a node: "mask", "group" or the node's type."""
    kind = node.type()
    return "mask" if kind.endswith("mask") else "group" if kind == "grouplayer" else kind


def _top_first(node: Any) -> List[Any]:
    return list(reversed(node.childNodes()))


def layer_tree(root: Any) -> List[Tuple[str, Any]]:
    """(label, node) for every layer under ``root``, top first, without masks ("group / child")."""
    return session.layers.labelled(_top_first(root), _top_first, node_kind, methodcaller("name"))


def node_id(node: Any) -> str:
    """A stable id for a node (its uuid as text)."""
    uid = node.uniqueId()
    return uid.toString() if hasattr(uid, "toString") else str(uid)


def find_node(root: Any, wanted: str) -> Any:
    return next((n for _label, n in layer_tree(root) if node_id(n) == wanted), None)


class KritaDocument:
    """A Krita ``Document`` as the session core's ``Document``: layers are named by node id;
    ``is_open(doc)`` says whether the image is still open when results arrive."""

    def __init__(self, doc: Any, is_open: Callable[[Any], bool] = lambda doc: True) -> None:
        if doc is None:
            raise UserError("open an image first")
        self.doc, self.is_open = doc, is_open

    def active_node(self) -> Any:
        node = self.doc.activeNode()
        if node is None or node.type().endswith("mask"):
            raise UserError("select a layer (not a mask) to filter")
        return node

    def read(self, ref: str) -> Optional[Layer]:
        node = find_node(self.doc.rootNode(), ref)
        return None if node is None else self.layer_pixels(node)

    def layer_pixels(self, node: Any) -> Layer:
        """The node's pixels over the whole canvas, as a wire layer (a group: its projection)."""
        if node.colorModel() != "RGBA":
            raise UserError(
                f"layer '{node.name()}' is {node.colorModel()}; convert it to RGB/Alpha first "
                "(Image > Convert Image Color Space)"
            )
        w, h = self.doc.width(), self.doc.height()
        read = node.pixelData if node.type() == "paintlayer" else node.projectionPixelData
        pixels, fmt = session.native_to_wire(bytes(read(0, 0, w, h)), node.colorDepth())
        return Layer(pixels, w, h, fmt, 0, 0, name=node.name())

    def selection(self) -> Optional[Mask]:
        """The global selection's exact coverage of the canvas; None when nothing is selected."""
        sel = self.doc.selection()
        w, h = self.doc.width(), self.doc.height()
        return None if sel is None else Mask(bytes(sel.pixelData(0, 0, w, h)), w, h)

    def insert(self, above: Any, layers: Sequence[Layer], names: Iterable[str]) -> List[Any]:
        """New paint layers stacked directly above node ``above`` (a node or its id).

        The source node is never written to; Krita activates the new nodes itself once control
        returns to its event loop.
        """
        if not self.is_open(self.doc):
            raise UserError("the image was closed; the result was dropped")
        if isinstance(above, str):
            above = find_node(self.doc.rootNode(), above)
        if above is None:
            raise UserError("the source layer was deleted; the result was dropped")
        parent, created = above.parentNode() or self.doc.rootNode(), []
        for layer, name in zip(layers, names, strict=True):
            node = self.doc.createNode(name, "paintlayer")
            data = session.wire_to_native(layer.pixels, layer.format, node.colorDepth())
            node.setPixelData(data, layer.x, layer.y, layer.width, layer.height)
            parent.addChildNode(node, above)
            above = node
            created.append(node)
        self.doc.refreshProjection()
        return created


def batch_nodes(mode: str, active: Any, selected: Sequence[Any]) -> List[Any]:
    """The layers a batch runs on (the session core's ``batch_targets``; children bottom first)."""
    children, name = methodcaller("childNodes"), methodcaller("name")
    return session.layers.batch_targets(mode, active, selected, children, node_kind, name)


def read_image(path: str) -> Layer:
    """An image file as an 8-bit straight RGBA wire layer."""
    img = QImage(path)
    if img.isNull():
        raise UserError(f"cannot read image '{path}'")
    img = img.convertToFormat(QImage.Format.Format_RGBA8888)
    w, h, stride = img.width(), img.height(), img.bytesPerLine()
    ptr = img.constBits()
    ptr.setsize(h * stride)
    raw = bytes(ptr)
    data = b"".join(raw[y * stride : y * stride + 4 * w] for y in range(h))
    return Layer(data, w, h, "u8", name=os.path.basename(path))


def write_image(layer: Layer, path: str) -> None:
    data, w, h = session.rgba8(layer), layer.width, layer.height
    if not QImage(data, w, h, 4 * w, QImage.Format.Format_RGBA8888).save(path):
        raise UserError(f"cannot write '{path}'")
