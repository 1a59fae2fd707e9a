"""One contextual-paintbrush edit of a face in a picture: frame → latent steps → blend → back.

Shared by the ``npe`` filter and the quality protocol (which also looks at the mask M).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from backend.algorithms.faces import DEFAULT_TEMPLATE
from backend.algorithms.faces.frame import change_back, to_frame
from backend.algorithms.nets.npe import NpeNet
from backend.algorithms.npe_paint import latent_steps, masked_blend, near_strokes


@dataclass(frozen=True)
class Edit:
    """``image``: the edited picture (1, 3, H, W) in [0, 1]; ``z``: the latent after the steps;
    ``mask``: the blend mask M (1, 1, S, S) in the model's frame; ``face`` / ``recon`` /
    ``painted``: X, X̂ and G(z) in the frame, in [0, 1]."""

    image: Tensor
    z: Tensor
    mask: Tensor
    face: Tensor
    recon: Tensor
    painted: Tensor


def frame_paint(paint: Tensor, landmarks: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """The paint layer (1, 4, H, W) in the model's frame: (colour (1, 3, S, S), alpha)."""
    rgb, a = paint[:, :3], paint[:, 3:]
    framed, _ = to_frame(torch.cat([rgb * a, a], 1), landmarks, DEFAULT_TEMPLATE, size)
    alpha = framed[:, 3:].clamp(0, 1)
    colour = (framed[:, :3] / alpha.clamp_min(1e-4)).clamp(0, 1)
    return colour, alpha


def edit_face(
    net: NpeNet,
    image: Tensor,
    paint: Tensor,
    landmarks: Tensor,
    z: Tensor | None,
    steps: int,
    strength: float,
    smoothing: float,
    on_step: Callable[[int, float], None] | None = None,
    blend: str = "detail",
    reach: float = 0.0,
) -> Edit:
    """Paint ``paint`` (1, 4, H, W straight RGBA over ``image``) into the face whose five
    ``landmarks`` are given, continuing from latent ``z`` (None: the photo's own latent);
    ``reach`` > 0 keeps the change near the strokes (:func:`near_strokes`)."""
    size = net.cfg.size
    face, tf = to_frame(image, landmarks, DEFAULT_TEMPLATE, size)
    colour, alpha = frame_paint(paint, landmarks, size)
    x = face * 2 - 1
    with torch.no_grad():
        z0 = net.encode(x)
        recon = net.decode(z0)
    start = z0 if z is None else z.to(x.device)
    offset = x - recon if blend == "detail" else 0.0  # detail: the photo is G(z) + E there
    moved = latent_steps(net, start, colour * 2 - 1, alpha, steps, strength, on_step, offset)
    with torch.no_grad():
        painted = net.decode(moved)
        near = near_strokes(alpha, reach) if reach > 0 else None
        y, m = masked_blend(x, recon, painted, smoothing, blend, near)
    change = change_back((y - x) / 2, tf, tuple(image.shape[-2:]))
    out = (image + change).clamp(0, 1)
    return Edit(out, moved, m, face, (recon + 1) / 2, (painted + 1) / 2)
