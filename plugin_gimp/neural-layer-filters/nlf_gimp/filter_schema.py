"""The filter schema snapshot (``schema.json``) as ``nlf_client`` specs, and PDB procedure names.

GIMP registers procedures before any backend need be running, so the plug-in reads the committed
snapshot written by ``python -m backend dump-schema`` (a test keeps it current). No ``gi`` here:
unit tests import this module without GIMP.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, Iterable, List, Mapping

from nlf_client.api import FilterSpec, ParamSpec

log = logging.getLogger(__name__)

PROCEDURE_PREFIX = "plug-in-nlf-"
PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA_FILE = os.path.join(PLUGIN_DIR, "schema.json")


def procedure_name(filter_id: str) -> str:
    """PDB name of a filter's procedure: ``dfi`` -> ``plug-in-nlf-dfi`` (``_`` becomes ``-``)."""
    return PROCEDURE_PREFIX + filter_id.lower().replace("_", "-")


def param_from_json(raw: Mapping[str, Any]) -> ParamSpec:
    """One parameter entry of the JSON schema as a :class:`ParamSpec`."""
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
    """One filter entry of the JSON schema as a :class:`FilterSpec`."""
    return FilterSpec(
        id=raw["id"],
        label=raw.get("label") or raw["id"],
        description=raw.get("description") or "",
        category=raw.get("category") or "",
        needs_mask=bool(raw.get("needs_mask")),
        params=tuple(param_from_json(p) for p in raw.get("params", ())),
    )


def _colour_hex(value: Any) -> Any:
    if hasattr(value, "r") and hasattr(value, "a"):
        return "#" + "".join(
            "%02x" % round(min(1.0, max(0.0, c)) * 255)
            for c in (value.r, value.g, value.b, value.a)
        )
    return value


def filter_to_json(spec: FilterSpec) -> Dict[str, Any]:
    """The inverse of :func:`filter_from_json` (colour defaults as ``#rrggbbaa``)."""
    return {
        "id": spec.id,
        "label": spec.label,
        "description": spec.description,
        "category": spec.category,
        "needs_mask": spec.needs_mask,
        "params": [
            {
                "name": p.name,
                "kind": p.kind,
                "label": p.label,
                "default": _colour_hex(p.default),
                "help": p.help,
                "min": p.min,
                "max": p.max,
                "step": p.step,
                "choices": list(p.choices),
                "required": p.required,
                "dynamic": p.dynamic,
            }
            for p in spec.params
        ],
    }


def schema_to_json(specs: Iterable[FilterSpec], protocol_version: int = 1) -> Dict[str, Any]:
    """A whole schema document in the ``dump-schema`` layout."""
    return {"protocol_version": protocol_version, "filters": [filter_to_json(s) for s in specs]}


def load_schema(path: str = SCHEMA_FILE) -> List[FilterSpec]:
    """Read a ``dump-schema`` JSON file; a missing or broken file gives no filters (logged)."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as exc:
        log.error("cannot read filter schema %s: %s", path, exc)
        return []
    return [filter_from_json(f) for f in doc.get("filters", ())]


def by_procedure(specs: Iterable[FilterSpec]) -> Dict[str, FilterSpec]:
    """Map PDB procedure name -> filter spec."""
    return {procedure_name(s.id): s for s in specs}
