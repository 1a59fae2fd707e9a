"""DFI runs shared by scripts/dfi_quality.py and benchmarks/dfi.py: the filter on the default
backbone, and one edit of a face pasted into a noisy canvas through the real job runner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from backend import dirs
from backend.assets.nets import load_backbone
from backend.filters import dfi
from backend.filters.base import Context
from backend.serving import jobs
from backend.serving.imaging import WireImage

BACKBONE = "vgg16-hed"
CANVAS = 96
"""Validation faces are pasted into a noisy canvas; the selection is the 64x64 face."""


def edit_in_canvas(
    flt: dfi.DeepFeatureInterpolation,
    face: np.ndarray,
    strength: float,
    iterations: int,
    resolution: int,
    seed: int = 0,
) -> tuple[np.ndarray, bool]:
    """Run the filter through the real job runner on a face pasted into a noisy canvas.

    The selection is the 64x64 face; returns (edited face, every outside pixel bit-identical).
    """
    rng = np.random.default_rng(seed)
    canvas = rng.integers(0, 256, (CANVAS, CANVAS, 4), dtype=np.uint8)
    canvas[..., 3] = 255
    o = (CANVAS - face.shape[0]) // 2
    sl = (slice(o, o + face.shape[0]), slice(o, o + face.shape[1]))
    canvas[sl[0], sl[1], :3] = face
    mask = np.zeros((CANVAS, CANVAS), np.uint8)
    mask[sl] = 255
    job = jobs.Job(
        "dfi",
        WireImage(CANVAS, CANVAS, "u8", canvas.tobytes()),
        WireImage(CANVAS, CANVAS, "u8", mask.tobytes()),
        {"strength": strength, "iterations": iterations, "resolution": resolution},
    )
    with torch.enable_grad():
        (out,) = jobs.execute(flt, job, lambda step: None)
    result = np.frombuffer(out.pixels, np.uint8).reshape(CANVAS, CANVAS, 4)
    same = bool((result[mask == 0] == canvas[mask == 0]).all())
    return result[sl[0], sl[1], :3].copy(), same


def make_filter(pack_dir: Path) -> dfi.DeepFeatureInterpolation:
    """The filter on the vgg16-hed backbone, finding packs in ``pack_dir`` and built-in ones."""
    root = dirs.weights_dir()
    ctx = Context(
        weights_dir=root,
        attributes_dir=pack_dir,
        backbone_factory=lambda: load_backbone(BACKBONE, root),
    )
    return dfi.DeepFeatureInterpolation(ctx)
