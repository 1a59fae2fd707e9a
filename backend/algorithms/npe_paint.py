"""The contextual paintbrush of the Neural Photo Editor (Brock et al., ICLR 2017), as tensors.

Following ajbrock/Neural-Photo-Editor's ``paint()``, at the model's resolution, images in [-1, 1]:

- X̂ = G(E(X)) the reconstruction, E = X − X̂ its error;
- latent steps: z moves down the gradient of the colour difference between G(z) and the
  strokes, weighted by the strokes' alpha (one normalised step per brush step);
- Δ = G(z) − X̂, M = Gaussian-smoothed min(gain · mean_c |Δ|, 1);
- Y = X̂ + M⊙Δ + (1 − M)⊙E (the paper's blend, ``BLENDS[1]``), which equals X exactly where
  M = 0; it is X + M⊙(Δ − E): where M is large the photo's detail (in E) gives way to the
  model's. ``BLENDS[0]`` ("detail") adds only the model's change, smoothed, Y = X + M⊙blur(Δ):
  also X where M = 0, and the photo's detail stays under the strokes (docs/quality-npe.md
  measures both);
- M is limited to the strokes' neighbourhood (:func:`near_strokes`, the filter's ``reach``), so
  a stroke on the hair does not repaint the chin.

Only the change Y − X leaves this module; the filter upsamples it and warps it back.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from backend.algorithms.blur import gaussian_blur
from backend.algorithms.nets.npe import NpeNet

BLENDS = ("detail", "paper")
"""How the change is blended in: Y = X + M⊙blur(Δ), or the paper's Y = X̂ + M⊙Δ + (1 − M)⊙E."""
SMOOTHING = 2.0
"""Default blur (sigma, model pixels) of M and, for "detail", of Δ."""
STEP = 0.5
"""Length of one latent step (× strength); the prior's latents have length ≈ √zdim."""
BACKTRACK = 3
"""Halvings of a step that would raise the stroke error before it is skipped."""
MASK_GAIN = 2.0
"""M = min(MASK_GAIN · mean_c |Δ|, 1) with Δ in [-1, 1] units, before smoothing."""
REACH = 0.25
"""Default reach of a change around the strokes (share of the side; :func:`near_strokes`)."""
ALPHA_MIN = 0.05
"""Stroke alpha above which a pixel counts as painted (for :func:`near_strokes`)."""


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


def near_strokes(alpha: Tensor, reach: float) -> Tensor:
    """How near each pixel is to the strokes (``alpha`` (1, 1, S, S)), in [0, 1]: 1 on the
    strokes and within ``reach``·S/2 of them, falling to 0 about ``reach``·S/2 further out;
    ``reach`` ≤ 0: 1 everywhere (no limit)."""
    if reach <= 0:
        return torch.ones_like(alpha)
    size = alpha.shape[-1]
    r = max(1, round(reach * size / 2))
    near = F.max_pool2d((alpha > ALPHA_MIN).to(alpha.dtype), 2 * r + 1, 1, r)
    return (2 * gaussian_blur(near, reach * size / 4)).clamp(0.0, 1.0)


def masked_blend(
    x: Tensor,
    recon: Tensor,
    painted: Tensor,
    smoothing: float,
    blend: str = "paper",
    near: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """(Y, M): the masked blend (``blend`` in :data:`BLENDS`) of X, X̂ = ``recon`` and
    G(z) = ``painted``, all (1, 3, S, S) in [-1, 1]; ``smoothing`` is the sigma (model pixels)
    of the mask's blur and, for "detail", of the change's (the model's speckle stays out, the
    photo keeps its own detail); ``near`` (1, 1, S, S in [0, 1], :func:`near_strokes`) limits
    M to the strokes' neighbourhood."""
    if blend not in BLENDS:
        raise ValueError(f"blend must be one of {BLENDS}, not {blend!r}")
    delta = painted - recon
    error = x - recon
    m = (MASK_GAIN * delta.abs().mean(1, keepdim=True)).clamp(max=1.0)
    m = gaussian_blur(m, smoothing).clamp(0.0, 1.0)
    if near is not None:
        m = m * near
    if blend == "detail":
        return x + m * gaussian_blur(delta, smoothing), m
    return recon + m * delta + (1 - m) * error, m
