"""Parameter declarations: schema derivation and validation."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from backend.errors import ParamError
from backend.params import Colour, LayerRef, param, parse_text, parse_values, schema_of


@dataclass(frozen=True)
class P:
    strength: float = param(1.0, label="Strength", min=0.0, max=2.0, step=0.1, help="how much")
    steps: int = param(10, label="Steps", min=1, max=100)
    sharp: bool = param(False, label="Sharp")
    mode: str = param("a", label="Mode", choices=("a", "b"))
    pack: str = param("smiling", label="Pack", dynamic="packs")
    note: str = param("", label="Note")
    tint: Colour = param(Colour(1, 0, 0), label="Tint")
    style: LayerRef | None = param(None, label="Style", required=True)


DYN = {"packs": ["smiling", "older"]}


def test_schema_kinds_and_metadata() -> None:
    """Each field's type and metadata become one spec of the right kind."""
    specs = {s.name: s for s in schema_of(P, DYN)}
    kinds = {n: s.kind for n, s in specs.items()}
    assert kinds == {
        "strength": "float",
        "steps": "int",
        "sharp": "bool",
        "mode": "choice",
        "pack": "choice",
        "note": "string",
        "tint": "colour",
        "style": "layer",
    }
    assert (specs["strength"].min, specs["strength"].max, specs["strength"].help) == (
        0,
        2,
        "how much",
    )
    assert specs["pack"].choices == ("smiling", "older") and specs["pack"].dynamic
    assert specs["style"].required


def test_defaults_and_layers() -> None:
    """Missing values take defaults; layer params come from the extra layers sent."""
    p = parse_values(P, {}, DYN, layers=["style"])
    assert p.strength == 1.0 and p.style == LayerRef("style") and p.tint == Colour(1, 0, 0)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"strength": 3.0}, "maximum"),
        ({"strength": -1}, "minimum"),
        ({"strength": float("inf")}, "finite"),
        ({"strength": "x"}, "number"),
        ({"steps": 1.5}, "integer"),
        ({"sharp": 1}, "true or false"),
        ({"mode": "c"}, "not one of"),
        ({"pack": "bald"}, "smiling, older"),
        ({"tint": "#zz0000"}, "colour"),
        ({"nope": 1}, "unknown parameter 'nope'"),
    ],
)
def test_bad_values_name_the_problem(raw: dict, words: str) -> None:
    """Every bad value is a ParamError whose message names it."""
    with pytest.raises(ParamError, match=words):
        parse_values(P, raw, DYN, layers=["style"])


def test_required_layer_missing() -> None:
    """A required layer that was not sent is an error naming it."""
    with pytest.raises(ParamError, match="style"):
        parse_values(P, {}, DYN)


def test_dynamic_choice_without_installs_explains() -> None:
    """No pack installed: the error says none is installed."""
    with pytest.raises(ParamError, match="none installed"):
        parse_values(P, {}, {"packs": []}, layers=["style"])


def test_parse_text_for_cli() -> None:
    """Command-line strings convert by kind."""
    specs = {s.name: s for s in schema_of(P, DYN)}
    assert parse_text(specs["strength"], "0.5") == 0.5
    assert parse_text(specs["sharp"], "yes") is True
    assert parse_text(specs["tint"], "#00ff0080") == Colour(0, 1, 0, 128 / 255)
    with pytest.raises(ParamError):
        parse_text(specs["steps"], "many")
