"""Which layers an editor's image offers: a layer picker's labelled list, the pixel layers,
and a layer batch's targets.

The functions walk any editor's layer tree through three of its functions: ``children(group)``
(top first where the order matters), ``kind(layer)``: "mask", "group" or anything else for a
pixel layer, and ``name(layer)``.
"""

from __future__ import annotations

from typing import Any, Callable, List, Sequence, Tuple

from .messages import UserError

Children = Callable[[Any], Sequence[Any]]
Kind = Callable[[Any], str]
Name = Callable[[Any], str]


def labelled(
    nodes: Sequence[Any], children: Children, kind: Kind, name: Name
) -> List[Tuple[str, Any]]:
    """(label, layer) for every layer among ``nodes`` and inside their groups, top first, masks
    left out; a group's layers are labelled "group / child"."""
    out: List[Tuple[str, Any]] = []
    for node in nodes:
        if kind(node) == "mask":
            continue
        out.append((name(node), node))
        if kind(node) == "group":
            inner = labelled(children(node), children, kind, name)
            out.extend(("%s / %s" % (name(node), label), n) for label, n in inner)
    return out


def pixel_layers(nodes: Sequence[Any], children: Children, kind: Kind) -> List[Any]:
    """Every pixel layer among ``nodes``, groups descended, masks left out, in order."""
    out: List[Any] = []
    for node in nodes:
        if kind(node) == "group":
            out.extend(pixel_layers(children(node), children, kind))
        elif kind(node) != "mask":
            out.append(node)
    return out


def batch_targets(
    mode: str, active: Any, selected: Sequence[Any], children: Children, kind: Kind, name: Name
) -> List[Any]:
    """The layers a layer batch runs on, masks left out: ``mode`` "selected": the selected
    layers; "children": the active group's layers."""
    if mode == "selected":
        layers = [n for n in selected if kind(n) != "mask"]
        if not layers:
            raise UserError("select one or more layers in the Layers docker")
        return layers
    if active is None or kind(active) != "group":
        raise UserError("make a group layer active to filter its children")
    layers = [n for n in children(active) if kind(n) != "mask"]
    if not layers:
        raise UserError("group '%s' has no layers" % name(active))
    return layers
