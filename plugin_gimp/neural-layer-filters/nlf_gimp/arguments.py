"""A filter's parameters as GIMP procedure arguments, and a procedure config as form values.

The functions take the procedure / config and the ``gi`` modules they need, so tests hand them
fakes (no ``gi`` import here). One argument per parameter, named like it (``num_steps`` ->
``num-steps``):

=========  ==========================================================================
schema     GIMP argument
=========  ==========================================================================
float/int  ``add_double_argument`` / ``add_int_argument`` (schema min/max, else +/-1e6;
           the default clamped into them, else GIMP refuses the argument)
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
from typing import Any, Dict

from nlf_client.api import FilterSpec, ParamSpec
from nlf_client.session.form import plan, typed

RESERVED = frozenset({"run-mode", "image", "drawables", "num-drawables"})
LIMIT = 1_000_000
DYNAMIC_NOTE = " (name of an installed item; the backend checks it and lists what is installed)"


def argument_name(param: str) -> str:
    """A valid GParamSpec name for a parameter: ``num_steps`` -> ``num-steps``."""
    name = re.sub(r"[^a-z0-9-]+", "-", param.lower()).strip("-") or "param"
    if not name[0].isalpha():
        name = "p-" + name
    return "nlf-" + name if name in RESERVED else name


def _add_one(proc: Any, p: ParamSpec, Gimp: Any, rw: Any, colours: Any) -> None:
    f = plan(p, LIMIT)  # range, default, choices: as in every editor
    head = (argument_name(p.name), f.label, f.help or f.label)
    if f.kind in ("float", "int"):
        add = proc.add_double_argument if f.kind == "float" else proc.add_int_argument
        add(*head, f.lo, f.hi, f.default, rw)
    elif f.kind == "bool":
        proc.add_boolean_argument(*head, f.default, rw)
    elif f.fixed:
        choice = Gimp.Choice.new()
        for i, (value, label) in enumerate(zip(f.choices, f.choice_labels, strict=True)):
            choice.add(value, i, label, "")
        proc.add_choice_argument(*head, choice, f.default, rw)
    elif f.kind in ("choice", "string"):
        note = DYNAMIC_NOTE if f.kind == "choice" else ""
        proc.add_string_argument(*head[:2], head[2] + note, f.default, rw)
    elif f.kind == "colour":
        proc.add_color_argument(*head, True, colours.to_gegl(f.default), rw)
    else:
        proc.add_drawable_argument(*head, True, rw)


def add_arguments(proc: Any, spec: FilterSpec, Gimp: Any, GObject: Any, colours: Any) -> None:
    """Declare ``spec``'s parameters on a ``Gimp.Procedure``; ``colours.to_gegl(Colour)``."""
    names = [argument_name(p.name) for p in spec.params]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise ValueError("filter %r: two parameters map to argument %r" % (spec.id, clash[0]))
    for p in spec.params:
        _add_one(proc, p, Gimp, GObject.ParamFlags.READWRITE, colours)


def read_values(spec: FilterSpec, config: Any, colours: Any) -> Dict[str, Any]:
    """Form values from a procedure config, by parameter name (a layer: its drawable or None);
    the session core turns them into a request."""
    values: Dict[str, Any] = {}
    for p in spec.params:
        value = config.get_property(argument_name(p.name))
        values[p.name] = typed(p.kind, colours.from_gegl(value) if p.kind == "colour" else value)
    return values
