"""Augmented views of f's pretraining batches (``--f-augment``): f should read a face (or an
emoji) the same way when the crop is mirrored, zoomed or shifted a little, lit or coloured a
little differently, or slightly soft — as a photo's face, aligned by its landmarks, is."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from backend.algorithms.colour import luminance

ZOOM = 0.08
"""Largest relative zoom in or out."""
SHIFT = 0.05
"""Largest shift, as a share of the side."""
BRIGHTNESS = 0.1
"""Largest brightness offset, in the [-1, 1] units of a batch."""
CONTRAST = 0.15
SATURATION = 0.3
BLUR = 0.3
"""Share of the views softened (by a Gaussian of σ 0.8 px, mixed in at a random strength)."""


def _uniform(n: int, gen: torch.Generator, width: float) -> Tensor:
    return (torch.rand(n, generator=gen) * 2 - 1) * width


def augment(x: Tensor, gen: torch.Generator) -> Tensor:
    """A random view of each image of ``x`` ((N, 3, H, W) in [-1, 1]), in [-1, 1]: mirrored
    half the time, zoomed by up to ±8 %, shifted by up to ±5 % (edges repeated), brightness
    ±0.1, contrast and saturation ±15 / 30 %, and a third of them slightly blurred."""
    n = x.shape[0]
    device = x.device
    flip = (torch.rand(n, generator=gen) < 0.5).to(device)
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    theta = torch.zeros(n, 2, 3)
    zoom = 1 + _uniform(n, gen, ZOOM)
    theta[:, 0, 0] = theta[:, 1, 1] = zoom
    theta[:, 0, 2] = _uniform(n, gen, 2 * SHIFT)
    theta[:, 1, 2] = _uniform(n, gen, 2 * SHIFT)
    grid = F.affine_grid(theta.to(device), list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    luma = luminance(x)
    x = luma + (1 + _uniform(n, gen, SATURATION).to(device))[:, None, None, None] * (x - luma)
    mean = x.mean((1, 2, 3), keepdim=True)
    contrast = (1 + _uniform(n, gen, CONTRAST).to(device))[:, None, None, None]
    x = (x - mean) * contrast + mean + _uniform(n, gen, BRIGHTNESS).to(device)[:, None, None, None]
    t = torch.arange(-1, 2, dtype=x.dtype, device=device)
    k = torch.exp(-(t**2) / (2 * 0.8**2))
    k = (k[:, None] * k[None, :]) / k.sum() ** 2
    soft = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k.expand(3, 1, 3, 3), groups=3)
    mix = (torch.rand(n, generator=gen) < BLUR).float() * torch.rand(n, generator=gen)
    x = x + mix.to(device)[:, None, None, None] * (soft - x)
    return x.clamp(-1, 1)
