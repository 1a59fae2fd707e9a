"""The ``mrf`` filter on the neural-doodle example data, the way the quality figures run it.

- :func:`doodle`: Renoir.jpg + Renoir_sem.png -> Landscape_sem.png (content weight 0) and its
  semantic agreement (:func:`backend.algorithms.semantic.semantic_agreement`);
- :func:`run_masked`: a feathered disc (:func:`disc_cover`) of a photo styled through the real
  job runner, and how many pixels outside the selection changed (must be 0).

Data: :data:`DATA` (``../shared/data/doodle`` beside the checkout: public-domain paintings and
their semantic maps as distributed with the neural-doodle examples). Used by
``scripts/mrf_quality.py`` and tests/test_mrf_real.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from backend.algorithms.features import VGGFeatures
from backend.algorithms.semantic import semantic_agreement
from backend.filters.base import Context, FilterInput
from backend.filters.mrf import MrfParams, NeuralDoodle
from backend.params import LayerRef

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "doodle"


def load(path: Path, long_side: int | None = None) -> Tensor:
    """An image file as (1, 4, H, W) RGBA floats, optionally resized (long side; maps nearest)."""
    im = Image.open(path).convert("RGBA")
    if long_side is not None:
        scale = long_side / max(im.size)
        size = (max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale)))
        resample = Image.NEAREST if path.name.endswith("_sem.png") else Image.LANCZOS
        im = im.resize(size, resample)
    return torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)[None].float() / 255


def doodle(
    net: VGGFeatures, size: int, params: dict[str, object], on_step: object = None
) -> tuple[Tensor, float]:
    """Renoir -> Landscape_sem doodle at ``size`` px long side; returns (result, agreement)."""
    style = load(DATA / "Renoir.jpg", size)
    style_map = load(DATA / "Renoir_sem.png", size)
    target_map = load(DATA / "Landscape_sem.png", size)
    h, w = target_map.shape[-2:]
    job = FilterInput(
        image=torch.full((1, 3, h, w), 0.5),
        alpha=torch.ones(1, 1, h, w),
        mask=torch.ones(1, 1, h, w),
        box=(0, 0, w, h),
        extras={"style": style, "style_map": style_map, "target_map": target_map},
    )
    values: dict[str, object] = {"content_weight": 0.0, "max_size": size, **params}
    p = MrfParams(
        style=LayerRef("style"),
        style_map=LayerRef("style_map"),
        target_map=LayerRef("target_map"),
        **values,  # type: ignore[arg-type]
    )
    ctx = Context(backbone_factory=lambda: net)
    out = NeuralDoodle(ctx).run(job, p, on_step or (lambda s: None))[0].image  # type: ignore[arg-type]
    score = semantic_agreement(net, out, style[:, :3], style_map, target_map)
    return out, score


def disc_cover(h: int, w: int) -> Tensor:
    """The feathered disc selection used by ``masked`` as (h, w) coverage in [0, 1]."""
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    r = ((yy - 0.42 * h) ** 2 + (xx - 0.5 * w) ** 2).sqrt()
    radius, feather = 0.28 * w, max(2.0, 0.02 * w)
    return ((radius - r) / feather + 0.5).clamp(0, 1)


def run_masked(
    net: VGGFeatures,
    size: int,
    params: dict[str, object],
    on_step: object = None,
    photo_path: Path = DATA / "Gogh.jpg",
    style_path: Path = DATA / "Renoir.jpg",
) -> tuple[Tensor, Tensor, int]:
    """Style a feathered disc of ``photo_path`` with ``style_path`` through the job runner.

    Returns (input, output, number of changed pixels outside the selection).
    """
    from backend.serving.imaging import WireImage
    from backend.serving.jobs import Job, execute

    photo = load(photo_path, size)
    style = load(style_path, size)
    h, w = photo.shape[-2:]
    mask = (disc_cover(h, w) * 255).round().byte().numpy()

    def wire(t: Tensor) -> WireImage:
        arr = (t[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).contiguous().numpy()
        return WireImage(arr.shape[1], arr.shape[0], "u8", arr.tobytes())

    layer = wire(photo)
    job = Job(
        "mrf",
        layer,
        WireImage(w, h, "u8", mask.tobytes()),
        {"max_size": size, **params},
        {"style": wire(style)},
    )
    flt = NeuralDoodle(Context(backbone_factory=lambda: net))
    result = execute(flt, job, on_step or (lambda s: None))[0]  # type: ignore[arg-type]
    before = np.frombuffer(layer.pixels, np.uint8).reshape(h, w, 4)
    after = np.frombuffer(result.pixels, np.uint8).reshape(h, w, 4)
    outside = mask == 0
    changed = int((before[outside] != after[outside]).any(axis=1).sum())
    as_tensor = torch.from_numpy(after.copy()).permute(2, 0, 1)[None].float() / 255
    return photo, as_tensor, changed
