"""Schema -> GIMP procedure arguments, and procedure config -> parameter values (no GIMP)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from nlf_gimp.arguments import (
    DYNAMIC_NOTE,
    add_to_procedure,
    argument_name,
    arguments_for,
    read_values,
)
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


def test_argument_names_are_valid_gparam_names() -> None:
    """Underscores become dashes; reserved and non-letter starts are renamed."""
    assert argument_name("num_steps") == "num-steps"
    assert argument_name("image") == "nlf-image"
    assert argument_name("run_mode") == "nlf-run-mode"
    assert argument_name("3d") == "p-3d"
    assert argument_name("Style Map") == "style-map"


def test_every_kind_maps_to_one_gimp_argument() -> None:
    """Each schema kind becomes the GIMP argument type the module table promises."""
    args = {a.param: a for a in arguments_for(ALL_KINDS)}
    assert (args["strength"].kind, args["strength"].min, args["strength"].max) == ("double", 0, 4)
    assert args["free"].kind == "double" and args["free"].min < -1000 < 1000 < args["free"].max
    assert (args["num_steps"].kind, args["num_steps"].name) == ("int", "num-steps")
    assert args["keep_colours"].kind == "boolean" and args["keep_colours"].default is True
    assert args["preset"].kind == "choice" and args["preset"].choices == ("fast", "final")
    assert args["model"].kind == "string" and args["model"].default == ""
    assert args["model"].blurb.endswith(DYNAMIC_NOTE)
    assert args["note"].kind == "string" and args["note"].default == "hi"
    assert args["tint"].kind == "color"
    assert args["tint"].default == parse_colour("#ff800040")
    assert args["style"].kind == "drawable" and args["style_map"].kind == "drawable"


def test_defaults_are_clamped_into_range() -> None:
    """A default outside min/max would make GIMP reject the argument: it is clamped."""
    spec = FilterSpec(
        "x",
        "X",
        params=(
            ParamSpec("a", "float", "A", 9.0, min=0.0, max=1.0),
            ParamSpec("b", "int", "B", -5, min=0, max=3),
        ),
    )
    a, b = arguments_for(spec)
    assert a.default == 1.0 and b.default == 0


def test_add_to_procedure_calls_gimp_api() -> None:
    """The declarations become add_*_argument calls with GIMP 3.0's argument order."""
    proc = FakeProcedure()
    add_to_procedure(proc, arguments_for(ALL_KINDS), FAKE_GIMP, FAKE_GOBJECT, FAKE_COLOURS)
    calls = dict((args[0], (name, args)) for name, args in proc.calls)
    assert calls["strength"] == (
        "add_double_argument",
        ("strength", "Strength", "how much", 0.0, 4.0, 1.5, "RW"),
    )
    assert calls["num-steps"][1][3:] == (1, 500, 20, "RW")
    name, args = calls["preset"]
    assert name == "add_choice_argument" and args[4] == "final"
    assert [i[0] for i in args[3].items] == ["fast", "final"]
    assert calls["model"][0] == "add_string_argument"
    assert calls["tint"][0] == "add_color_argument" and calls["tint"][1][3] is True
    # none_ok even for a required layer, else GIMP refuses to open the dialog
    assert calls["style"] == ("add_drawable_argument", ("style", "Style", "Style", True, "RW"))
    assert len(proc.calls) == len(ALL_KINDS.params)


def test_read_values_round_trip() -> None:
    """Config values come back under schema names, typed; the session core then drops an empty
    dynamic choice and an unset layer, and names a required layer left empty."""
    args = arguments_for(ALL_KINDS)
    props = {a.name: a.default for a in args}
    props["tint"] = ("gegl", Colour(1.0, 0.0, 0.0, 1.0))
    props["style"] = "LAYER"
    config = SimpleNamespace(get_property=props.__getitem__)
    values = read_values(args, config, FAKE_COLOURS)
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
    """Every filter in schema.json gets unique, valid arguments (registration cannot fail)."""
    specs = list(filters().values())
    assert specs, "schema.json has no filters"
    for spec in specs:
        args = arguments_for(spec)
        assert len({a.name for a in args}) == len(args)
        for a in args:
            if a.kind in ("double", "int"):
                assert a.min <= a.default <= a.max, (spec.id, a)
            if a.kind == "choice":
                assert a.default in a.choices, (spec.id, a)
