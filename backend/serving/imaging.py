"""Wire pixels ⇄ arrays/tensors, the selection crop, and compositing through the selection.

Every filter's output goes through :func:`composite`, which writes only where the selection
covers the layer: pixels outside it are copied byte for byte from the input, and alpha is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from backend.errors import BadImage

DTYPES = {"u8": np.dtype("<u1"), "u16": np.dtype("<u2"), "f32": np.dtype("<f4")}
SCALE = {"u8": 255.0, "u16": 65535.0, "f32": 1.0}
DEFAULT_MAX_PIXELS = 8192 * 8192


@dataclass(frozen=True)
class WireImage:
    """An RGBA layer as it travels: straight colour, row-major, little-endian."""

    width: int
    height: int
    format: str
    pixels: bytes | bytearray | memoryview = field(repr=False)
    x: int = 0
    y: int = 0
    name: str = ""
    changed: tuple[int, int] | None = field(default=None, repr=False)
    """For a result blended in place over the input layer's bytes: the byte range it may
    differ in; outside it the bytes are the input's (so their checksums still hold)."""

    @property
    def expected_size(self) -> int:
        return self.width * self.height * 4 * DTYPES[self.format].itemsize


@dataclass(frozen=True)
class Rect:
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


def check_size(what: str, width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise BadImage(f"{what} is {width}x{height}; width and height must be at least 1")
    if width * height > max_pixels:
        side = int(math.sqrt(max_pixels))
        raise BadImage(
            f"{what} is {width}x{height} = {width * height} pixels, more than this server's "
            f"maximum of {max_pixels} (about {side}x{side}); select a smaller region or start "
            "the server with a larger --max-pixels"
        )


def check_image(what: str, img: WireImage, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Validate a wire image and return its pixels as an (H, W, 4) array view (no copy)."""
    if img.format not in DTYPES:
        raise BadImage(f"{what} has unknown pixel format '{img.format}'; use u8, u16 or f32")
    check_size(what, img.width, img.height, max_pixels)
    if len(img.pixels) != img.expected_size:
        raise BadImage(
            f"{what} carries {len(img.pixels)} bytes but {img.width}x{img.height} RGBA "
            f"{img.format} needs {img.expected_size}"
        )
    arr = np.frombuffer(img.pixels, dtype=DTYPES[img.format]).reshape(img.height, img.width, 4)
    if img.format == "f32" and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise BadImage(
            f"{what} has a non-finite value ({arr[tuple(bad)]}) at x={bad[1]}, y={bad[0]}"
        )
    return arr


def check_mask(mask: WireImage | None, layer: WireImage) -> np.ndarray | None:
    """Validate an 8-bit mask of the layer's size; return it as (H, W) uint8 or None."""
    if mask is None:
        return None
    if (mask.width, mask.height) != (layer.width, layer.height):
        raise BadImage(
            f"the selection mask is {mask.width}x{mask.height} but the layer is "
            f"{layer.width}x{layer.height}; they must match"
        )
    if len(mask.pixels) != mask.width * mask.height:
        raise BadImage(
            f"the selection mask carries {len(mask.pixels)} bytes but {mask.width}x{mask.height} "
            f"8-bit needs {mask.width * mask.height}"
        )
    return np.frombuffer(mask.pixels, dtype=np.uint8).reshape(mask.height, mask.width)


def selection_rect(mask: np.ndarray | None, width: int, height: int) -> Rect:
    """Bounding box of the selected pixels (the whole layer when there is no mask)."""
    if mask is None:
        return Rect(0, 0, width, height)
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        raise BadImage("the selection does not cover any pixel of this layer")
    cols = np.flatnonzero(mask.any(axis=0))
    return Rect(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def expand(rect: Rect, margin: int, width: int, height: int) -> Rect:
    """``rect`` grown by ``margin`` on every side, clipped to the layer."""
    return Rect(
        max(0, rect.x0 - margin),
        max(0, rect.y0 - margin),
        min(width, rect.x1 + margin),
        min(height, rect.y1 + margin),
    )


def to_unit(arr: np.ndarray, fmt: str) -> np.ndarray:
    """Wire values → float32 in [0, 1] (f32 values are clipped to that range)."""
    out = arr.astype(np.float32)
    if fmt == "f32":
        return np.clip(out, 0.0, 1.0, out=out)
    return out * np.float32(1.0 / SCALE[fmt])


def from_unit(arr: np.ndarray, fmt: str) -> np.ndarray:
    """float in [0, 1] → wire values (integers rounded to nearest)."""
    if fmt == "f32":
        return arr.astype(DTYPES[fmt])
    scaled = np.clip(arr, 0.0, 1.0) * SCALE[fmt] + 0.5
    return scaled.astype(DTYPES[fmt])


def to_tensor(arr: np.ndarray) -> Tensor:
    """(H, W, C) float32 array → (1, C, H, W) tensor."""
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).unsqueeze(0).contiguous()


def from_tensor(t: Tensor) -> np.ndarray:
    """(1, C, H, W) tensor → (H, W, C) float32 array."""
    return t.detach().to("cpu", torch.float32).squeeze(0).permute(1, 2, 0).numpy()


def composite(
    layer: np.ndarray,
    fmt: str,
    mask: np.ndarray | None,
    crop: Rect,
    result: np.ndarray,
    in_place: bool = False,
) -> np.ndarray:
    """Blend ``result`` (crop-sized (h, w, 3) float in [0, 1]) into a copy of ``layer``.

    Only pixels the selection covers change (blended by coverage); the others keep their exact
    input bytes, and the alpha channel is the input's everywhere. ``in_place``: blend into
    ``layer`` itself (its bytes are then the result; only the crop is written).
    """
    out = layer if in_place else layer.copy()
    region = out[crop.y0 : crop.y1, crop.x0 : crop.x1]
    original = to_unit(region[..., :3], fmt)
    if mask is None:
        cover = np.ones(region.shape[:2], dtype=np.float32)
    else:
        cover = mask[crop.y0 : crop.y1, crop.x0 : crop.x1].astype(np.float32) / 255.0
    weight = cover[..., None]
    blended = original * (1.0 - weight) + np.clip(result, 0.0, 1.0) * weight
    encoded = from_unit(blended, fmt)
    inside = cover > 0
    rgb = region[..., :3]
    rgb[inside] = encoded[inside]
    return out


def sticker(
    layer: np.ndarray, fmt: str, crop: Rect, rgb: np.ndarray, alpha: np.ndarray
) -> np.ndarray:
    """A new layer shaped like ``layer``: transparent, but for ``rgb`` (crop-sized (h, w, 3)) with
    ``alpha`` ((h, w, 1)) inside ``crop``. The input layer is not read beyond its shape."""
    out = np.zeros_like(layer)
    region = out[crop.y0 : crop.y1, crop.x0 : crop.x1]
    region[..., :3] = from_unit(np.clip(rgb, 0.0, 1.0), fmt)
    region[..., 3:] = from_unit(np.clip(alpha, 0.0, 1.0), fmt)
    return out


def preview_rgba8(image: Tensor, max_side: int = 256) -> tuple[int, int, bytes]:
    """A small RGBA u8 preview of a (1, 3, H, W) tensor in [0, 1]."""
    h, w = image.shape[-2:]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        image = torch.nn.functional.interpolate(
            image.detach().float(), size=size, mode="bilinear", antialias=True, align_corners=False
        )
    rgb = (from_tensor(image).clip(0, 1) * 255 + 0.5).astype(np.uint8)
    alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
    rgba = np.concatenate([rgb, alpha], axis=2)
    return rgba.shape[1], rgba.shape[0], rgba.tobytes()
