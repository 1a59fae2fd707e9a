"""Filter parameters: declared once as a frozen dataclass, everything else derives from it.

A filter's params class uses :func:`param` for every field. :func:`schema_of` turns it into the
list of :class:`ParamSpec` that goes on the wire (and so into Krita widgets, GIMP arguments and the
CLI); :func:`parse_values` validates raw values against the same declaration.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, get_type_hints

from backend.errors import ParamError, shown

KINDS = ("float", "int", "bool", "choice", "string", "colour", "layer")


@dataclass(frozen=True)
class Colour:
    """A straight (non-premultiplied) RGBA colour, each channel in [0, 1]."""

    r: float
    g: float
    b: float
    a: float = 1.0

    def hex(self) -> str:
        return "#" + "".join(f"{round(c * 255):02x}" for c in (self.r, self.g, self.b, self.a))

    @classmethod
    def parse(cls, text: str) -> Colour:
        s = text.strip().lstrip("#")
        if len(s) not in (6, 8) or any(c not in "0123456789abcdefABCDEF" for c in s):
            raise ParamError(f"colour '{text}' is not #RRGGBB or #RRGGBBAA")
        vals = [int(s[i : i + 2], 16) / 255 for i in range(0, len(s), 2)]
        return cls(*vals)


@dataclass(frozen=True)
class LayerRef:
    """A reference to an extra input layer; its pixels travel in the request under ``name``."""

    name: str


def param(
    default: Any,
    *,
    label: str,
    min: float | None = None,
    max: float | None = None,
    step: float | None = None,
    choices: Sequence[str] = (),
    dynamic: str = "",
    help: str = "",
    required: bool = False,
) -> Any:
    """Declare one filter parameter (a dataclass field carrying its UI/validation metadata).

    ``dynamic`` names a choice list the filter fills at run time (installed packs or models).
    ``required`` applies to layer parameters only.
    """
    meta = {
        "label": label,
        "min": min,
        "max": max,
        "step": step,
        "choices": tuple(choices),
        "dynamic": dynamic,
        "help": help,
        "required": required,
    }
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class ParamSpec:
    """One parameter as the wire, the editors and the CLI see it."""

    name: str
    kind: str
    label: str
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    required: bool = False
    dynamic: bool = False
    """True when the choices depend on what is installed (packs, models)."""


def _kind_of(tp: Any, meta: Mapping[str, Any]) -> str:
    if tp is bool:
        return "bool"
    if tp is int:
        return "int"
    if tp is float:
        return "float"
    if tp is Colour:
        return "colour"
    if tp is str:
        return "choice" if (meta.get("choices") or meta.get("dynamic")) else "string"
    if "LayerRef" in str(tp):
        return "layer"
    raise TypeError(f"unsupported parameter type {tp!r}")


def schema_of(
    params_cls: type,
    dynamic: Mapping[str, Sequence[str]] | None = None,
    notes: Mapping[str, str] | None = None,
) -> list[ParamSpec]:
    """Derive the parameter schema from a params dataclass (the single source of truth).

    ``dynamic`` maps a field's ``dynamic`` key to its current choices (e.g. installed packs).
    ``notes`` maps a field's ``dynamic`` key to text appended to its help (what the installed
    choices are, e.g. each model's architecture); the editors show the help as the tooltip.
    """
    hints = get_type_hints(params_cls)
    specs = []
    for f in fields(params_cls):
        meta = f.metadata
        kind = _kind_of(hints[f.name], meta)
        choices = tuple(meta.get("choices", ()))
        if meta.get("dynamic"):
            choices = tuple((dynamic or {}).get(meta["dynamic"], choices))
        default = f.default if f.default is not MISSING else None
        if kind == "choice" and choices and default not in choices:
            default = choices[0]
        specs.append(
            ParamSpec(
                name=f.name,
                kind=kind,
                label=meta.get("label", f.name),
                default=default,
                help=_help(meta, notes),
                min=meta.get("min"),
                max=meta.get("max"),
                step=meta.get("step"),
                choices=choices,
                required=bool(meta.get("required")),
                dynamic=bool(meta.get("dynamic")),
            )
        )
    return specs


def _help(meta: Mapping[str, Any], notes: Mapping[str, str] | None) -> str:
    text = str(meta.get("help", ""))
    note = (notes or {}).get(str(meta.get("dynamic") or ""), "")
    return f"{text}. {note}" if text and note else text or note


def _check_number(spec: ParamSpec, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParamError(f"parameter '{spec.name}' must be a number, got {shown(repr(value))}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ParamError(f"parameter '{spec.name}' must be finite, got {value!r}")
    if spec.kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise ParamError(
                    f"parameter '{spec.name}' must be an integer, got {shown(repr(value))}"
                )
            value = int(value)
    else:
        value = float(value)
    if spec.min is not None and value < spec.min:
        raise ParamError(f"parameter '{spec.name}' = {value} is below its minimum {spec.min}")
    if spec.max is not None and value > spec.max:
        raise ParamError(f"parameter '{spec.name}' = {value} is above its maximum {spec.max}")
    return value


def check_value(spec: ParamSpec, value: Any) -> Any:
    """Validate one raw value against its spec and return it in the field's Python type."""
    if spec.kind in ("float", "int"):
        return _check_number(spec, value)
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise ParamError(
                f"parameter '{spec.name}' must be true or false, got {shown(repr(value))}"
            )
        return value
    if spec.kind in ("choice", "string"):
        if not isinstance(value, str):
            raise ParamError(f"parameter '{spec.name}' must be text, got {shown(repr(value))}")
        if spec.kind == "choice" and value not in spec.choices:
            offered = ", ".join(spec.choices) or "none installed"
            raise ParamError(f"parameter '{spec.name}' = '{shown(value)}' is not one of: {offered}")
        return value
    if spec.kind == "colour":
        if isinstance(value, str):
            value = Colour.parse(value)
        if not isinstance(value, Colour):
            raise ParamError(f"parameter '{spec.name}' must be a colour, got {shown(repr(value))}")
        for c in (value.r, value.g, value.b, value.a):
            if not (math.isfinite(c) and 0.0 <= c <= 1.0):
                raise ParamError(f"parameter '{spec.name}' has a channel outside [0, 1]: {value}")
        return value
    if spec.kind == "layer":
        if isinstance(value, str):
            value = LayerRef(value)
        if not isinstance(value, LayerRef):
            raise ParamError(f"parameter '{spec.name}' must name a layer, got {shown(repr(value))}")
        return value
    raise AssertionError(spec.kind)


def parse_values(
    params_cls: type,
    raw: Mapping[str, Any],
    dynamic: Mapping[str, Sequence[str]] | None = None,
    layers: Sequence[str] = (),
) -> Any:
    """Build a typed params instance from raw values; raise ParamError naming the bad value.

    Missing values take their defaults. Layer parameters are set from ``layers`` (names of the
    extra layers the request carries); a required layer that is absent is an error.
    """
    specs = {s.name: s for s in schema_of(params_cls, dynamic)}
    unknown = sorted(set(raw) - set(specs))
    if unknown:
        raise ParamError(
            f"unknown parameter '{shown(unknown[0])}'; "
            f"this filter takes: {', '.join(sorted(specs))}"
        )
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        if spec.kind == "layer":
            if name in layers or name in raw:
                values[name] = LayerRef(name)
            elif spec.required:
                raise ParamError(f"layer parameter '{name}' ({spec.label}) needs a layer")
            else:
                values[name] = None
        elif name in raw:
            values[name] = check_value(spec, raw[name])
        elif spec.kind == "choice" and spec.default not in spec.choices:
            offered = ", ".join(spec.choices) or "none installed"
            raise ParamError(f"parameter '{name}' has no valid default; choose one of: {offered}")
        else:
            values[name] = spec.default
    return params_cls(**values)


def parse_text(spec: ParamSpec, text: str) -> Any:
    """Convert a command-line string to ``spec``'s raw value type (then :func:`check_value`)."""
    try:
        if spec.kind == "float":
            return float(text)
        if spec.kind == "int":
            return int(text)
    except ValueError:
        raise ParamError(f"parameter '{spec.name}' must be a number, got '{shown(text)}'") from None
    if spec.kind == "bool":
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ParamError(f"parameter '{spec.name}' must be true or false, got '{shown(text)}'")
    if spec.kind == "colour":
        return Colour.parse(text)
    return text
