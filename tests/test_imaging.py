"""Wire formats, the selection crop and bit-identical compositing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.errors import BadImage
from backend.serving import imaging
from backend.serving.imaging import Rect, WireImage


@pytest.mark.parametrize("fmt", ["u8", "u16", "f32"])
def test_unit_round_trip(fmt: str) -> None:
    """Wire → [0, 1] → wire is exact for every format."""
    rng = np.random.default_rng(0)
    if fmt == "f32":
        arr = rng.random((5, 7, 4), dtype=np.float32)
    else:
        top = 255 if fmt == "u8" else 65535
        arr = rng.integers(0, top + 1, (5, 7, 4)).astype(imaging.DTYPES[fmt])
    assert np.array_equal(imaging.from_unit(imaging.to_unit(arr, fmt), fmt), arr)


def test_selection_rect_and_margin() -> None:
    """The crop is the selection's bounding box plus the margin, clipped to the layer."""
    mask = np.zeros((20, 30), np.uint8)
    mask[5:8, 2:10] = 1
    r = imaging.selection_rect(mask, 30, 20)
    assert r == Rect(2, 5, 10, 8)
    assert imaging.expand(r, 4, 30, 20) == Rect(0, 1, 14, 12)


@settings(max_examples=60, deadline=None)
@given(
    fmt=st.sampled_from(["u8", "u16", "f32"]),
    seed=st.integers(0, 2**16),
    w=st.integers(1, 12),
    h=st.integers(1, 12),
)
def test_composite_outside_is_bit_identical(fmt: str, seed: int, w: int, h: int) -> None:
    """Whatever the filter returns, unselected pixels and all alpha keep their input bytes."""
    rng = np.random.default_rng(seed)
    layer = rng.random((h, w, 4)) * (255 if fmt == "u8" else 65535 if fmt == "u16" else 1)
    layer = layer.astype(imaging.DTYPES[fmt])
    mask = (rng.random((h, w)) * 256).astype(np.uint8) * (rng.random((h, w)) > 0.5)
    result = rng.random((h, w, 3)).astype(np.float32) * 3 - 1  # even out-of-range output
    out = imaging.composite(layer, fmt, mask, Rect(0, 0, w, h), result[:h, :w])
    outside = mask == 0
    assert out[outside].tobytes() == layer[outside].tobytes()
    assert out[..., 3].tobytes() == layer[..., 3].tobytes()


def test_bad_images_are_explained() -> None:
    """Wrong byte counts, sizes, formats and NaN each get their own message."""
    with pytest.raises(BadImage, match="needs 16"):
        imaging.check_image("the layer", WireImage(2, 2, "u8", b"\0" * 15))
    with pytest.raises(BadImage, match="at least 1"):
        imaging.check_image("the layer", WireImage(0, 5, "u8", b""))
    with pytest.raises(BadImage, match="u8, u16 or f32"):
        imaging.check_image("the layer", WireImage(1, 1, "u4", b"\0\0"))
    with pytest.raises(BadImage, match="maximum"):
        imaging.check_image("the layer", WireImage(100, 100, "u8", b""), max_pixels=99)
    nan = np.array([0, np.inf, 0, 1], "<f4").tobytes()
    with pytest.raises(BadImage, match="non-finite"):
        imaging.check_image("the layer", WireImage(1, 1, "f32", nan))
