"""What the plug-ins' batches and blocking calls share (session.layers, session.batch,
session.blocking, session.settings' files and form), against fake layer trees and documents."""

from __future__ import annotations

import json
from operator import itemgetter
from types import SimpleNamespace

import pytest

from nlf_client import FilterSpec, Layer, ParamSpec
from nlf_client.session import BlockingRun, Settings, UserError, layers, settings
from nlf_client.session.batch import folder_batch, layer_batch, suffixes
from nlf_client.session.pixels import wire_format
from tests.session.fake_document import FakeDocument

# a layer tree: (name, kind, children), children top first
TREE = (
    "root",
    "group",
    [
        ("Top", "paint", []),
        ("Mask", "mask", []),
        ("Group", "group", [("Inner", "paint", []), ("Inner mask", "mask", [])]),
        ("Empty", "group", []),
        ("Bottom", "paint", []),
    ],
)
NAME, KIND, CHILDREN = itemgetter(0), itemgetter(1), itemgetter(2)


def _names(nodes):
    return [NAME(n) for n in nodes]


def test_layer_lists_walk_any_tree_top_first_without_masks():
    labelled = layers.labelled(CHILDREN(TREE), CHILDREN, KIND, NAME)
    assert [label for label, _ in labelled] == ["Top", "Group", "Group / Inner", "Empty", "Bottom"]
    assert _names(layers.pixel_layers(CHILDREN(TREE), CHILDREN, KIND)) == ["Top", "Inner", "Bottom"]


def test_batch_targets_are_the_selected_layers_or_the_active_groups():
    group, empty, top, mask = (
        CHILDREN(TREE)[2],
        CHILDREN(TREE)[3],
        CHILDREN(TREE)[0],
        CHILDREN(TREE)[1],
    )
    pick = lambda mode, active, selected: layers.batch_targets(  # noqa: E731
        mode, active, selected, CHILDREN, KIND, NAME
    )
    assert _names(pick("selected", None, [top, mask, group])) == ["Top", "Group"]
    assert _names(pick("children", group, [])) == ["Inner"]
    with pytest.raises(UserError, match="select one or more layers"):
        pick("selected", top, [mask])
    with pytest.raises(UserError, match="make a group layer active"):
        pick("children", top, [])
    with pytest.raises(UserError, match="group 'Empty' has no layers"):
        pick("children", empty, [])


SPEC = FilterSpec(
    "demo",
    "Demo",
    params=(ParamSpec("amount", "float", "Amount", 1.0), ParamSpec("guide", "layer", "Guide")),
)


def test_a_layer_batch_finds_its_layer_parameters_and_leaves_them_out():
    found = {"Top": CHILDREN(TREE)[0]}
    all_pixels = layers.pixel_layers(CHILDREN(TREE), CHILDREN, KIND)
    spec, values, targets = layer_batch(
        {"demo": SPEC}, "demo", '{"amount": 2, "guide": "Top"}', all_pixels, found.get, NAME
    )
    assert spec is SPEC and values == {"amount": 2.0, "guide": found["Top"]}
    assert _names(targets) == ["Inner", "Bottom"]
    with pytest.raises(ValueError, match="unknown filter 'x'"):
        layer_batch({"demo": SPEC}, "x", "{}", all_pixels, found.get, NAME)


def test_a_folder_batch_takes_no_layer_parameters_and_lists_its_file_types():
    assert folder_batch({"demo": SPEC}, "demo", '{"amount": 3}') == (SPEC, {"amount": 3.0})
    with pytest.raises(ValueError, match="layer parameters cannot be used in a folder batch"):
        folder_batch({"demo": SPEC}, "demo", '{"guide": "Top"}')
    assert suffixes(" png, .JPG,, tif ") == ["png", ".JPG", "tif"]


def test_pixel_depths_of_both_editors_have_a_wire_format():
    assert [wire_format(d) for d in ("U8", "U16", "F16", "F32")] == ["u8", "u16", "f32", "f32"]
    assert wire_format("GIMP_PRECISION_U16_LINEAR") == "u16"
    assert wire_format("half-perceptual") == wire_format("DOUBLE_NON_LINEAR") == "f32"
    with pytest.raises(ValueError, match="unsupported pixel precision"):
        wire_format("U64_LINEAR")


def test_settings_files_later_win_and_a_saved_form_says_what_went_wrong(tmp_path):
    first, second = tmp_path / "install.json", tmp_path / "user.json"
    first.write_text(json.dumps({"python": "/opt/py", "address": "a:1"}))
    second.write_text(json.dumps({"address": "b:2", "autostart": "false"}))
    s = settings.load_files([str(first), str(second), str(tmp_path / "missing.json")], env={})
    assert (s.python, s.address, s.autostart) == ("/opt/py", "b:2", False)
    assert settings.load_files([str(second)], env={"NLF_SERVER": "c:3"}).address == "c:3"
    assert settings.FORM_SPEC.params == settings.FORM
    kept = []
    write = lambda changes: kept.append(dict(changes)) or "where"  # noqa: E731
    assert settings.save_form(lambda: {"address": "h:1", "autostart": True}, write) == ""
    assert kept == [{"address": "h:1", "autostart": True}]

    def unwritable(changes):
        raise PermissionError("read-only profile")

    assert settings.save_form(lambda: {"address": "h:1"}, unwritable) == (
        "Settings: could not save them: read-only profile"
    )
    wrong = settings.save_form(lambda: {"address": ""}, write)
    assert wrong.startswith("Settings: ") and len(kept) == 1


class _Bar:
    def __init__(self):
        self.texts, self.fractions = [], []


def _blocking(address="127.0.0.1:1"):
    bar = _Bar()
    run = BlockingRun(
        "Demo",
        Settings(address=address, autostart=False, connect_timeout=0.3),
        "Filters > Settings",
        "",
        bar.texts.append,
        bar.fractions.append,
        lambda: bar.texts.append("pulse"),
    )
    return run, bar


def test_a_blocking_call_turns_every_failure_into_words():
    run, _ = _blocking()
    assert run.attempt(lambda r: None) == ""
    lost = run.attempt(lambda r: r.client())
    assert "set its address in Filters > Settings" in lost and lost.endswith("[UNAVAILABLE]")
    assert run.attempt(lambda r: 1 / 0) == "Demo: ZeroDivisionError: division by zero [INTERNAL]"

    def no_layer(r):
        raise UserError("no layer")

    assert run.attempt(no_layer) == "Demo: no layer"
    assert run._client is None  # the link is closed after every call


def test_a_blocking_folder_goes_past_bad_files_and_names_them():
    run, bar = _blocking()
    seen = []

    def one(path, report):
        seen.append(path)
        report(SimpleNamespace(fraction=1.0, queue_position=-1, message="done", stage=""))
        if path.endswith("b.png"):
            raise UserError("GIMP could not open it")

    with pytest.raises(UserError, match=r"Wrote 1 image\(s\) to out; 1 failed; b.png: GIMP could"):
        run.each_file(["in/a.png", "in/b.png"], "out", one)
    assert seen == ["in/a.png", "in/b.png"] and bar.texts[0] == "Demo: 1 of 2: done"


def test_a_blocking_run_adds_named_layers_above_the_source(live_server, client):
    spec = next(f for f in client.list_filters() if f.id == "test_invert")
    run, bar = _blocking(live_server.address)
    doc = FakeDocument({"bg": Layer(bytes([10, 10, 10, 255]) * 8, 4, 2, name="Background")})
    (name,) = run.run_on(doc, spec, {"amount": 0.5}, "bg")
    assert name == "[NLF] Invert (test) amount=0.5" and doc.stack == ["bg", name]
    assert bar.fractions and bar.fractions[-1] == 1.0 and bar.texts[-1].startswith("Demo: ")
