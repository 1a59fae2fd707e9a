"""Image files ⇄ wire images for the CLI (the server never opens a path from a client)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from backend.errors import BadImage
from backend.serving.imaging import DTYPES, WireImage

SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"}


def read_image(path: Path) -> WireImage:
    """RGBA u8, or u16 for 16-bit greyscale files."""
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                grey = np.asarray(im, dtype=np.uint16)
                arr = np.stack([grey, grey, grey, np.full_like(grey, 65535)], axis=2)
                return _wire(arr.astype("<u2"), "u16", path)
            arr = np.asarray(im.convert("RGBA"), dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise BadImage(f"cannot read image {path}: {exc}") from None
    return _wire(arr, "u8", path)


def _wire(arr: np.ndarray, fmt: str, path: Path) -> WireImage:
    h, w = arr.shape[:2]
    return WireImage(w, h, fmt, np.ascontiguousarray(arr).tobytes(), name=path.stem)


def read_mask(path: Path, width: int, height: int) -> WireImage:
    """White = selected, grey = partially selected; must match the image's size."""
    try:
        with Image.open(path) as im:
            grey = np.asarray(im.convert("L"), dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise BadImage(f"cannot read mask {path}: {exc}") from None
    if grey.shape != (height, width):
        raise BadImage(
            f"mask {path} is {grey.shape[1]}x{grey.shape[0]} but the image is {width}x{height}"
        )
    return WireImage(width, height, "u8", grey.tobytes())


def write_image(path: Path, img: WireImage) -> None:
    """PNG/TIFF keep 8 bits per channel (u16/f32 are rounded to 8 bits, except 16-bit TIFF)."""
    arr = np.frombuffer(img.pixels, dtype=DTYPES[img.format]).reshape(img.height, img.width, 4)
    if img.format == "u16":
        arr8 = (arr.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif img.format == "f32":
        arr8 = (np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)
    else:
        arr8 = arr
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "RGB" if path.suffix.lower() in (".jpg", ".jpeg") else "RGBA"
    Image.fromarray(np.ascontiguousarray(arr8), "RGBA").convert(mode).save(path)
