"""GIMP image access behind the session core's ``Document``: pixels, selection, result layers.

Pixels travel in the perceptual (sRGB-TRC) RGBA formats at the drawable's bit depth (u8, u16,
else f32): lossless for GIMP's default precisions, so pixels outside the selection stay
bit-identical; linear-light images are converted to sRGB and back (exact up to rounding).
Everything a run changes happens in :meth:`GimpDocument.insert`, inside one undo group; the
source drawable is only read. Runs inside GIMP only (tests use a fake ``gi``).
"""

from __future__ import annotations

import struct
from operator import methodcaller
from typing import Any, List, Optional, Sequence

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
gi.require_version("Babl", "0.1")
from gi.repository import Babl, Gegl, Gimp, GLib  # noqa: E402

from nlf_client.api import Colour, Layer, Mask  # noqa: E402
from nlf_client.session import UserError, layers  # noqa: E402
from nlf_client.session.pixels import selection_mask, wire_format  # noqa: E402

BABL = {"u8": "R'G'B'A u8", "u16": "R'G'B'A u16", "f32": "R'G'B'A float"}
COLOUR_FORMAT = "R'G'B'A double"


class Colours:
    """``Gegl.Color`` <-> the wire's straight sRGB :class:`Colour` (perceptual, not linear)."""

    @staticmethod
    def to_gegl(c: Colour) -> Any:
        color = Gegl.Color.new("black")
        data = struct.pack("=4d", c.r, c.g, c.b, c.a)
        color.set_bytes(Babl.format(COLOUR_FORMAT), GLib.Bytes.new(data))
        return color

    @staticmethod
    def from_gegl(color: Any) -> Colour:
        if color is None:
            return Colour(0.0, 0.0, 0.0, 1.0)
        data = color.get_bytes(Babl.format(COLOUR_FORMAT)).get_data()
        return Colour(*(min(1.0, max(0.0, v)) for v in struct.unpack("=4d", bytes(data))))


class GimpDocument:
    """An image seen from one source drawable; ``ref`` is a drawable (layers of this image)."""

    def __init__(self, image: Any, source: Any) -> None:
        if not source.is_layer() or source.is_group():
            kind = "a layer group" if source.is_layer() else "not a layer"
            raise UserError("'%s' is %s; pick a pixel layer." % (source.get_name(), kind))
        self.image, self.source = image, source
        self.format = wire_format(image.get_precision().value_name)

    def read(self, ref: Any) -> Optional[Layer]:
        """The drawable's pixels as straight RGBA in the image's wire format, with its offset."""
        w, h = ref.get_width(), ref.get_height()
        _, x, y = ref.get_offsets()
        rect = Gegl.Rectangle.new(0, 0, w, h)
        data = ref.get_buffer().get(rect, 1.0, BABL[self.format], Gegl.AbyssPolicy.CLAMP)
        return Layer(bytes(data), w, h, self.format, x, y, ref.get_name())

    def selection(self) -> Optional[Mask]:
        """Selection coverage over the source's rectangle (feathering kept); None = all of it."""
        if Gimp.Selection.is_empty(self.image):
            return None
        w, h = self.source.get_width(), self.source.get_height()
        _, x, y = self.source.get_offsets()
        rect = Gegl.Rectangle.new(x, y, w, h)
        buffer = self.image.get_selection().get_buffer()
        coverage = bytes(buffer.get(rect, 1.0, "Y u8", Gegl.AbyssPolicy.NONE))
        return selection_mask(coverage, w, h, self.source.get_name())

    def insert(self, above: Any, layers: Sequence[Layer], names: Sequence[str]) -> List[Any]:
        """New layers right above ``above`` (first result on top) in ONE undo group; grayscale
        images get GRAYA layers (GIMP refuses RGB layers there; babl converts)."""
        gray = self.image.get_base_type() == Gimp.ImageBaseType.GRAY
        kind = Gimp.ImageType.GRAYA_IMAGE if gray else Gimp.ImageType.RGBA_IMAGE
        created: List[Any] = []
        self.image.undo_group_start()
        try:
            for result, name in zip(layers, names, strict=True):
                w, h = result.width, result.height
                new = Gimp.Layer.new(self.image, name, w, h, kind, 100.0, Gimp.LayerMode.NORMAL)
                position = self.image.get_item_position(above)
                self.image.insert_layer(new, above.get_parent(), position)
                new.set_offsets(result.x, result.y)
                buf = new.get_buffer()
                buf.set(Gegl.Rectangle.new(0, 0, w, h), BABL[result.format], result.pixels)
                buf.flush()
                new.update(0, 0, w, h)
                created.append(new)
        finally:
            self.image.undo_group_end()
        return created


def find_layer(image: Any, name: str) -> Any:
    layer = image.get_layer_by_name(name)
    if layer is None:
        raise UserError("The image has no layer named '%s'." % name)
    return layer


def pixel_layers(items: Sequence[Any]) -> List[Any]:
    """Every non-group layer among ``items`` (``image.get_layers()``), top first, groups
    descended (the session core's ``layers.pixel_layers``)."""
    kind = lambda item: "group" if item.is_group() else "layer"  # noqa: E731
    return layers.pixel_layers(items, methodcaller("get_children"), kind)
