"""The filter schema snapshot: ``python -m backend dump-schema``'s JSON as client specs.

An editor that registers its menus before any backend runs (GIMP) reads the committed snapshot;
a test keeps it equal to the backend's declarations.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, Iterable, List, Mapping

from ..api import Colour, FilterSpec, ParamSpec
from .colours import colour_hex

log = logging.getLogger(__name__)

_PARAM_FIELDS = ("help", "min", "max", "step", "required", "dynamic")


def param_from_json(raw: Mapping[str, Any]) -> ParamSpec:
    return ParamSpec(
        name=raw["name"],
        kind=raw["kind"],
        label=raw.get("label") or raw["name"],
        default=raw.get("default"),
        help=raw.get("help") or "",
        min=raw.get("min"),
        max=raw.get("max"),
        step=raw.get("step"),
        choices=tuple(raw.get("choices") or ()),
        required=bool(raw.get("required")),
        dynamic=bool(raw.get("dynamic")),
    )


def filter_from_json(raw: Mapping[str, Any]) -> FilterSpec:
    return FilterSpec(
        id=raw["id"],
        label=raw.get("label") or raw["id"],
        description=raw.get("description") or "",
        category=raw.get("category") or "",
        needs_mask=bool(raw.get("needs_mask")),
        params=tuple(param_from_json(p) for p in raw.get("params", ())),
    )


def param_to_json(p: ParamSpec) -> Dict[str, Any]:
    default = colour_hex(p.default) if isinstance(p.default, Colour) else p.default
    out = {"name": p.name, "kind": p.kind, "label": p.label, "default": default}
    out.update({k: getattr(p, k) for k in _PARAM_FIELDS})
    out["choices"] = list(p.choices)
    return out


def filter_to_json(spec: FilterSpec) -> Dict[str, Any]:
    """The inverse of :func:`filter_from_json` (colour defaults as ``#rrggbbaa``)."""
    return {
        "id": spec.id,
        "label": spec.label,
        "description": spec.description,
        "category": spec.category,
        "needs_mask": spec.needs_mask,
        "params": [param_to_json(p) for p in spec.params],
    }


def schema_to_json(specs: Iterable[FilterSpec], protocol_version: int = 1) -> Dict[str, Any]:
    """A whole schema document in the ``dump-schema`` layout."""
    return {"protocol_version": protocol_version, "filters": [filter_to_json(s) for s in specs]}


def load_schema(path: str) -> List[FilterSpec]:
    """Read a ``dump-schema`` JSON file; a missing or broken file gives no filters (logged)."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as exc:
        log.error("cannot read filter schema %s: %s", path, exc)
        return []
    return [filter_from_json(f) for f in doc.get("filters", ())]
