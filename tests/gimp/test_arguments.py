"""Filter parameters -> GIMP procedure arguments, procedure config -> form values (no GIMP)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from nlf_gimp.arguments import DYNAMIC_NOTE, add_arguments, argument_name, read_values
from nlf_gimp.store import filters

from nlf_client.api import Colour, FilterSpec, Layer, ParamSpec
from nlf_client.session import UserError, build_request, parse_colour

ALL_KINDS = FilterSpec(
    id="all_kinds",
    label="All kinds",
    params=(
        ParamSpec("strength", "float", "Strength", 1.5, "how much", 0.0, 4.0, 0.1),
        ParamSpec("free", "float", "Free", 2.0),
        ParamSpec("num_steps", "int", "Steps", 20, min=1, max=500),
        ParamSpec("keep_colours", "bool", "Keep colours", True),
        ParamSpec("preset", "choice", "Preset", "final", choices=("fast", "final")),
        ParamSpec("model", "choice", "Model", "", dynamic=True),
        ParamSpec("note", "string", "Note", "hi"),
        ParamSpec("tint", "colour", "Tint", "#ff800040"),
        ParamSpec("style", "layer", "Style", None, required=True),
        ParamSpec("style_map", "layer", "Style map", None),
    ),
)


class FakeProcedure:
    """Records add_*_argument calls like a Gimp.Procedure."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("add_"):
            raise AttributeError(name)
        return lambda *args: self.calls.append((name, args))


class FakeChoice:
    def __init__(self) -> None:
        self.items: list[tuple[str, int, str, str]] = []

    def add(self, nick: str, ident: int, label: str, help_: str) -> None:
        self.items.append((nick, ident, label, help_))


FAKE_GIMP = SimpleNamespace(Choice=SimpleNamespace(new=FakeChoice))
FAKE_GOBJECT = SimpleNamespace(ParamFlags=SimpleNamespace(READWRITE="RW"))
FAKE_COLOURS = SimpleNamespace(to_gegl=lambda c: ("gegl", c), from_gegl=lambda v: v[1])


def _declared(spec: FilterSpec) -> dict[str, tuple[str, tuple[Any, ...]]]:
    proc = FakeProcedure()
    add_arguments(proc, spec, FAKE_GIMP, FAKE_GOBJECT, FAKE_COLOURS)
    assert len(proc.calls) == len(spec.params)
    return {args[0]: (name, args[1:]) for name, args in proc.calls}


def test_argument_names_are_valid_gparam_names() -> None:
    """Underscores become dashes; reserved and non-letter starts are renamed."""
    assert argument_name("num_steps") == "num-steps"
    assert argument_name("image") == "nlf-image"
    assert argument_name("run_mode") == "nlf-run-mode"
    assert argument_name("3d") == "p-3d"
    assert argument_name("Style Map") == "style-map"


def test_every_kind_maps_to_one_gimp_argument() -> None:
    """Each kind becomes the GIMP argument the module table promises, in GIMP 3.0's argument
    order (name, nick, blurb, ..., flags)."""
    calls = _declared(ALL_KINDS)
    assert calls["strength"] == (
        "add_double_argument",
        ("Strength", "how much", 0.0, 4.0, 1.5, "RW"),
    )
    name, args = calls["free"]
    assert name == "add_double_argument" and args[2] < -1000 < 1000 < args[3]
    assert calls["num-steps"] == ("add_int_argument", ("Steps", "Steps", 1, 500, 20, "RW"))
    assert calls["keep-colours"] == (
        "add_boolean_argument",
        ("Keep colours", "Keep colours", True, "RW"),
    )
    name, args = calls["preset"]
    assert name == "add_choice_argument" and args[3] == "final"
    assert [i[0] for i in args[2].items] == ["fast", "final"]
    assert calls["model"] == ("add_string_argument", ("Model", "Model" + DYNAMIC_NOTE, "", "RW"))
    assert calls["note"] == ("add_string_argument", ("Note", "Note", "hi", "RW"))
    name, args = calls["tint"]
    assert name == "add_color_argument" and args[2] is True
    assert args[3] == ("gegl", parse_colour("#ff800040"))
    # none_ok even for a required layer, else GIMP refuses to open the dialog
    assert calls["style"] == ("add_drawable_argument", ("Style", "Style", True, "RW"))
    assert calls["style-map"][0] == "add_drawable_argument"


def test_defaults_are_clamped_into_range() -> None:
    """A default outside min/max would make GIMP reject the argument: it is clamped."""
    params = (
        ParamSpec("a", "float", "A", 9.0, min=0.0, max=1.0),
        ParamSpec("b", "int", "B", -5, min=0, max=3),
    )
    calls = _declared(FilterSpec("x", "X", params=params))
    assert calls["a"][1][4] == 1.0 and calls["b"][1][4] == 0


def test_clashing_names_and_unknown_kinds_are_refused() -> None:
    """Two parameters that map to one argument name, or an unknown kind, fail registration."""
    twins = (ParamSpec("a_b", "bool", "1"), ParamSpec("a-b", "bool", "2"))
    with pytest.raises(ValueError, match="a-b"):
        _declared(FilterSpec("x", "X", params=twins))
    with pytest.raises(ValueError, match="unknown kind"):
        _declared(FilterSpec("x", "X", params=(ParamSpec("a", "matrix", "A"),)))


def test_read_values_round_trip() -> None:
    """Config values come back under schema names, typed; the session core then drops an empty
    dynamic choice and an unset layer, and names a required layer left empty."""
    props = {name: args[-2] for name, (_, args) in _declared(ALL_KINDS).items()}
    props["preset"], props["tint"] = "final", ("gegl", Colour(1.0, 0.0, 0.0, 1.0))
    props["style"], props["style-map"] = "LAYER", None
    values = read_values(ALL_KINDS, SimpleNamespace(get_property=props.__getitem__), FAKE_COLOURS)
    assert values == {
        "strength": 1.5,
        "free": 2.0,
        "num_steps": 20,
        "keep_colours": True,
        "preset": "final",
        "model": "",
        "note": "hi",
        "tint": Colour(1.0, 0.0, 0.0, 1.0),
        "style": "LAYER",
        "style_map": None,
    }
    assert isinstance(values["num_steps"], int) and isinstance(values["free"], float)
    doc = SimpleNamespace(read=lambda ref: Layer(b"", 0, 0, name=ref))
    request = build_request(ALL_KINDS, values, doc)
    assert "model" not in request.params and set(request.extras) == {"style"}
    with pytest.raises(UserError, match="choose a layer for 'Style'"):
        build_request(ALL_KINDS, dict(values, style=None), doc)


def test_committed_schema_maps_without_clashes() -> None:
    """Every filter in schema.json registers (unique names, defaults within range)."""
    specs = list(filters().values())
    assert specs, "schema.json has no filters"
    for spec in specs:
        for name, args in _declared(spec).values():
            if name in ("add_double_argument", "add_int_argument"):
                assert args[2] <= args[4] <= args[3], (spec.id, args)
            if name == "add_choice_argument":
                assert args[3] in [i[0] for i in args[2].items], (spec.id, args)
