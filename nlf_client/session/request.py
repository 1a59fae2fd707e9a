"""From form values to what ``Client.run`` sends: typed params and the extra layers.

Form values map parameter names to values; a layer parameter's value is a layer reference
(whatever the editor's :class:`~nlf_client.session.document.Document` reads), "" or None for
none. Batch procedures take the values as JSON (:func:`values_from_json`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Tuple

from ..api import FilterSpec, Layer
from .colours import parse_colour
from .messages import UserError


@dataclass(frozen=True)
class Request:
    params: Dict[str, Any] = field(default_factory=dict)
    extras: Dict[str, Layer] = field(default_factory=dict)
    """Layer parameters' pixels."""
    layer_names: Dict[str, str] = field(default_factory=dict)
    """Layer parameters' layer names (for result names)."""


def build_request(spec: FilterSpec, values: Mapping[str, Any], doc: Any) -> Request:
    """Every parameter of ``spec`` from ``values`` (else its default), typed for the wire.

    An empty dynamic choice is left out (the backend picks and checks its default); a colour
    may be given as text. Layer parameters are read through ``doc.read(ref)``.
    """
    req = Request()
    for p in spec.params:
        value = values.get(p.name, p.default)
        if p.kind == "layer":
            if value:
                layer = doc.read(value) if doc is not None else None
                if layer is None:
                    raise UserError("the layer chosen for '%s' no longer exists" % p.label)
                req.extras[p.name], req.layer_names[p.name] = layer, layer.name
            elif p.required:
                raise UserError("choose a layer for '%s'" % p.label)
        elif p.kind == "colour":
            req.params[p.name] = parse_colour(value)
        elif p.kind == "float" and value is not None:
            req.params[p.name] = float(value)
        elif not (p.dynamic and value in ("", None)):
            req.params[p.name] = value
    return req


def values_from_json(spec: FilterSpec, text: str) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """Values given as a JSON object (``{"strength": 1.5}``): (values, {layer param: layer name}).

    Colours are ``"#rrggbb[aa]"``; layer parameters name a layer; unknown names are left for the
    backend to reject.
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
        if kinds.get(name) == "layer":
            layers[name] = str(value)
        elif kinds.get(name) == "colour":
            values[name] = parse_colour(value)
        elif kinds.get(name) == "float" and isinstance(value, int) and not isinstance(value, bool):
            values[name] = float(value)
        else:
            values[name] = value
    return values, layers


def filter_values_from_json(
    specs: Mapping[str, FilterSpec], filter_id: str, text: str
) -> Tuple[FilterSpec, Dict[str, Any], Dict[str, str]]:
    """A batch's filter id and JSON values: (spec, values, {layer param: layer name})."""
    if filter_id not in specs:
        raise ValueError("unknown filter '%s'; known: %s" % (filter_id, ", ".join(specs)))
    return (specs[filter_id],) + values_from_json(specs[filter_id], text)
