"""Contract-test preparation for ``npe``: a tiny random face model in the models folder."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from backend.algorithms.nets.npe import NpeConfig, NpeNet
from backend.assets.models import ModelStore
from backend.filters.base import Context

TINY = NpeConfig(size=16, zdim=8, width=4)
SLOW, SLOW_NAME = NpeConfig(size=128, zdim=8, width=32), "slow-npe"
"""A model whose 50 latent steps take seconds (tests/test_cancel_all.py)."""


def tiny_npe(seed: int = 0, cfg: NpeConfig = TINY) -> NpeNet:
    """A random-weight NPE face model (4-16 channels, latent 8) in eval mode."""
    torch.manual_seed(seed)
    return NpeNet(cfg).eval()


def install_tiny(ctx: Context, name: str = "tiny-npe", seed: int = 0, cfg: NpeConfig = TINY) -> str:
    """Import :func:`tiny_npe` into ``ctx.models_dir`` as ``name`` (once)."""
    store = ModelStore(ctx.models_dir)
    if name not in [e.name for e in store.entries("npe")]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.pth"
            torch.save(tiny_npe(seed, cfg).state_dict(), path)
            store.import_model(path, name, "npe", meta={"source": "tests/prep"})
    return name


def prepare(ctx: Context) -> dict[str, Any]:
    """Install the tiny model; strong, short strokes so a random model visibly moves. The
    paper's blend: a random model's change Δ alone is below one u8 level, its blend also swaps
    in the (random) reconstruction where M > 0, which the contract can see. Mask blur 1: at
    the default 2 the 16² model's mask spreads too thin for a u8 step."""
    install_tiny(ctx, SLOW_NAME, cfg=SLOW)
    return {
        "model": install_tiny(ctx),
        "steps": 2,
        "strength": 3.0,
        "blend": "paper",
        "smoothing": 1.0,
    }
