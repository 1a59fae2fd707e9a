"""Everything that touches Krita documents: pixels in and out, selection, layer insertion.

This is the only module that knows Krita's pixel layouts. ``Node.pixelData`` gives native-endian
channels: B, G, R, A for the integer depths (U8, U16) and R, G, B, A for the float depths (F16,
F32); a ``Selection`` gives one byte (0..255) per pixel. On the wire a layer is straight RGBA,
little-endian, in "u8", "u16" or "f32" (F16 is widened to f32 and narrowed back on return).
"""

from __future__ import annotations

import struct
import sys
from array import array
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .client import Colour, FilterSpec, Layer, Mask

WIRE_FORMAT = {"U8": "u8", "U16": "u16", "F16": "f32", "F32": "f32"}
"""Krita colour depth -> wire pixel format."""
_ARRAY_CODE = {"U8": "B", "U16": "H", "F32": "f"}
_BGRA = ("U8", "U16")
_BYTES_PER_CHANNEL = {"u8": 1, "u16": 2, "f32": 4}
_CHUNK = 1 << 16
_BIG_ENDIAN = sys.byteorder == "big"


class DocumentError(Exception):
    """The document or layer cannot be filtered (message is shown to the artist)."""


def _swap_red_blue(values: array) -> array:
    """Swap channels 0 and 2 of every 4-channel pixel (BGRA <-> RGBA), in place."""
    red = values[2::4]
    values[2::4] = values[0::4]
    values[0::4] = red
    return values


def _native(values: array) -> array:
    if _BIG_ENDIAN and values.itemsize > 1:
        values.byteswap()
    return values


def _half_to_f32(data: bytes) -> bytes:
    out = array("f")
    view = memoryview(data)
    for start in range(0, len(data), 2 * _CHUNK):
        part = view[start : start + 2 * _CHUNK]
        out.extend(struct.unpack("<%de" % (len(part) // 2), part))
    return _native(out).tobytes()


def _f32_to_half(values: array) -> bytes:
    out = bytearray(2 * len(values))
    limit = 65504.0
    for start in range(0, len(values), _CHUNK):
        part = [min(limit, max(-limit, v)) for v in values[start : start + _CHUNK]]
        struct.pack_into("<%de" % len(part), out, 2 * start, *part)
    return bytes(out)


def to_wire(data: bytes, depth: str) -> Tuple[bytes, str]:
    """Krita ``pixelData`` bytes of an RGBA node at ``depth`` -> (wire pixels, wire format)."""
    if depth not in WIRE_FORMAT:
        raise DocumentError(f"colour depth {depth} is not supported")
    if depth == "F16":
        return _half_to_f32(data), "f32"
    values = array(_ARRAY_CODE[depth], data)
    if depth in _BGRA:
        _swap_red_blue(values)
    return _native(values).tobytes(), WIRE_FORMAT[depth]


def _wire_floats(data: bytes, fmt: str) -> array:
    code = {"u8": "B", "u16": "H", "f32": "f"}[fmt]
    values = _native(array(code, data))
    if fmt == "f32":
        return values
    scale = 1.0 / (255.0 if fmt == "u8" else 65535.0)
    return array("f", (v * scale for v in values))


def from_wire(data: bytes, fmt: str, depth: str) -> bytes:
    """Wire pixels in ``fmt`` -> ``pixelData`` bytes for an RGBA node at ``depth``."""
    if depth not in WIRE_FORMAT:
        raise DocumentError(f"colour depth {depth} is not supported")
    if WIRE_FORMAT[depth] == fmt and depth != "F16":
        values = _native(array(_ARRAY_CODE[depth], data))
    else:  # another depth (or F16): go through floats
        floats = _wire_floats(data, fmt)
        if depth == "F16":
            return _f32_to_half(floats)
        if depth == "F32":
            values = floats
        else:
            top = 255 if depth == "U8" else 65535
            values = array(_ARRAY_CODE[depth], (round(min(1.0, max(0.0, v)) * top) for v in floats))
    if depth in _BGRA:
        _swap_red_blue(values)
    return _native(values).tobytes()


def rgba8(layer: Layer) -> bytes:
    """A wire layer's pixels as 8-bit straight RGBA (for previews and image files)."""
    if layer.format == "u8":
        return layer.pixels
    return to_wire(from_wire(layer.pixels, layer.format, "U8"), "U8")[0]


def _sample(data: bytes, width: int, bpp: int, xs: List[int], ys: List[int]) -> bytes:
    view, out = memoryview(data), []
    for y in ys:
        row = view[y * width * bpp : (y + 1) * width * bpp]
        out.append(b"".join(row[x * bpp : (x + 1) * bpp] for x in xs))
    return b"".join(out)


def downscale(layer: Layer, mask: Optional[Mask], longest: int) -> Tuple[Layer, Optional[Mask]]:
    """Nearest-neighbour copies whose long side is at most ``longest`` (any wire format)."""
    scale = max(layer.width, layer.height) / float(longest)
    if scale <= 1:
        return layer, mask
    w, h = max(1, round(layer.width / scale)), max(1, round(layer.height / scale))
    xs = [min(layer.width - 1, int((x + 0.5) * layer.width / w)) for x in range(w)]
    ys = [min(layer.height - 1, int((y + 0.5) * layer.height / h)) for y in range(h)]
    bpp = 4 * _BYTES_PER_CHANNEL[layer.format]
    small = Layer(_sample(layer.pixels, layer.width, bpp, xs, ys), w, h, layer.format)
    if mask is None:
        return small, None
    return small, Mask(_sample(mask.pixels, mask.width, 1, xs, ys), w, h)


def result_layer_name(
    spec: FilterSpec,
    values: Dict[str, Any],
    layer_names: Optional[Dict[str, str]] = None,
    result_name: str = "",
    count: int = 1,
) -> str:
    """ "[NLF] <filter> <key params>": choices always, other params when not at their default."""
    keys: List[str] = []
    for p in spec.params:
        if p.kind == "layer":
            if (layer_names or {}).get(p.name):
                keys.append(f"{p.name}={layer_names[p.name]}")
            continue
        value = values.get(p.name, p.default)
        if p.kind == "choice":
            keys.append(str(value))
        elif value != p.default:
            keys.append(f"{p.name}={_short(value)}")
    name = " ".join(["[NLF]", spec.label, *keys])
    if len(name) > 96:
        name = name[:95] + "…"
    if count > 1 and result_name:
        name += f" ({result_name})"
    return name


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Colour):
        return "#" + "".join(f"{round(c * 255):02x}" for c in (value.r, value.g, value.b))
    return str(value)


def layer_tree(root: Any) -> List[Tuple[str, Any]]:
    """(label, node) for every layer under ``root``, top first, without masks ("group / child")."""
    out: List[Tuple[str, Any]] = []
    for node in reversed(root.childNodes()):
        if node.type().endswith("mask"):
            continue
        out.append((node.name(), node))
        if node.type() == "grouplayer":
            out.extend((f"{node.name()} / {label}", n) for label, n in layer_tree(node))
    return out


class KritaDocument:
    """A Krita ``Document`` seen as what a filter needs: layer pixels, a mask, new layers."""

    def __init__(self, doc: Any) -> None:
        if doc is None:
            raise DocumentError("open an image first")
        self.doc = doc

    @property
    def size(self) -> Tuple[int, int]:
        return self.doc.width(), self.doc.height()

    def active_node(self) -> Any:
        node = self.doc.activeNode()
        if node is None or node.type().endswith("mask"):
            raise DocumentError("select a layer (not a mask) to filter")
        return node

    def layer_pixels(self, node: Any) -> Layer:
        """The node's pixels over the whole canvas, as a wire layer (a group: its projection)."""
        if node.colorModel() != "RGBA":
            raise DocumentError(
                f"layer '{node.name()}' is {node.colorModel()}; convert it to RGB/Alpha first "
                "(Image > Convert Image Color Space)"
            )
        w, h = self.size
        read = node.pixelData if node.type() == "paintlayer" else node.projectionPixelData
        pixels, fmt = to_wire(bytes(read(0, 0, w, h)), node.colorDepth())
        return Layer(pixels, w, h, fmt, 0, 0, name=node.name())

    def selection_mask(self) -> Optional[Mask]:
        """The global selection's exact coverage of the canvas; None when nothing is selected."""
        sel = self.doc.selection()
        if sel is None:
            return None
        w, h = self.size
        return Mask(bytes(sel.pixelData(0, 0, w, h)), w, h)

    def insert_layers(self, layers: Sequence[Layer], names: Iterable[str], above: Any) -> List[Any]:
        """Add ``layers`` as new paint layers stacked directly above ``above``; returns the nodes.

        The source node is never written to. The caller must not activate the new nodes itself:
        Krita picks them up when control returns to its event loop.
        """
        parent = above.parentNode() or self.doc.rootNode()
        created = []
        for layer, name in zip(layers, names, strict=True):
            node = self.doc.createNode(name, "paintlayer")
            node.setPixelData(
                from_wire(layer.pixels, layer.format, node.colorDepth()),
                layer.x,
                layer.y,
                layer.width,
                layer.height,
            )
            parent.addChildNode(node, above)
            above = node
            created.append(node)
        self.doc.refreshProjection()
        return created


def node_id(node: Any) -> str:
    """A stable id for a node (its uuid as text)."""
    uid = node.uniqueId()
    return uid.toString() if hasattr(uid, "toString") else str(uid)


def find_node(root: Any, wanted: str) -> Any:
    for _label, node in layer_tree(root):
        if node_id(node) == wanted:
            return node
    return None
