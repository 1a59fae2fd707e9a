"""document.py against a fake GIMP: formats, selection, result layers in one undo group."""

from __future__ import annotations

import importlib
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from nlf_client.api import FilterSpec, Layer, ParamSpec, RunResult
from nlf_client.session import execute, finish, prepare
from tests.gimp import fake_gi

PRECISIONS = {
    "U8": "u8",
    "U16": "u16",
    "U32": "f32",
    "HALF": "f32",
    "FLOAT": "f32",
    "DOUBLE": "f32",
}


@pytest.fixture
def doc(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    fake_gi.install(monkeypatch)
    return importlib.import_module("nlf_gimp.document")


def _image_with_source(precision: str = "GIMP_PRECISION_U8_NON_LINEAR", size: int = 32) -> tuple:
    image = fake_gi.Image(precision)
    src = fake_gi.Item(image, "bg", 4, 2, x=3, y=5, pixels=b"\x10" * size)
    image.layers.append(src)
    return image, src


def _result(name: str) -> Layer:
    return Layer(b"\x01" * 32, 4, 2, "u8", 3, 5, name)


def test_results_go_above_the_source_in_one_undo_group(doc: ModuleType) -> None:
    """All inserts happen between one undo_group_start/end; first result ends up on top."""
    image, src = _image_with_source()
    created = doc.GimpDocument(image, src).insert(src, [_result("a"), _result("b")], ["A", "B"])
    kinds = [
        e[0] for e in image.events if e[0] in ("undo_group_start", "undo_group_end", "insert_layer")
    ]
    assert kinds == ["undo_group_start", "insert_layer", "insert_layer", "undo_group_end"]
    assert [lay.name for lay in image.layers] == ["A", "B", "bg"]
    assert [lay.name for lay in created] == ["A", "B"]
    assert all((lay.x, lay.y) == (3, 5) for lay in created)
    assert src.buffer.data == b"\x10" * 32


@pytest.mark.parametrize(("base", "kind"), [("RGB", "RGBA_IMAGE"), ("GRAY", "GRAYA_IMAGE")])
def test_result_layers_match_the_image_mode(doc: ModuleType, base: str, kind: str) -> None:
    """A grayscale image gets grayscale result layers (GIMP refuses RGB layers there)."""
    image = fake_gi.Image(base=base)
    src = fake_gi.Item(image, "bg", 4, 2, x=3, y=5, pixels=b"\x10" * 32)
    image.layers.append(src)
    (new,) = doc.GimpDocument(image, src).insert(src, [_result("a")], ["A"])
    assert new.image_type == kind


def test_undo_group_is_closed_when_writing_fails(doc: ModuleType) -> None:
    """A failure while inserting still ends the undo group (GIMP never keeps one open)."""
    image, src = _image_with_source()
    image.fail_set_on_new = True
    with pytest.raises(RuntimeError):
        doc.GimpDocument(image, src).insert(src, [_result("a")], ["A"])
    assert image.events[-1] == ("undo_group_end",)
    assert image.events.count(("undo_group_start",)) == 1


@pytest.mark.parametrize("depth", sorted(PRECISIONS))
@pytest.mark.parametrize("trc", ["LINEAR", "NON_LINEAR", "PERCEPTUAL"])
def test_every_gimp_precision_has_a_wire_format(doc: ModuleType, depth: str, trc: str) -> None:
    """All 18 GIMP precisions map to u8, u16 or f32 whatever their TRC, in any spelling."""
    assert doc.wire_format(f"GIMP_PRECISION_{depth}_{trc}") == PRECISIONS[depth]
    assert doc.wire_format(f"{depth}_{trc}".lower().replace("_", "-")) == PRECISIONS[depth]
    with pytest.raises(ValueError, match="precision"):
        doc.wire_format("GIMP_PRECISION_U64_LINEAR")


@pytest.mark.parametrize(
    ("precision", "babl", "wire"),
    [
        ("GIMP_PRECISION_U8_NON_LINEAR", "R'G'B'A u8", "u8"),
        ("GIMP_PRECISION_U16_LINEAR", "R'G'B'A u16", "u16"),
        ("GIMP_PRECISION_HALF_PERCEPTUAL", "R'G'B'A float", "f32"),
    ],
)
def test_layer_is_read_at_its_precision(
    doc: ModuleType, precision: str, babl: str, wire: str
) -> None:
    """The drawable is read in the perceptual babl format of its precision, with its offset."""
    image, src = _image_with_source(precision)
    layer = doc.GimpDocument(image, src).read(src)
    assert (layer.format, layer.x, layer.y, layer.name) == (wire, 3, 5, "bg")
    assert ("get", babl, (0, 0, 4, 2)) in image.events


def test_selection_mask_over_the_layer_rectangle(doc: ModuleType) -> None:
    """The mask is read in image coordinates over the layer; feathered values are kept."""
    image, src = _image_with_source()
    gdoc = doc.GimpDocument(image, src)
    assert gdoc.selection() is None  # no selection: the whole layer
    image.mask = bytes([0, 10, 128, 255, 255, 255, 255, 0])
    mask = gdoc.selection()
    assert mask.pixels == image.mask and (mask.width, mask.height) == (4, 2)
    assert ("get", "Y u8", (3, 5, 4, 2)) in image.events
    image.mask = b"\xff" * 8
    assert gdoc.selection() is None
    image.mask = b"\x00" * 8
    with pytest.raises(doc.UserError, match="does not overlap"):
        gdoc.selection()


def test_a_run_sends_layer_parameters_at_the_source_format(doc: ModuleType) -> None:
    """Through the session core: a layer parameter travels in the source's format; the named
    results go above the source, which is never written."""
    image, src = _image_with_source("GIMP_PRECISION_U16_NON_LINEAR", size=64)
    style = fake_gi.Item(image, "paper", 2, 2, pixels=b"\x20" * 32)
    spec = FilterSpec(
        "mrf", "MRF", params=(ParamSpec("a", "float", "A", 2.0), ParamSpec("style", "layer", "S"))
    )
    calls: list[Any] = []

    def run(fid, layer, mask, params, extras, *rest):
        calls.append((fid, layer, mask, params, extras))
        return RunResult([Layer(b"\x00" * 64, 4, 2, "u16", 3, 5, "out")])

    gdoc = doc.GimpDocument(image, src)
    job = prepare(gdoc, spec, {"a": 1.0, "style": style}, src)
    created = finish(gdoc, job, execute(SimpleNamespace(run=run), job))
    fid, layer, mask, params, extras = calls[0]
    assert (fid, layer.format, mask, params) == ("mrf", "u16", None, {"a": 1.0})
    assert extras["style"].format == "u16" and extras["style"].name == "paper"
    assert [lay.name for lay in created] == ["[NLF] MRF a=1 style=paper"]
    assert src.buffer.data == b"\x10" * 64
    assert not [e for e in image.events if e[0] == "set" and e[2] == (0, 0, 4, 2)][1:]


def test_groups_and_channels_are_refused(doc: ModuleType) -> None:
    """Only pixel layers are filtered, with a message saying what to pick."""
    image = fake_gi.Image()
    with pytest.raises(doc.UserError, match="group"):
        doc.GimpDocument(image, fake_gi.Item(image, "g", 1, 1, group=True))
    with pytest.raises(doc.UserError, match="not a layer"):
        doc.GimpDocument(image, fake_gi.Item(image, "c", 1, 1, layer=False))
