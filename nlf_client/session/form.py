"""Which input each declared parameter gets in an editor's form, and form values read back.

:func:`plan` decides, once for every editor, what a parameter's input holds: its range, step,
decimals, default, choices and their labels, the row's label and tooltip. The editors only draw
it (Krita: Qt widgets; GIMP: procedure arguments, which GIMP draws) and read it back through
:func:`typed`. Settings forms are planned the same way (``settings.FORM``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Tuple

from ..api import Colour, ParamSpec
from .colours import parse_colour

INT_LIMIT = 2**31 - 1
"""The widest int range an unbounded int parameter gets (a C int)."""
FLOAT_LIMIT = 1e9
_CASTS = {"float": float, "int": int, "bool": bool}


@dataclass(frozen=True)
class Field:
    """What one parameter's input shows (``kind`` as the parameter's)."""

    name: str
    kind: str
    label: str
    """The parameter's label, else its name."""
    help: str
    default: Any
    lo: float = 0.0
    hi: float = 0.0
    step: float = 1.0
    decimals: int = 0
    choices: Tuple[str, ...] = ()
    choice_labels: Tuple[str, ...] = ()
    fixed: bool = False
    """A choice whose list is known now (not filled from what the backend has installed)."""
    required: bool = False

    @property
    def row_label(self) -> str:
        """The label of a form row: `` *`` marks a layer that must be chosen."""
        return self.label + (" *" if self.required else "")


def choice_label(value: str) -> str:
    """What a person sees for a choice value: ``van_gogh`` -> ``Van gogh``."""
    text = value.replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:] if text else value


def decimals(step: Optional[float]) -> int:
    """Decimals a float input shows: enough for its step, 2 to 6."""
    if not step or step >= 1:
        return 2
    return min(6, max(2, math.ceil(-math.log10(step) - 1e-9)))


def _number(p: ParamSpec, limit: Optional[float]) -> dict:
    cast = float if p.kind == "float" else int
    bound = cast(limit if limit is not None else (FLOAT_LIMIT if cast is float else INT_LIMIT))
    lo = cast(p.min) if p.min is not None else -bound
    hi = cast(p.max) if p.max is not None else bound
    default = max(lo, min(hi, cast(p.default if p.default is not None else 0)))
    step = cast(p.step or (0.1 if cast is float else 1))
    places = decimals(p.step) if cast is float else 0
    return dict(lo=lo, hi=hi, default=default, step=step, decimals=places)


def plan(p: ParamSpec, limit: Optional[float] = None) -> Field:
    """The input for ``p``; ``limit`` bounds an unbounded number (default: a C int, 1e9)."""
    label = p.label or p.name
    extra: dict = {}
    if p.kind in ("float", "int"):
        extra = _number(p, limit)
    elif p.kind == "bool":
        extra = dict(default=bool(p.default))
    elif p.kind == "choice":
        choices = tuple(p.choices)
        fixed = bool(choices) and not p.dynamic
        default = "" if p.default is None else str(p.default)
        if fixed and default not in choices:
            default = choices[0]
        extra = dict(choices=choices, default=default, fixed=fixed)
        extra["choice_labels"] = tuple(choice_label(c) for c in choices)
    elif p.kind == "string":
        extra = dict(default="" if p.default is None else str(p.default))
    elif p.kind == "colour":
        extra = dict(default=parse_colour(p.default))
    elif p.kind == "layer":
        extra = dict(default="", required=p.required)
    else:
        raise ValueError("parameter %r has unknown kind %r" % (p.name, p.kind))
    return Field(p.name, p.kind, label, p.help, **extra)


def typed(kind: str, value: Any) -> Any:
    """A value read from an input as the session core takes it (a layer: as the editor gave
    it; a colour: a :class:`Colour` or text)."""
    if kind in ("choice", "string"):
        return "" if value is None else str(value)
    if kind == "colour" and not isinstance(value, Colour):
        return parse_colour(value)
    return _CASTS[kind](value) if kind in _CASTS else value
