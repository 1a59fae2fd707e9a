"""Colours as text: ``#rrggbb`` / ``#rrggbbaa`` to :class:`~nlf_client.api.Colour` and back.

The one parser of the plug-ins (GIMP batch JSON, the schema snapshot's defaults) and the one
formatter (layer names, the snapshot).
"""

from __future__ import annotations

from typing import Any

from ..api import Colour

_HEX = frozenset("0123456789abcdefABCDEF")


def parse_colour(value: Any) -> Colour:
    """``#rrggbb[aa]`` (or a Colour, or None = opaque black) -> :class:`Colour`."""
    if isinstance(value, Colour):
        return value
    text = str(value or "#000000ff").strip().lstrip("#")
    if len(text) not in (6, 8) or not set(text) <= _HEX:
        raise ValueError("colour %r is not #RRGGBB or #RRGGBBAA" % (value,))
    return Colour(*(int(text[i : i + 2], 16) / 255.0 for i in range(0, len(text), 2)))


def colour_hex(colour: Colour, alpha: bool = True) -> str:
    """``#rrggbbaa`` (``#rrggbb`` without ``alpha``), channels clamped to [0, 1]."""
    channels = (colour.r, colour.g, colour.b, colour.a) if alpha else (colour.r, colour.g, colour.b)
    return "#" + "".join("%02x" % round(min(1.0, max(0.0, c)) * 255) for c in channels)
