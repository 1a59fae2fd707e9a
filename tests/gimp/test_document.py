"""document.py against a fake GIMP: undo group, layer order, formats, masks (no GIMP)."""

from __future__ import annotations

import importlib
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from nlf_client.api import Layer, RunResult
from tests.gimp import fake_gi


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
    created = doc.insert_results(image, src, [_result("A"), _result("B")])
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
    (new,) = doc.insert_results(image, src, [_result("A")])
    assert new.image_type == kind


def test_undo_group_is_closed_when_writing_fails(doc: ModuleType) -> None:
    """A failure while inserting still ends the undo group (GIMP never keeps one open)."""
    image, src = _image_with_source()
    image.fail_set_on_new = True
    with pytest.raises(RuntimeError):
        doc.insert_results(image, src, [_result("A")])
    assert image.events[-1] == ("undo_group_end",)
    assert image.events.count(("undo_group_start",)) == 1


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
    """The drawable is read with the babl format of its precision and keeps its offset."""
    image, src = _image_with_source(precision)
    fmt = doc.drawable_format(src)
    layer = doc.read_layer(src, fmt)
    assert fmt == wire and (layer.format, layer.x, layer.y, layer.name) == (wire, 3, 5, "bg")
    assert ("get", babl, (0, 0, 4, 2)) in image.events


def test_selection_mask_over_the_layer_rectangle(doc: ModuleType) -> None:
    """The mask is read in image coordinates over the layer; feathered values are kept."""
    image, src = _image_with_source()
    assert doc.read_mask(image, src) is None  # no selection: the whole layer
    image.mask = bytes([0, 10, 128, 255, 255, 255, 255, 0])
    mask = doc.read_mask(image, src)
    assert mask.pixels == image.mask and (mask.width, mask.height) == (4, 2)
    assert ("get", "Y u8", (3, 5, 4, 2)) in image.events
    image.mask = b"\xff" * 8
    assert doc.read_mask(image, src) is None
    image.mask = b"\x00" * 8
    with pytest.raises(doc.UserError, match="does not overlap"):
        doc.read_mask(image, src)


def test_run_on_drawable_sends_extras_at_the_same_format(doc: ModuleType) -> None:
    """Layer parameters travel in the source's format; results are inserted, source untouched."""
    image, src = _image_with_source("GIMP_PRECISION_U16_NON_LINEAR", size=64)
    style = fake_gi.Item(image, "style", 2, 2, pixels=b"\x20" * 32)
    calls: list[Any] = []

    def run(fid, layer, mask, values, extras, on_progress=None):
        calls.append((fid, layer, mask, values, extras))
        return RunResult([Layer(b"\x00" * 64, 4, 2, "u16", 3, 5, "out")])

    spec = SimpleNamespace(id="mrf")
    created = doc.run_on_drawable(
        SimpleNamespace(run=run), spec, image, src, {"a": 1.0}, {"style": style}
    )
    fid, layer, mask, values, extras = calls[0]
    assert (fid, layer.format, mask, values) == ("mrf", "u16", None, {"a": 1.0})
    assert extras["style"].format == "u16" and extras["style"].name == "style"
    assert [lay.name for lay in created] == ["out"]
    assert src.buffer.data == b"\x10" * 64
    assert not [e for e in image.events if e[0] == "set" and e[2] == (0, 0, 4, 2)][1:]


def test_groups_and_channels_are_refused(doc: ModuleType) -> None:
    """Only pixel layers are filtered, with a message saying what to pick."""
    image = fake_gi.Image()
    with pytest.raises(doc.UserError, match="group"):
        doc.check_source(fake_gi.Item(image, "g", 1, 1, group=True))
    with pytest.raises(doc.UserError, match="not a layer"):
        doc.check_source(fake_gi.Item(image, "c", 1, 1, layer=False))
