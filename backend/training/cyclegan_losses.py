"""The loss terms and schedules of ``train cyclegan`` (:mod:`backend.training.cyclegan`).

- :func:`lr_factor`: upstream's linear learning-rate policy;
- :func:`keep_loss` / :func:`keep_factor`: the keep-mask term and its warm-up;
- :func:`class_loss`: the class-aware discriminators' cross-entropy over the labelled items.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def lr_factor(epoch: int, epochs: int) -> float:
    """Upstream's linear policy: constant for the first half, then linearly down towards zero."""
    keep = epochs - epochs // 2
    return 1.0 - max(0, epoch + 1 - keep) / float(epochs // 2 + 1)


def mse_to(pred: Tensor, value: float) -> Tensor:
    """LSGAN: mean squared distance of the scores to ``value``."""
    return F.mse_loss(pred, torch.full_like(pred, value))


def keep_loss(out: Tensor, src: Tensor, mask: Tensor) -> Tensor:
    """Mean |out − src| over the kept pixels (mask (B, 1, H, W) in {0, 1}); 0 without any."""
    kept = mask.sum() * out.shape[1]
    return (mask * (out - src).abs()).sum() / kept.clamp_min(1.0)


def keep_factor(done: int, warmup: int) -> float:
    """The share of λ_keep that applies to the update after ``done`` updates (``--keep-warmup``).

    0 for the first ``warmup`` updates (the generators learn to translate first), then rising
    linearly to 1 over the next ``warmup`` updates, 1 from update 2·warmup on; always 1 when
    ``warmup`` is 0.
    """
    if warmup <= 0:
        return 1.0
    return min(1.0, max(0.0, (done - warmup) / warmup))


def class_loss(logits: Tensor, labels: Tensor) -> Tensor | None:
    """Cross-entropy over the labelled items (label >= 0); None when none is labelled."""
    sel = labels >= 0
    if not bool(sel.any()):
        return None
    return F.cross_entropy(logits[sel], labels[sel])
