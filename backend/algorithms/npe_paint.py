"""The contextual paintbrush of the Neural Photo Editor (Brock et al., ICLR 2017), as tensors.

Following ajbrock/Neural-Photo-Editor's ``paint()``, at the model's resolution, images in [-1, 1]:

- X̂ = G(E(X)) the reconstruction, E = X − X̂ its error;
- latent steps: z moves down the gradient of the colour difference between G(z) and the
  strokes, weighted by the strokes' alpha (one normalised step per brush step);
- Δ = G(z) − X̂, M = Gaussian-smoothed min(gain · mean_c |Δ|, 1);
- Y = X̂ + M⊙Δ + (1 − M)⊙E (the paper's blend, ``BLENDS[1]``), which equals X exactly where
  M = 0; it is X + M⊙(Δ − E): where M is large the photo's detail (in E) gives way to the
  model's. ``BLENDS[0]`` ("detail") adds only the model's change, Y = X + M⊙Δ: also X where
  M = 0, and the photo's detail stays under the strokes (docs/quality-npe.md measures both).

Only the change Y − X leaves this module; the filter upsamples it and warps it back.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from backend.algorithms.nets.npe import NpeNet

BLENDS = ("detail", "paper")
"""How the change is blended in: Y = X + M⊙Δ, or the paper's Y = X̂ + M⊙Δ + (1 − M)⊙E."""
STEP = 0.5
"""Length of one latent step (× strength); the prior's latents have length ≈ √zdim."""
BACKTRACK = 3
"""Halvings of a step that would raise the stroke error before it is skipped."""
MASK_GAIN = 2.0
"""M = min(MASK_GAIN · mean_c |Δ|, 1) with Δ in [-1, 1] units, before smoothing."""


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of (N, C, H, W) with reflection at the borders."""
    if sigma <= 0:
        return x
    radius = min(max(1, math.ceil(3 * sigma)), x.shape[-1] - 1, x.shape[-2] - 1)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def stroke_loss(image: Tensor, colour: Tensor, alpha: Tensor) -> Tensor:
    """Alpha-weighted mean squared colour difference under the strokes."""
    weight = alpha.sum().clamp_min(1e-6)
    return ((image - colour) ** 2 * alpha).sum() / (3 * weight)


def latent_steps(
    net: NpeNet,
    z: Tensor,
    colour: Tensor,
    alpha: Tensor,
    steps: int,
    strength: float,
    on_step: Callable[[int, float], None] | None = None,
    offset: Tensor | float = 0.0,
) -> Tensor:
    """``steps`` normalised gradient steps of ``z`` (1, zdim) so that G(z) matches ``colour``
    (1, 3, S, S in [-1, 1]) where ``alpha`` (1, 1, S, S) is painted; returns the new z.
    ``offset`` is added to G(z) before the comparison: with the "detail" blend the edited photo
    is X + Δ = G(z) + E where the mask is full, so its strokes are matched by G(z) + E.

    Each step has length ``STEP · strength`` unless that would raise the stroke error: then it
    is halved (up to :data:`BACKTRACK` times, else z stays), so more steps never undo earlier
    ones and a stroke painted again moves further or stays."""
    z = z.detach().clone()
    if float(alpha.sum()) <= 0 or steps <= 0 or strength <= 0:
        return z
    for i in range(steps):
        z.requires_grad_(True)
        with torch.enable_grad():
            loss = stroke_loss(net.decode(z) + offset, colour, alpha)
            (grad,) = torch.autograd.grad(loss, z)
        z = z.detach()
        direction = grad / grad.norm().clamp_min(1e-12)
        length = STEP * strength
        for _ in range(BACKTRACK + 1):
            candidate = z - length * direction
            with torch.no_grad():
                if float(stroke_loss(net.decode(candidate) + offset, colour, alpha)) < float(loss):
                    z = candidate
                    break
            length /= 2
        if on_step is not None:
            on_step(i + 1, float(loss.detach()))
    return z


def masked_blend(
    x: Tensor, recon: Tensor, painted: Tensor, smoothing: float, blend: str = "paper"
) -> tuple[Tensor, Tensor]:
    """(Y, M): the masked blend (``blend`` in :data:`BLENDS`) of X, X̂ = ``recon`` and
    G(z) = ``painted``, all (1, 3, S, S) in [-1, 1]; ``smoothing`` is the mask blur's sigma in
    model pixels."""
    if blend not in BLENDS:
        raise ValueError(f"blend must be one of {BLENDS}, not {blend!r}")
    delta = painted - recon
    error = x - recon
    m = (MASK_GAIN * delta.abs().mean(1, keepdim=True)).clamp(max=1.0)
    m = gaussian_blur(m, smoothing).clamp(0.0, 1.0)
    if blend == "detail":
        return x + m * delta, m
    return recon + m * delta + (1 - m) * error, m
