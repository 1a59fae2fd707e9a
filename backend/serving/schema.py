"""The ListFilters content as JSON (``python -m backend filters`` / ``dump-schema``)."""

from __future__ import annotations

from typing import Any

from backend import PROTOCOL_VERSION
from backend.params import Colour, ParamSpec
from backend.serving.registry import Registry


def _param(s: ParamSpec) -> dict[str, Any]:
    default = s.default.hex() if isinstance(s.default, Colour) else s.default
    return {
        "name": s.name,
        "kind": s.kind,
        "label": s.label,
        "default": default,
        "help": s.help,
        "min": s.min,
        "max": s.max,
        "step": s.step,
        "choices": list(s.choices),
        "required": s.required,
        "dynamic": s.dynamic,
    }


def schema_json(registry: Registry) -> dict[str, Any]:
    filters = []
    for fid in registry.ids():
        flt = registry.get(fid)
        filters.append(
            {
                "id": fid,
                "label": flt.label,
                "description": flt.description,
                "category": flt.category,
                "needs_mask": getattr(flt, "needs_mask", False),
                "params": [_param(s) for s in registry.schema(fid)],
            }
        )
    return {"protocol_version": PROTOCOL_VERSION, "filters": filters}
