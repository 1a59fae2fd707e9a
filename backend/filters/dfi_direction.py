"""DFI's attribute direction in feature space and how its change is applied (shared by the
optimiser in ``dfi`` and the inverter in ``dfi_inverter``)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

LUMA = (0.299, 0.587, 0.114)
"""Rec. 601 weights: with keep colours on only the brightness of a change is applied."""


def scaled_direction(direction: Tensor, features: Tensor) -> Tensor:
    """chainer-dfi's scaling: ``‖φ(x)‖ · w / ‖w‖`` (direction resampled to the map's size).

    Args:
        direction: (C, h, w) attribute vector of one layer.
        features: (1, C, H, W) φ_l(x).
    """
    w = direction[None].to(features)
    if w.shape[-2:] != features.shape[-2:]:
        w = F.interpolate(w, size=features.shape[-2:], mode="bilinear", align_corners=False)
    norm = w.norm()
    if norm == 0:
        return torch.zeros_like(features)
    return w * (features.norm() / norm)


def luma_only(delta: Tensor) -> Tensor:
    """The brightness of the change ``delta`` (B, 3, H, W), as a grey change of the same shape."""
    luma = torch.tensor(LUMA, dtype=delta.dtype, device=delta.device).view(1, 3, 1, 1)
    return (delta * luma).sum(1, keepdim=True).expand_as(delta)
