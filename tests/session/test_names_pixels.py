"""Layer names and pixel helpers of the session core (moved here from the Krita plug-in's tests)."""

from __future__ import annotations

import struct

from nlf_client import Colour, FilterSpec, Layer, Mask, ParamSpec
from nlf_client.session import downscale, layer_name, rgba8

SPEC = FilterSpec(
    "dfi",
    "Deep Feature Interpolation",
    params=(
        ParamSpec("attribute", "choice", "Attribute", "smile", choices=("smile", "old")),
        ParamSpec("strength", "float", "Strength", 1.0),
        ParamSpec("iters", "int", "Iterations", 50),
        ParamSpec("keep", "bool", "Keep colours", False),
        ParamSpec("tint", "colour", "Tint", Colour(1, 0, 0, 1)),
        ParamSpec("style", "layer", "Style"),
    ),
)


def test_layer_name_shows_filter_choices_and_changed_params():
    """The name is "[NLF] <filter> <choices> <params that differ from defaults>"."""
    assert layer_name(SPEC, SPEC.defaults()) == "[NLF] Deep Feature Interpolation smile"
    values = dict(SPEC.defaults(), attribute="old", strength=2.5, keep=True)
    values["tint"] = Colour(0, 0, 1, 1)
    name = layer_name(SPEC, values, {"style": "Paper"})
    assert name == (
        "[NLF] Deep Feature Interpolation old strength=2.5 keep=on tint=#0000ff style=Paper"
    )


def test_layer_name_names_each_of_several_results_and_stays_short():
    """Several results get the backend's name appended; long names are cut."""
    assert layer_name(SPEC, {}, result_name="map", count=2).endswith("smile (map)")
    long = dict(SPEC.defaults(), attribute="x" * 200)
    assert len(layer_name(SPEC, long)) == 96


def test_downscale_keeps_format_and_samples_layer_and_mask_alike():
    """Previews shrink the layer and the mask with the same nearest-neighbour grid."""
    w, h = 8, 4
    px = b"".join(struct.pack("<4H", x, y, 7, 65535) for y in range(h) for x in range(w))
    mask = Mask(bytes(10 * x + y for y in range(h) for x in range(w)), w, h)
    small, small_mask = downscale(Layer(px, w, h, "u16"), mask, 4)
    assert (small.width, small.height, small.format) == (4, 2, "u16")
    got = [struct.unpack("<4H", small.pixels[i : i + 8])[:2] for i in range(0, 64, 8)]
    assert got == [(1, 1), (3, 1), (5, 1), (7, 1), (1, 3), (3, 3), (5, 3), (7, 3)]
    assert list(small_mask.pixels) == [10 * x + y for x, y in got]
    same, _ = downscale(Layer(px, w, h, "u16"), None, 8)
    assert same.pixels == px


def test_rgba8_converts_any_wire_format_for_display():
    """u16 and f32 layers become 8-bit RGBA (rounded, clamped) for previews and files."""
    assert rgba8(Layer(struct.pack("<4H", 65535, 0, 32768, 65535), 1, 1, "u16")) == bytes(
        [255, 0, 128, 255]
    )
    assert rgba8(Layer(struct.pack("<4f", 2.0, -1.0, 0.5, 1.0), 1, 1, "f32")) == bytes(
        [255, 0, 128, 255]
    )
