"""Filter parameters -> GIMP procedure arguments, and a procedure config -> form values.

:func:`arguments_for` is pure; :func:`add_to_procedure` and :func:`read_values` take the
procedure / config and the ``gi`` modules they need, so tests hand them fakes. No ``gi`` import.

=========  ==========================================================================
schema     GIMP argument
=========  ==========================================================================
float      ``add_double_argument`` (min/max from the schema, else +/-1e6)
int        ``add_int_argument``
bool       ``add_boolean_argument``
choice     ``add_choice_argument`` with a ``Gimp.Choice`` (nick = the backend's value)
dynamic    ``add_string_argument``: the list depends on what the backend has installed, so
           the backend checks the value and answers with the installed names when it is wrong
string     ``add_string_argument``
colour     ``add_color_argument`` (with alpha; values sent as straight sRGB in [0, 1])
layer      ``add_drawable_argument``, always ``none_ok`` (GIMP refuses to open the dialog of a
           procedure whose drawable argument has no value; the session core names a required
           layer left empty before anything is sent)
=========  ==========================================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from nlf_client.api import FilterSpec, ParamSpec
from nlf_client.session.colours import parse_colour

RESERVED = frozenset({"run-mode", "image", "drawables", "num-drawables"})
LIMITS = {"float": 1e6, "int": 1_000_000}
KINDS = {"float": "double", "int": "int", "bool": "boolean", "string": "string"}
KINDS.update({"colour": "color", "layer": "drawable"})


def _text(value: Any) -> str:
    return "" if value is None else str(value)


DEFAULTS = {"bool": bool, "string": lambda v: str(v or ""), "colour": parse_colour}
READ = {"double": float, "int": int, "boolean": bool, "choice": _text, "string": _text}
DYNAMIC_NOTE = " (name of an installed item; the backend checks it and lists what is installed)"


@dataclass(frozen=True)
class Argument:
    """One procedure argument: ``kind`` is double, int, boolean, choice, string, color or
    drawable; ``name`` the GIMP argument name; ``param`` the schema parameter it carries."""

    kind: str
    name: str
    param: str
    nick: str
    blurb: str
    default: Any = None
    min: Optional[float] = None
    max: Optional[float] = None
    choices: Tuple[str, ...] = ()


def argument_name(param: str) -> str:
    """A valid GParamSpec name for a parameter: ``num_steps`` -> ``num-steps``."""
    name = re.sub(r"[^a-z0-9-]+", "-", param.lower()).strip("-") or "param"
    if not name[0].isalpha():
        name = "p-" + name
    return "nlf-" + name if name in RESERVED else name


def choice_label(value: str) -> str:
    """What a person sees for a choice value: ``van_gogh`` -> ``Van gogh``."""
    text = value.replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:] if text else value


def argument_for(p: ParamSpec) -> Argument:
    """The one GIMP argument for a schema parameter (see the module table)."""
    name, nick = argument_name(p.name), p.label or p.name
    blurb = p.help or nick
    if p.kind in LIMITS:  # numbers: the default clamped into range (else GIMP rejects it)
        cast = float if p.kind == "float" else int
        lo = cast(p.min) if p.min is not None else -cast(LIMITS[p.kind])
        hi = cast(p.max) if p.max is not None else cast(LIMITS[p.kind])
        default = max(lo, min(hi, cast(p.default if p.default is not None else lo)))
        return Argument(KINDS[p.kind], name, p.name, nick, blurb, default, lo, hi)
    if p.kind == "choice" and p.choices and not p.dynamic:
        default = p.default if p.default in p.choices else p.choices[0]
        return Argument("choice", name, p.name, nick, blurb, default, choices=tuple(p.choices))
    if p.kind == "choice":  # dynamic: installed packs / models, validated by the backend
        return Argument("string", name, p.name, nick, blurb + DYNAMIC_NOTE, str(p.default or ""))
    if p.kind not in KINDS:
        raise ValueError("parameter %r has unknown kind %r" % (p.name, p.kind))
    default = DEFAULTS[p.kind](p.default) if p.kind in DEFAULTS else None
    return Argument(KINDS[p.kind], name, p.name, nick, blurb, default)


def arguments_for(spec: FilterSpec) -> List[Argument]:
    """All arguments of a filter's procedure, in schema order; names are unique."""
    args = [argument_for(p) for p in spec.params]
    names = [a.name for a in args]
    clash = {n for n in names if names.count(n) > 1}
    if clash:
        raise ValueError("filter %r: two parameters map to argument %r" % (spec.id, clash.pop()))
    return args


def add_to_procedure(procedure: Any, args: List[Argument], Gimp: Any, GObject: Any, colours: Any):
    """Declare ``args`` on a ``Gimp.Procedure``; ``colours.to_gegl(Colour)`` makes Gegl colours."""
    rw = GObject.ParamFlags.READWRITE
    for a in args:
        head = (a.name, a.nick, a.blurb)
        if a.kind in ("double", "int"):
            getattr(procedure, "add_%s_argument" % a.kind)(*head, a.min, a.max, a.default, rw)
        elif a.kind in ("boolean", "string"):
            getattr(procedure, "add_%s_argument" % a.kind)(*head, a.default, rw)
        elif a.kind == "choice":
            choice = Gimp.Choice.new()
            for i, value in enumerate(a.choices):
                choice.add(value, i, choice_label(value), "")
            procedure.add_choice_argument(*head, choice, a.default, rw)
        elif a.kind == "color":
            procedure.add_color_argument(*head, True, colours.to_gegl(a.default), rw)
        else:
            procedure.add_drawable_argument(*head, True, rw)


def read_values(args: List[Argument], config: Any, colours: Any) -> Dict[str, Any]:
    """Form values from a procedure config, by parameter name (a layer: its drawable or None).

    The session core turns them into a request (an empty dynamic choice is left to the backend).
    """
    values = {}
    for a in args:
        value = config.get_property(a.name)
        if a.kind == "color":
            value = colours.from_gegl(value)
        values[a.param] = READ[a.kind](value) if a.kind in READ else value
    return values
