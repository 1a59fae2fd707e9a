"""Contract-test preparation for ``dtn``: a tiny random DTN in the models folder."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from backend.algorithms.nets.dtn import DomainTransfer, DtnConfig, init_weights
from backend.assets.models import ModelStore
from backend.filters.base import Context

TINY = DtnConfig(size=32, code_dim=8, width=0.0625)


def tiny_transfer(seed: int = 0, cfg: DtnConfig = TINY) -> DomainTransfer:
    """A random-weight G = g∘f (4-16 channels, code 8) in eval mode."""
    torch.manual_seed(seed)
    net = DomainTransfer(cfg)
    init_weights(net)
    return net.eval()


def install_tiny(ctx: Context, name: str = "tiny-dtn", seed: int = 0) -> str:
    """Import :func:`tiny_transfer` into ``ctx.models_dir`` as ``name`` (once)."""
    store = ModelStore(ctx.models_dir)
    if name not in [e.name for e in store.entries("dtn")]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.pth"
            torch.save(tiny_transfer(seed).state_dict(), path)
            store.import_model(path, name, "dtn", meta={"source": "tests/prep"})
    return name


def prepare(ctx: Context) -> dict[str, Any]:
    """Install the tiny model and return values that make the filter translate in 16 px tiles."""
    return {"model": install_tiny(ctx), "tile": 16}
