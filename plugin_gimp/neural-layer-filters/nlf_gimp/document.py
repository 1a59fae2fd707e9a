"""GIMP image access: the drawable at its precision, the selection mask, result layers.

Runs inside GIMP only. Everything a run changes happens in :func:`insert_results`, inside one
undo group; the source drawable is only read.
"""

from __future__ import annotations

import struct
from typing import Any, Dict, List, Optional

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
gi.require_version("Babl", "0.1")
from gi.repository import Babl, Gegl, Gimp, GLib  # noqa: E402

from nlf_client.api import Colour, Layer, Mask, Progress  # noqa: E402

from .pixel_formats import (  # noqa: E402
    MASK_FORMAT,
    babl_format,
    mask_is_empty,
    mask_or_none,
    wire_format,
)

COLOUR_FORMAT = "R'G'B'A double"


class UserError(Exception):
    """Something the person can fix in the image (wrong layer kind, selection elsewhere)."""


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
        r, g, b, a = (min(1.0, max(0.0, v)) for v in struct.unpack("=4d", bytes(data)))
        return Colour(r, g, b, a)


def drawable_format(drawable: Any) -> str:
    """Wire format matching the image's precision (u8, u16 or f32)."""
    return wire_format(drawable.get_image().get_precision().value_name)


def check_source(drawable: Any) -> None:
    """Filters work on pixel layers: not on groups, masks or channels."""
    if not drawable.is_layer():
        raise UserError("'%s' is not a layer; pick a pixel layer." % drawable.get_name())
    if drawable.is_group():
        raise UserError("'%s' is a layer group; pick a pixel layer." % drawable.get_name())


def read_layer(drawable: Any, fmt: str) -> Layer:
    """The drawable's pixels as straight RGBA in ``fmt``, with its offset and name."""
    w, h = drawable.get_width(), drawable.get_height()
    _, x, y = drawable.get_offsets()
    data = drawable.get_buffer().get(
        Gegl.Rectangle.new(0, 0, w, h), 1.0, babl_format(fmt), Gegl.AbyssPolicy.CLAMP
    )
    return Layer(bytes(data), w, h, fmt, x, y, drawable.get_name())


def read_mask(image: Any, drawable: Any) -> Optional[Mask]:
    """Selection coverage over the drawable's rectangle (feathering kept); None = everything."""
    if Gimp.Selection.is_empty(image):
        return None
    w, h = drawable.get_width(), drawable.get_height()
    _, x, y = drawable.get_offsets()
    coverage = bytes(
        image.get_selection()
        .get_buffer()
        .get(Gegl.Rectangle.new(x, y, w, h), 1.0, MASK_FORMAT, Gegl.AbyssPolicy.NONE)
    )
    if mask_is_empty(coverage):
        raise UserError(
            "The selection does not overlap layer '%s'; select part of it or select nothing "
            "to filter the whole layer." % drawable.get_name()
        )
    coverage = mask_or_none(coverage)
    return None if coverage is None else Mask(coverage, w, h)


def find_layer(image: Any, name: str) -> Any:
    layer = image.get_layer_by_name(name)
    if layer is None:
        raise UserError("The image has no layer named '%s'." % name)
    return layer


def pixel_layers(image: Any) -> List[Any]:
    """Every non-group layer of the image, top first, groups descended."""
    out: List[Any] = []

    def walk(items: List[Any]) -> None:
        for item in items:
            if item.is_group():
                walk(list(item.get_children()))
            else:
                out.append(item)

    walk(list(image.get_layers()))
    return out


def result_type(image: Any) -> Any:
    """GRAYA layers in a grayscale image (GIMP refuses RGB layers there), RGBA otherwise;
    babl turns the backend's RGBA into gray on the way in."""
    if image.get_base_type() == Gimp.ImageBaseType.GRAY:
        return Gimp.ImageType.GRAYA_IMAGE
    return Gimp.ImageType.RGBA_IMAGE


def insert_results(image: Any, source: Any, layers: List[Layer]) -> List[Any]:
    """Insert result layers directly above ``source`` (first result on top), in ONE undo group."""
    created: List[Any] = []
    image.undo_group_start()
    try:
        parent = source.get_parent()
        layer_type = result_type(image)
        for result in layers:  # each goes right above the source, below the previous one
            position = image.get_item_position(source)
            new = Gimp.Layer.new(
                image,
                result.name or "Result",
                result.width,
                result.height,
                layer_type,
                100.0,
                Gimp.LayerMode.NORMAL,
            )
            image.insert_layer(new, parent, position)
            new.set_offsets(result.x, result.y)
            buf = new.get_buffer()
            buf.set(
                Gegl.Rectangle.new(0, 0, result.width, result.height),
                babl_format(result.format),
                result.pixels,
            )
            buf.flush()
            new.update(0, 0, result.width, result.height)
            created.append(new)
    finally:
        image.undo_group_end()
    return created


class GimpProgress:
    """``on_progress`` for ``Client.run``: GIMP's progress bar with the stage text."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._text = ""
        Gimp.progress_init(label + "…")

    def text(self, text: str) -> None:
        if text != self._text:
            self._text = text
            Gimp.progress_set_text(text)

    def __call__(self, p: Progress) -> None:
        if p.queue_position >= 0:
            self.text(
                "%s: waiting for the backend (queue position %d)"
                % (self.label, p.queue_position + 1)
            )
            Gimp.progress_pulse()
            return
        stage = p.stage or "working"
        self.text("%s: %s%s" % (self.label, stage, (" – " + p.message) if p.message else ""))
        Gimp.progress_update(max(0.0, min(1.0, p.fraction)))

    def end(self) -> None:
        Gimp.progress_end()


def run_on_drawable(
    client: Any,
    spec: Any,
    image: Any,
    drawable: Any,
    values: Dict[str, Any],
    layer_items: Dict[str, Any],
    progress: Optional[GimpProgress] = None,
) -> List[Any]:
    """Send one drawable (+ selection, + layer parameters) to the backend; insert the results."""
    check_source(drawable)
    fmt = drawable_format(drawable)
    layer = read_layer(drawable, fmt)
    mask = read_mask(image, drawable)
    extras = {name: read_layer(item, fmt) for name, item in layer_items.items()}
    result = client.run(spec.id, layer, mask, values, extras, on_progress=progress)
    return insert_results(image, drawable, list(result.layers))
