"""Filter parameter schema -> GIMP procedure arguments, and procedure config -> parameter values.

:func:`arguments_for` is pure (unit-tested without GIMP); :func:`add_to_procedure` and
:func:`read_values` take the procedure / config objects and the ``gi`` modules they need, so a
test can hand them fakes.

=========  ==========================================================================
schema     GIMP argument
=========  ==========================================================================
float      ``add_double_argument`` (min/max from the schema, else +/-1e6)
int        ``add_int_argument``
bool       ``add_boolean_argument``
choice     ``add_choice_argument`` with a ``Gimp.Choice`` (nick = the backend's value)
dynamic    ``add_string_argument``: the list depends on what is installed on the backend
           (packs, models), so the default is the snapshot's and the backend validates the
           value and answers with the installed names when it is wrong
string     ``add_string_argument``
colour     ``add_color_argument`` (with alpha; values sent as straight sRGB in [0, 1])
layer      ``add_drawable_argument`` (always ``none_ok``: GIMP refuses to even open the dialog of
           a procedure whose drawable argument has no value; a required layer left empty is
           reported by :func:`missing_layers` before anything is sent)
=========  ==========================================================================
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from nlf_client.api import Colour, FilterSpec, ParamSpec

RESERVED = frozenset({"run-mode", "image", "drawables", "num-drawables"})
FLOAT_LIMIT = 1e6
INT_LIMIT = 1_000_000
DYNAMIC_NOTE = " (name of an installed item; the backend checks it and lists what is installed)"


@dataclass(frozen=True)
class Argument:
    """One procedure argument derived from a schema parameter."""

    kind: str
    """double, int, boolean, choice, string, color or drawable"""
    name: str
    """the GIMP argument name (lower case, dashes)"""
    param: str
    """the schema parameter it carries"""
    nick: str
    blurb: str
    default: Any = None
    min: Optional[float] = None
    max: Optional[float] = None
    choices: Tuple[str, ...] = ()
    none_ok: bool = True
    required: bool = False
    """a layer parameter the filter cannot run without"""
    dynamic: bool = False
    """a dynamic choice carried as a string: empty = let the backend pick / complain"""


def argument_name(param: str) -> str:
    """A valid GParamSpec name for a parameter: ``num_steps`` -> ``num-steps``."""
    name = re.sub(r"[^a-z0-9-]+", "-", param.lower()).strip("-") or "param"
    if not name[0].isalpha():
        name = "p-" + name
    if name in RESERVED:
        name = "nlf-" + name
    return name


def parse_colour(value: Any) -> Colour:
    """``#rrggbb[aa]`` (or a Colour, or None = black) -> :class:`Colour`."""
    if isinstance(value, Colour):
        return value
    text = str(value or "#000000ff").strip().lstrip("#")
    if len(text) not in (6, 8):
        raise ValueError("colour %r is not #RRGGBB or #RRGGBBAA" % (value,))
    vals = [int(text[i : i + 2], 16) / 255.0 for i in range(0, len(text), 2)]
    return Colour(*vals)


def choice_label(value: str) -> str:
    """What a person sees for a choice value: ``van_gogh`` -> ``Van gogh``."""
    text = value.replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:] if text else value


def _clamp(value: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, value))


def argument_for(p: ParamSpec) -> Argument:
    """The one GIMP argument for a schema parameter (see the module table)."""
    name, nick = argument_name(p.name), p.label or p.name
    blurb = p.help or nick
    if p.kind == "float":
        lo = float(p.min) if p.min is not None else -FLOAT_LIMIT
        hi = float(p.max) if p.max is not None else FLOAT_LIMIT
        default = _clamp(float(p.default if p.default is not None else lo), lo, hi)
        return Argument("double", name, p.name, nick, blurb, default, lo, hi)
    if p.kind == "int":
        lo = int(p.min) if p.min is not None else -INT_LIMIT
        hi = int(p.max) if p.max is not None else INT_LIMIT
        default = int(_clamp(int(p.default if p.default is not None else lo), lo, hi))
        return Argument("int", name, p.name, nick, blurb, default, lo, hi)
    if p.kind == "bool":
        return Argument("boolean", name, p.name, nick, blurb, bool(p.default))
    if p.kind == "choice" and p.choices and not p.dynamic:
        default = p.default if p.default in p.choices else p.choices[0]
        return Argument("choice", name, p.name, nick, blurb, default, choices=tuple(p.choices))
    if p.kind == "choice":  # dynamic: installed packs / models, validated by the backend
        default = str(p.default or "")
        return Argument("string", name, p.name, nick, blurb + DYNAMIC_NOTE, default, dynamic=True)
    if p.kind == "string":
        return Argument("string", name, p.name, nick, blurb, str(p.default or ""))
    if p.kind == "colour":
        return Argument("color", name, p.name, nick, blurb, parse_colour(p.default))
    if p.kind == "layer":
        return Argument("drawable", name, p.name, nick, blurb, None, required=p.required)
    raise ValueError("parameter %r has unknown kind %r" % (p.name, p.kind))


def arguments_for(spec: FilterSpec) -> List[Argument]:
    """All arguments of a filter's procedure, in schema order; names are unique."""
    args = [argument_for(p) for p in spec.params]
    seen = set()
    for a in args:
        if a.name in seen:
            raise ValueError("filter %r: two parameters map to argument %r" % (spec.id, a.name))
        seen.add(a.name)
    return args


def add_to_procedure(procedure: Any, args: List[Argument], Gimp: Any, GObject: Any, colours: Any):
    """Declare ``args`` on a ``Gimp.Procedure``; ``colours.to_gegl(Colour)`` makes Gegl colours."""
    flags = GObject.ParamFlags.READWRITE
    for a in args:
        if a.kind == "double":
            procedure.add_double_argument(a.name, a.nick, a.blurb, a.min, a.max, a.default, flags)
        elif a.kind == "int":
            procedure.add_int_argument(
                a.name, a.nick, a.blurb, int(a.min), int(a.max), a.default, flags
            )
        elif a.kind == "boolean":
            procedure.add_boolean_argument(a.name, a.nick, a.blurb, a.default, flags)
        elif a.kind == "choice":
            choice = Gimp.Choice.new()
            for i, value in enumerate(a.choices):
                choice.add(value, i, choice_label(value), "")
            procedure.add_choice_argument(a.name, a.nick, a.blurb, choice, a.default, flags)
        elif a.kind == "string":
            procedure.add_string_argument(a.name, a.nick, a.blurb, a.default, flags)
        elif a.kind == "color":
            procedure.add_color_argument(
                a.name, a.nick, a.blurb, True, colours.to_gegl(a.default), flags
            )
        elif a.kind == "drawable":
            procedure.add_drawable_argument(a.name, a.nick, a.blurb, a.none_ok, flags)
        else:
            raise ValueError(a.kind)


def read_values(
    args: List[Argument], config: Any, colours: Any
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Parameter values and layer-parameter drawables from a procedure config.

    An empty dynamic-choice string is left out so the backend applies (and checks) its default;
    an unset layer parameter is left out (the backend says when it is required).
    """
    values: Dict[str, Any] = {}
    layers: Dict[str, Any] = {}
    for a in args:
        v = config.get_property(a.name)
        if a.kind == "double":
            values[a.param] = float(v)
        elif a.kind == "int":
            values[a.param] = int(v)
        elif a.kind == "boolean":
            values[a.param] = bool(v)
        elif a.kind in ("choice", "string"):
            text = "" if v is None else str(v)
            if text or not a.dynamic:
                values[a.param] = text
        elif a.kind == "color":
            values[a.param] = colours.from_gegl(v)
        elif a.kind == "drawable" and v is not None:
            layers[a.param] = v
    return values, layers


def missing_layers(args: List[Argument], layers: Dict[str, Any]) -> List[str]:
    """Labels of required layer parameters that were left empty."""
    return [a.nick for a in args if a.kind == "drawable" and a.required and a.param not in layers]


def values_from_json(spec: FilterSpec, text: str) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """Batch procedures take parameter values as a JSON object: ``{"strength": 1.5}``.

    Colours are ``"#rrggbb[aa]"`` strings; layer parameters name a layer of the image. Returns
    (values, {layer parameter: layer name}). Unknown names are left for the backend to reject.
    """
    try:
        raw = json.loads(text or "{}")
    except ValueError as exc:
        raise ValueError("parameters are not valid JSON (%s): %r" % (exc, text)) from None
    if not isinstance(raw, dict):
        raise ValueError('parameters must be a JSON object like {"strength": 1.5}')
    kinds = {p.name: p.kind for p in spec.params}
    values: Dict[str, Any] = {}
    layers: Dict[str, str] = {}
    for name, value in raw.items():
        kind = kinds.get(name)
        if kind == "layer":
            layers[name] = str(value)
        elif kind == "colour" and isinstance(value, str):
            values[name] = parse_colour(value)
        elif kind == "float" and isinstance(value, int) and not isinstance(value, bool):
            values[name] = float(value)
        else:
            values[name] = value
    return values, layers
