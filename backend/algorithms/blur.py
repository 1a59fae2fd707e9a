"""One separable Gaussian blur for every module that smooths a map or a colour layer."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def gaussian_blur(
    x: Tensor, sigma: float, radius: int | None = None, pad: str = "reflect"
) -> Tensor:
    """Separable Gaussian blur of (N, C, H, W) by ``sigma`` pixels.

    ``radius``: the kernel's half-width (default ⌈3σ⌉, at most the image's side − 1 so that
    reflection works); ``pad``: how the borders are extended, ``"reflect"`` or ``"replicate"``."""
    if sigma <= 0:
        return x
    if radius is None:
        radius = min(max(1, math.ceil(3 * sigma)), x.shape[-1] - 1, x.shape[-2] - 1)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode=pad)
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
