"""The session core's texts: messages, names, the schema snapshot, colours and pixels."""

from __future__ import annotations

import struct

import pytest

from nlf_client import (
    BackendError,
    Colour,
    FilterSpec,
    FilterStatus,
    Layer,
    Missing,
    ParamSpec,
    Status,
)
from nlf_client.session import (
    colour_hex,
    convert,
    describe,
    downscale,
    file_names,
    filter_from_json,
    filter_to_json,
    image_files,
    layer_name,
    load_schema,
    output_paths,
    parse_colour,
    rgba8,
    schema_to_json,
    status_line,
)


@pytest.mark.parametrize(
    "code,needle",
    [
        ("UNAVAILABLE", "cannot reach the Neural Layer Filters backend at 127.0.0.1:9"),
        ("FAILED_PRECONDITION", "needs something installed first"),
        ("NOT_FOUND", "does not know this filter"),
        ("RESOURCE_EXHAUSTED", "busy or out of memory"),
        ("UNAUTHENTICATED", "refused the token"),
        ("INVALID_ARGUMENT", "DFI: SERVER SAYS"),
        ("INTERNAL", "SERVER SAYS"),
    ],
)
def test_each_failure_keeps_the_server_words_and_ends_with_its_code(code, needle):
    text = describe(BackendError(code, "SERVER SAYS"), "DFI", "127.0.0.1:9", "the docker")
    assert needle in text and "SERVER SAYS" in text and text.endswith("[%s]" % code)
    assert text.startswith("DFI: ")


def test_unavailable_names_the_serve_command_and_the_settings_place():
    text = describe(BackendError("UNAVAILABLE", "no answer"), "Backend", "h:1", "Settings tab")
    assert "'python -m backend serve'" in text and "Settings tab" in text
    cancelled = describe(BackendError("CANCELLED", "after 1 of 3"), "DFI", "h:1")
    assert cancelled == "Cancelled DFI (after 1 of 3); nothing else was changed."
    run = describe(BackendError("INTERNAL", "boom"), "DFI", "h:1", run=True)
    assert run == "DFI: boom [INTERNAL] The image was not changed."


def test_status_line_says_ready_busy_or_what_is_missing():
    missing = FilterStatus("dfi", False, (Missing("weights vgg16", "python -m backend weights"),))
    busy = Status("0.1", 1, "cpu", "", 0, 0, 2, (missing, FilterStatus("x", True)))
    assert status_line(busy) == "Backend busy, 2 job(s) queued (cpu)"
    text = status_line(busy, "dfi")
    assert text.endswith("This filter needs weights vgg16: run python -m backend weights")
    assert status_line(Status("0.1", 1, "cuda", "H200", 0, 0, 0), "x") == "Backend ready (H200)"


SPEC = FilterSpec(
    "mrf",
    "MRF",
    params=(
        ParamSpec("style", "layer", "Style", required=True),
        ParamSpec("mode", "choice", "Mode", "fast", choices=("fast", "best")),
        ParamSpec("steps", "int", "Steps", 100),
        ParamSpec("keep", "bool", "Keep", False),
        ParamSpec("ink", "colour", "Ink", Colour(0, 0, 0)),
    ),
)


def test_layer_names_show_choices_changed_values_and_layers():
    values = {"mode": "best", "steps": 100, "keep": True, "ink": Colour(1, 0.5, 0)}
    name = layer_name(SPEC, values, {"style": "Van Gogh"})
    assert name == "[NLF] MRF style=Van Gogh best keep=on ink=#ff8000"
    assert layer_name(SPEC, {}, {}, "second", 2) == "[NLF] MRF fast (second)"
    long = layer_name(SPEC, {"mode": "x" * 200})
    assert len(long) == 96 and long.endswith("…")


def test_one_file_naming_scheme(tmp_path):
    assert file_names("cat", "dfi", 1) == ["cat.dfi.png"]
    assert file_names("cat", "dfi", 2) == ["cat.dfi.1.png", "cat.dfi.2.png"]
    assert output_paths("/in/cat.jpg", "/out", "dfi", 1) == ["/out/cat.dfi.png"]
    for name in ("b.PNG", "a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "dir.png").mkdir()
    assert [p.rsplit("/", 1)[1] for p in image_files(str(tmp_path))] == ["a.jpg", "b.PNG"]
    assert len(image_files(str(tmp_path), ["png"])) == 1


def test_schema_snapshot_round_trips(tmp_path):
    doc = schema_to_json([SPEC], 1)
    assert doc["filters"][0]["params"][4]["default"] == "#000000ff"
    path = tmp_path / "schema.json"
    import json

    path.write_text(json.dumps(doc))
    (again,) = load_schema(str(path))
    assert filter_to_json(again) == filter_to_json(filter_from_json(doc["filters"][0]))
    assert again.params[:4] == SPEC.params[:4] and again.params[4].default == "#000000ff"
    assert load_schema(str(tmp_path / "missing.json")) == []


def test_colours_parse_and_print():
    assert parse_colour("#ff000080") == Colour(1.0, 0.0, 0.0, 128 / 255)
    assert parse_colour(None) == Colour(0, 0, 0, 1) and parse_colour("00ff00").g == 1.0
    for bad in ("#12345", "#gg0000"):
        with pytest.raises(ValueError, match="not #RRGGBB"):
            parse_colour(bad)
    assert colour_hex(Colour(1.2, 0.5, 0, 1)) == "#ff8000ff"
    assert colour_hex(Colour(0, 0, 1), alpha=False) == "#0000ff"


def test_pixels_convert_between_formats_and_downscale():
    assert convert(bytes([10, 20, 30, 255]), "u8", "u8", swap=True) == bytes([30, 20, 10, 255])
    assert struct.unpack("<4H", convert(bytes([255, 0, 51, 255]), "u8", "u16")) == (
        65535, 0, 13107, 65535,
    )  # fmt: skip
    assert convert(struct.pack("<4f", 1.5, 0.5, -1, 1), "f32", "u8") == bytes([255, 128, 0, 255])
    half = convert(struct.pack("<4f", 1e6, 0.5, 0, 1), "f32", "f16")
    assert struct.unpack("<4e", half) == (65504.0, 0.5, 0.0, 1.0)
    with pytest.raises(ValueError, match="u32"):
        convert(b"", "u32", "u8")
    layer = Layer(struct.pack("<4H", 65535, 0, 0, 65535) * 8, 4, 2, "u16")
    assert rgba8(layer)[:4] == bytes([255, 0, 0, 255])
    small, mask = downscale(layer, None, 2)
    assert (small.width, small.height, small.format, mask) == (2, 1, "u16", None)
