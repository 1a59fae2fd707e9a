"""Contract-test preparation for ``cyclegan``: a tiny random generator in the models folder."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from backend.algorithms.nets.resnet_generator import ResnetGenerator
from backend.assets.models import ModelStore
from backend.filters.base import Context

TINY = {"ngf": 4, "n_blocks": 2}
RESNET_OFFICIAL = {
    "norm": "instance",
    "upsample": "convtranspose",
    "conv_bias": True,
    "out_bias": True,
    "down_kernel": 3,
    "up_kernel": 3,
}
"""The options :func:`backend.algorithms.nets.cyclegan_arch.infer_arch` records for the official
layout."""


def tiny_generator(seed: int = 0, **arch: int) -> ResnetGenerator:
    """A random-weight ResnetGenerator with the official layout (ngf 4, 2 blocks by default)."""
    torch.manual_seed(seed)
    return ResnetGenerator(**{**TINY, **arch}).eval()


def prepare(ctx: Context) -> dict[str, Any]:
    """Install the tiny model as 'tiny' and return values that make the filter tile quickly."""
    store = ModelStore(ctx.models_dir)
    if "tiny" not in [e.name for e in store.entries("cyclegan")]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "tiny.pth"
            torch.save(tiny_generator().state_dict(), path)
            meta = {"source": "tests/prep", "classes": ["business", "casual"]}
            store.import_model(path, "tiny", "cyclegan", meta=meta)
    return {"model": "tiny", "tile_size": 64, "overlap": 32, "stats_size": 64}
