"""Pixel buffers between the wire's formats and editors' layouts, selections, and quick preview
copies.

Formats: ``u8``, ``u16``, ``f16``, ``f32``, four channels a pixel, little-endian (``f16`` is
not a wire format: editors that store half floats widen them to ``f32``). ``swap=True`` also
exchanges channels 0 and 2 (BGRA <-> RGBA). Pure Python (``array``/``struct``): the editors'
Pythons have no numpy.
"""

from __future__ import annotations

import struct
import sys
from array import array
from typing import List, Optional, Tuple

from ..api import BYTES_PER_CHANNEL, Layer, Mask
from .messages import UserError

NATIVE_FORMAT = {"U8": "u8", "U16": "u16", "F16": "f32", "F32": "f32"}
"""An editor's colour depth (Krita's names) -> the wire format its pixels travel in."""
BGRA_DEPTHS = ("U8", "U16")
"""Depths whose native pixels are B, G, R, A (Krita's ``pixelData``); float ones are R, G, B, A."""
DEPTH_FORMAT = dict(NATIVE_FORMAT, U32="f32", HALF="f32", FLOAT="f32", DOUBLE="f32")
"""A pixel depth by its type (Krita's and GIMP's names) -> the wire format it travels in:
integers up to 16 bits as they are, everything else as f32 (lossless for the editors' floats)."""
_CODE = {"u8": "B", "u16": "H", "f32": "f"}
_TOP = {"u8": 255.0, "u16": 65535.0}
_HALF_MAX = 65504.0
_CHUNK = 1 << 16


def _little(values: array) -> array:
    if sys.byteorder == "big" and values.itemsize > 1:
        values.byteswap()
    return values


def _swap(values: array) -> array:
    red = values[2::4]
    values[2::4] = values[0::4]
    values[0::4] = red
    return values


def _floats(data: bytes, fmt: str) -> array:
    if fmt == "f16":
        out, view = array("f"), memoryview(data)
        for start in range(0, len(data), 2 * _CHUNK):
            part = view[start : start + 2 * _CHUNK]
            out.extend(struct.unpack("<%de" % (len(part) // 2), part))
        return out
    values = _little(array(_CODE[fmt], data))
    if fmt == "f32":
        return values
    scale = 1.0 / _TOP[fmt]
    return array("f", (v * scale for v in values))


def _encode(floats: array, fmt: str) -> array:
    if fmt == "f32":
        return floats
    top = _TOP[fmt]
    return array(_CODE[fmt], (round(min(1.0, max(0.0, v)) * top) for v in floats))


def _half(values: array) -> bytes:
    out = bytearray(2 * len(values))
    for start in range(0, len(values), _CHUNK):
        part = [min(_HALF_MAX, max(-_HALF_MAX, v)) for v in values[start : start + _CHUNK]]
        struct.pack_into("<%de" % len(part), out, 2 * start, *part)
    return bytes(out)


def convert(data: bytes, src: str, dst: str, swap: bool = False) -> bytes:
    """``data`` in format ``src`` as format ``dst`` (integers rounded and clamped)."""
    for fmt in (src, dst):
        if fmt not in ("u8", "u16", "f16", "f32"):
            raise ValueError("pixel format %r is not supported" % fmt)
    if src == dst and src != "f16":
        values = _little(array(_CODE[src], data))
    else:
        floats = _floats(data, src)
        if dst == "f16":
            return _half(_swap(floats) if swap else floats)
        values = _encode(floats, dst)
    return _little(_swap(values) if swap else values).tobytes()


def rgba8(layer: Layer) -> bytes:
    """A wire layer's pixels as 8-bit straight RGBA (for previews and image files)."""
    return layer.pixels if layer.format == "u8" else convert(layer.pixels, layer.format, "u8")


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
    bpp = 4 * BYTES_PER_CHANNEL[layer.format]
    small = Layer(_sample(layer.pixels, layer.width, bpp, xs, ys), w, h, layer.format)
    if mask is None:
        return small, None
    return small, Mask(_sample(mask.pixels, mask.width, 1, xs, ys), w, h)


def wire_format(depth: str) -> str:
    """The wire format for an editor's pixel depth: Krita's colour depths (``U8``, ``F16``…)
    and GIMP's precisions (``GIMP_PRECISION_U16_NON_LINEAR`` or its nick ``u16-non-linear``);
    ValueError for a precision the wire cannot carry."""
    name = depth.upper().replace("-", "_").replace("GIMP_PRECISION_", "")
    try:
        return DEPTH_FORMAT[name.split("_", 1)[0]]
    except KeyError:
        raise ValueError("unsupported pixel precision %r" % depth) from None


def _native(depth: str) -> str:
    if depth not in NATIVE_FORMAT:
        raise UserError("colour depth %s is not supported" % depth)
    return depth.lower()


def native_to_wire(data: bytes, depth: str) -> Tuple[bytes, str]:
    """An RGBA layer's native bytes at ``depth`` (``NATIVE_FORMAT``) -> (wire pixels, format)."""
    src, fmt = _native(depth), NATIVE_FORMAT.get(depth, "")
    return convert(data, src, fmt, swap=depth in BGRA_DEPTHS), fmt


def wire_to_native(data: bytes, fmt: str, depth: str) -> bytes:
    """Wire pixels in ``fmt`` -> native bytes for an RGBA layer at ``depth``."""
    return convert(data, fmt, _native(depth), swap=depth in BGRA_DEPTHS)


def selection_mask(coverage: bytes, width: int, height: int, layer: str) -> Optional[Mask]:
    """A selection's coverage (one byte a pixel) of a layer's rectangle as a run's mask: None
    when it covers all of the layer; UserError when it misses the layer entirely."""
    if coverage.count(b"\x00") == len(coverage):
        raise UserError(
            "The selection does not overlap layer '%s'; select part of it or select nothing "
            "to filter the whole layer." % layer
        )
    return None if coverage.count(b"\xff") == len(coverage) else Mask(coverage, width, height)
