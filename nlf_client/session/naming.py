"""Names of what a run makes: result layers (both editors) and result files (every batch).

Layers: ``[NLF] <filter label> <key params>``: choices always, other values when not at their
default, layer parameters by the chosen layer's name; `` (<result>)`` is added when a filter
returns several layers. Files: ``<stem>.<filter id>.png``, ``<stem>.<filter id>.<n>.png`` when
a filter returns several layers (the folder batches of Krita and GIMP and ``python -m backend
apply``).
"""

from __future__ import annotations

import os
from typing import Any, List, Mapping, Optional

from ..api import Colour, FilterSpec
from .colours import colour_hex

PREFIX = "[NLF]"
MAX_NAME = 96


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return "%g" % value
    if isinstance(value, Colour):
        return colour_hex(value, alpha=False)
    return str(value)


def layer_name(
    spec: FilterSpec,
    values: Mapping[str, Any],
    layer_names: Optional[Mapping[str, str]] = None,
    result_name: str = "",
    count: int = 1,
) -> str:
    """The new layer's name (see the module docstring)."""
    keys: List[str] = []
    for p in spec.params:
        if p.kind == "layer":
            if (layer_names or {}).get(p.name):
                keys.append("%s=%s" % (p.name, layer_names[p.name]))  # type: ignore[index]
            continue
        value = values.get(p.name, p.default)
        if p.kind == "choice":
            keys.append(str(value))
        elif value != p.default:
            keys.append("%s=%s" % (p.name, _short(value)))
    name = " ".join([PREFIX, spec.label] + keys)
    if len(name) > MAX_NAME:
        name = name[: MAX_NAME - 1] + "…"
    if count > 1 and result_name:
        name += " (%s)" % result_name
    return name


def file_names(stem: str, filter_id: str, count: int) -> List[str]:
    """File names for ``count`` results of ``filter_id`` on the image called ``stem``."""
    if count == 1:
        return ["%s.%s.png" % (stem, filter_id)]
    return ["%s.%s.%d.png" % (stem, filter_id, i + 1) for i in range(count)]


def output_paths(src: str, out_dir: str, filter_id: str, count: int) -> List[str]:
    """Where the results of ``src`` go in ``out_dir``."""
    stem = os.path.splitext(os.path.basename(src))[0]
    return [os.path.join(out_dir, n) for n in file_names(stem, filter_id, count)]
