"""Test pictures with faces at known places: GENKI-4K crops pasted on textured canvases.

Used by the face-finder tests, benchmarks/faces.py and the detection sheet. A canvas is a
synthetic texture (smooth colour gradient, sinusoidal stripes, blobs and noise: no faces); each
face is a 64×64 GENKI crop upscaled (bicubic) to a random side and pasted at a random place that
does not overlap the others. GENKI-4K: "http://mplab.ucsd.edu, The MPLab GENKI-4K Dataset."

    from backend.evaluation.detection_canvases import textured_canvas, paste_faces
    canvas = textured_canvas(512, rng)                   # (H, W, 3) uint8
    canvas, squares = paste_faces(canvas, files, rng)    # squares: [(x0, y0, x1, y1)]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from backend.evaluation.genki_split import DEFAULT_ROOT

GENKI = DEFAULT_ROOT

Square = tuple[int, int, int, int]


def textured_canvas(size: int | tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A (H, W, 3) uint8 texture without faces: gradient + stripes + soft blobs + noise."""
    height, width = (size, size) if isinstance(size, int) else size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    yy, xx = yy / max(height, width), xx / max(height, width)
    base = rng.uniform(0.2, 0.8, 3)
    tilt = rng.uniform(-0.3, 0.3, (2, 3))
    img = base + xx[..., None] * tilt[0] + yy[..., None] * tilt[1]
    for _ in range(3):
        freq, angle, phase = rng.uniform(4, 40), rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
        wave = np.sin(2 * np.pi * freq * (xx * np.cos(angle) + yy * np.sin(angle)) + phase)
        img += 0.08 * wave[..., None] * rng.uniform(-1, 1, 3)
    for _ in range(12):
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.02, 0.15)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
        img += 0.3 * blob[..., None] * rng.uniform(-1, 1, 3)
    img += rng.normal(0, 0.03, img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def read_face(path: Path, side: int) -> np.ndarray:
    """A face crop upscaled to ``side`` × ``side`` (bicubic), (side, side, 3) uint8."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB").resize((side, side), Image.Resampling.BICUBIC))


def place(
    sides: Sequence[int], height: int, width: int, rng: np.random.Generator, gap: int = 8
) -> list[Square]:
    """Non-overlapping random squares of the given sides inside H × W (ValueError if no room)."""
    squares: list[Square] = []
    for side in sides:
        for _ in range(2000):
            x0 = int(rng.integers(0, width - side + 1))
            y0 = int(rng.integers(0, height - side + 1))
            cand = (x0, y0, x0 + side, y0 + side)
            if all(
                cand[0] >= s[2] + gap
                or s[0] >= cand[2] + gap
                or cand[1] >= s[3] + gap
                or s[1] >= cand[3] + gap
                for s in squares
            ):
                squares.append(cand)
                break
        else:
            raise ValueError(f"no room for a {side}px face in {width}x{height}")
    return squares


def paste_faces(
    canvas: np.ndarray,
    files: Sequence[Path],
    rng: np.random.Generator,
    sides: tuple[int, int] = (140, 260),
) -> tuple[np.ndarray, list[Square]]:
    """``canvas`` with each face of ``files`` pasted at a random side in ``sides`` (inclusive)."""
    out = canvas.copy()
    drawn = [int(rng.integers(sides[0], sides[1] + 1)) for _ in files]
    squares = place(drawn, out.shape[0], out.shape[1], rng)
    for path, (x0, y0, x1, y1) in zip(files, squares, strict=True):
        out[y0:y1, x0:x1] = read_face(path, x1 - x0)
    return out, squares


def genki_files(label: str = "non_smile", root: Path = GENKI) -> list[Path]:
    """Sorted GENKI crops of one label (FileNotFoundError when the data is absent)."""
    folder = root / label
    if not folder.is_dir():
        raise FileNotFoundError(f"GENKI-4K crops not found at {folder}")
    return sorted(folder.glob("*.jpg"))


def to_tensor(rgb: np.ndarray):  # returns a torch.Tensor (torch imported lazily)
    """(H, W, 3) uint8 → (1, 3, H, W) float32 in [0, 1]."""
    import torch

    return torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)[None].float() / 255.0
