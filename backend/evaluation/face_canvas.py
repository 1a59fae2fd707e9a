"""Test scenes for face edits: faces pasted on textured canvases with loose rectangular selections.

The DFI quality protocol (docs/quality-dfi.md) measures edits on inputs like a user's: a face of
random size at a random place on a 512² background, and a rough box dragged around it with
different margins on each side. Everything here is numpy + Pillow and seeded by the caller's
``numpy.random.Generator``, so a seed gives the same scenes on every machine.

Backgrounds are synthetic (:func:`texture`): coloured multi-octave value noise ("clouds"), on
half of them with sinusoidal stripes of random period and direction, plus fine grain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

CANVAS = 512
FACE_SIZES = (140, 260)
"""Side of a pasted face square in pixels (uniform, inclusive)."""
MULTI_FACE_SIZES = (120, 180)
"""Smaller faces when several share one canvas, so they and their margins fit."""
MARGINS = (0.15, 0.50)
"""Selection margin on each side, as a fraction of the face side (each side drawn on its own)."""


@dataclass(frozen=True)
class Square:
    """A pasted face: its top-left corner and side in canvas pixels."""

    left: int
    top: int
    side: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom), right/bottom exclusive."""
        return (self.left, self.top, self.left + self.side, self.top + self.side)


@dataclass(frozen=True)
class Scene:
    """A canvas with faces and the loose selection around them."""

    image: np.ndarray
    """(H, W, 3) uint8 RGB."""
    faces: tuple[Square, ...]
    selection: tuple[int, int, int, int]
    """(left, top, right, bottom) of the selection rectangle, right/bottom exclusive."""

    @property
    def mask(self) -> np.ndarray:
        """(H, W) uint8 selection mask: 255 inside the rectangle, 0 outside."""
        m = np.zeros(self.image.shape[:2], np.uint8)
        left, top, right, bottom = self.selection
        m[top:bottom, left:right] = 255
        return m

    def margins(self, face: int = 0) -> tuple[float, float, float, float]:
        """Selection margins (left, top, right, bottom) around one face, in face sides."""
        f = self.faces[face]
        fl, ft, fr, fb = f.box
        sl, st, sr, sb = self.selection
        return ((fl - sl) / f.side, (ft - st) / f.side, (sr - fr) / f.side, (sb - fb) / f.side)


def _resize(a: np.ndarray, size: int) -> np.ndarray:
    """Bicubic resize of a (h, w) float array to (size, size)."""
    return np.asarray(
        Image.fromarray(a.astype(np.float32), mode="F").resize(
            (size, size), Image.Resampling.BICUBIC
        )
    )


def texture(rng: np.random.Generator, size: int = CANVAS) -> np.ndarray:
    """A random (size, size, 3) uint8 background: coloured clouds, maybe stripes, and grain."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    channels = []
    for _ in range(3):
        v = np.zeros((size, size), np.float32)
        for octave, cells in enumerate((4, 8, 16, 32, 64)):
            v += _resize(rng.standard_normal((cells, cells)), size) * 0.6**octave
        channels.append(v / (np.abs(v).max() + 1e-6))
    clouds = np.stack(channels, -1)
    base = rng.uniform(40, 215, 3).astype(np.float32)
    img = base + clouds * rng.uniform(20, 70, 3).astype(np.float32)
    if rng.random() < 0.5:
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(6, 40)
        wave = np.sin(2 * np.pi * (x * np.cos(theta) + y * np.sin(theta)) / period)
        img += wave[..., None] * rng.uniform(10, 45, 3).astype(np.float32)
    img += rng.normal(0, rng.uniform(2, 8), img.shape).astype(np.float32)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def _draw_margins(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(MARGINS[0], MARGINS[1], 4)


def make_scene(
    faces: Sequence[np.ndarray],
    rng: np.random.Generator,
    canvas: int = CANVAS,
) -> Scene:
    """Paste ``faces`` ((h, w, 3) uint8 crops, squared by resizing) on a textured canvas.

    One face: side uniform in :data:`FACE_SIZES`. Several: one side from
    :data:`MULTI_FACE_SIZES` for all, in a row with gaps of 0.1–0.4 sides and up to ±0.2 sides of
    vertical jitter. Each selection margin (left, top, right, bottom) is drawn uniformly from
    :data:`MARGINS` times the side, independently, and the whole selection is placed at a uniform
    random position on the canvas (draws that do not fit are redrawn).
    """
    if not faces:
        raise ValueError("make_scene needs at least one face")
    lo, hi = FACE_SIZES if len(faces) == 1 else MULTI_FACE_SIZES
    for _ in range(1000):
        side = int(rng.integers(lo, hi + 1))
        offsets = [(0, 0)]
        for _ in faces[1:]:
            gap = int(rng.uniform(0.1, 0.4) * side)
            offsets.append((offsets[-1][0] + side + gap, int(rng.uniform(-0.2, 0.2) * side)))
        dy_min = min(dy for _, dy in offsets)
        offsets = [(dx, dy - dy_min) for dx, dy in offsets]
        group_w = offsets[-1][0] + side
        group_h = max(dy for _, dy in offsets) + side
        m = [int(v) for v in np.ceil(_draw_margins(rng) * side)]
        sel_w, sel_h = group_w + m[0] + m[2], group_h + m[1] + m[3]
        if sel_w <= canvas and sel_h <= canvas:
            break
    else:  # pragma: no cover - only with absurd sizes
        raise ValueError(f"{len(faces)} faces with margins do not fit a {canvas}² canvas")
    sel_left = int(rng.integers(0, canvas - sel_w + 1))
    sel_top = int(rng.integers(0, canvas - sel_h + 1))
    image = texture(rng, canvas)
    squares = []
    for face, (dx, dy) in zip(faces, offsets, strict=True):
        sq = Square(sel_left + m[0] + dx, sel_top + m[1] + dy, side)
        pasted = Image.fromarray(np.asarray(face, np.uint8)).convert("RGB")
        pasted = pasted.resize((side, side), Image.Resampling.BICUBIC)
        image[sq.top : sq.top + side, sq.left : sq.left + side] = np.asarray(pasted)
        squares.append(sq)
    selection = (sel_left, sel_top, sel_left + sel_w, sel_top + sel_h)
    return Scene(image, tuple(squares), selection)


def crop(image: np.ndarray, face: Square, size: int | None = None) -> np.ndarray:
    """The face square of an (H, W, C) image, optionally resized to (size, size) (bicubic)."""
    out = np.ascontiguousarray(
        image[face.top : face.top + face.side, face.left : face.left + face.side]
    )
    if size is not None and size != face.side:
        out = np.asarray(Image.fromarray(out).resize((size, size), Image.Resampling.BICUBIC))
    return out


def _mean_abs(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    """Mean |a − b| over the channels of the pixels where ``where`` is true (0 when none)."""
    if not where.any():
        return 0.0
    return float(np.abs(a.astype(np.int32) - b.astype(np.int32))[where].mean())


def change_by_region(scene: Scene, before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """How an edit of ``scene`` changed it, region by region.

    ``before``/``after`` are (H, W, C) uint8 with RGB first. Returns the mean |change| of RGB
    (0–255) in the upper and the lower half of the face squares and in the rest of the
    selection, and ``changed_outside``: how many pixels outside the selection differ in any
    channel (alpha included), which a correct run leaves at 0.
    """
    mask = scene.mask > 0
    upper = np.zeros(mask.shape, bool)
    lower = np.zeros(mask.shape, bool)
    for f in scene.faces:
        mid = f.top + f.side // 2
        upper[f.top : mid, f.left : f.left + f.side] = True
        lower[mid : f.top + f.side, f.left : f.left + f.side] = True
    a, b = after[..., :3], before[..., :3]
    return {
        "upper": _mean_abs(a, b, upper),
        "lower": _mean_abs(a, b, lower),
        "rest_of_selection": _mean_abs(a, b, mask & ~upper & ~lower),
        "changed_outside": int((after != before).any(-1)[~mask].sum()),
    }


def newly_clipped(before: np.ndarray, after: np.ndarray, mask: np.ndarray) -> tuple[int, int]:
    """(pixels pushed to 255, pixels pushed to 0) by an edit inside ``mask`` (H, W): a pixel counts
    when one of its RGB channels is at the extreme in ``after`` but was not in ``before`` (both
    (H, W, C) uint8) — a sign of an edit overshooting white or black."""
    a, b, m = after[..., :3], before[..., :3], mask > 0
    white = ((a == 255) & (b < 255)).any(-1) & m
    black = ((a == 0) & (b > 0)).any(-1) & m
    return int(white.sum()), int(black.sum())
