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


def emoji_disc(size: int = 32) -> torch.Tensor:
    """(1, 4, size, size) in [0, 1]: a yellow disc (radius 0.4 of the square) with two dark eyes
    and a dark mouth, transparent around it — the picture :func:`sticker_transfer` draws."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    disc = ((yy - 0.5) ** 2 + (xx - 0.5) ** 2 < 0.4**2).float()
    dark = torch.zeros_like(disc)
    for ex in (0.36, 0.64):
        dark += ((yy - 0.4) ** 2 + (xx - ex) ** 2 < 0.06**2).float()
    dark += ((yy - 0.66).abs() < 0.04).float() * ((xx - 0.5).abs() < 0.16).float()
    dark = dark.clamp(0, 1) * disc
    colour = torch.tensor([1.0, 0.8, 0.2]).view(3, 1, 1) * (1 - dark) + 0.15 * dark
    return torch.cat([colour * disc + 0.5 * (1 - disc), disc[None]])[None]


def sticker_transfer(seed: int = 0, steps: int = 300) -> DomainTransfer:
    """A tiny RGBA G (32 px, width 1/16) that draws :func:`emoji_disc` whatever the face: f's last
    layer gives one fixed code, and g is fitted to it in a second — a faces → emoji model whose
    sticker has a known silhouette, for the editor tests."""
    net = tiny_transfer(seed, DtnConfig(size=32, code_dim=8, width=0.0625, channels=4))
    last = net.f.net[-2]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.linspace(-0.5, 0.5, last.bias.numel()))
        z = net.f(torch.zeros(1, 3, 32, 32))
    want = emoji_disc(32) * 2 - 1
    opt = torch.optim.Adam(net.g.parameters(), lr=1e-2)
    net.g.eval()  # BatchNorm on its running statistics, as at inference
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(net.g(z), want)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def install_sticker(models_dir: Path, name: str = "tiny-sticker") -> str:
    """Import :func:`sticker_transfer` into ``models_dir`` as ``name``; returns the name."""
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.pth"
        torch.save(sticker_transfer().state_dict(), path)
        ModelStore(models_dir).import_model(path, name, "dtn", meta={"source": "tests/prep"})
    return name
