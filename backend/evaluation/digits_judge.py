"""The DTN digits protocol's independent judge (docs/quality-dtn.md), shared by
scripts/dtn_digits.py and benchmarks/convert.py: a :class:`SmallJudge` trained only on
handwritten digits with shift / scale augmentation, and what it reads."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from backend.evaluation.faces_emoji_quality import SmallJudge


def _augment(x: Tensor, gen: torch.Generator) -> Tensor:
    """Random shifts of up to 3 px and scales of ±10 % (an affine grid per image)."""
    n = x.shape[0]
    scale = 1 + (torch.rand(n, generator=gen) - 0.5) * 0.2
    shift = (torch.rand(n, 2, generator=gen) - 0.5) * (6 / 16)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


def train_judge(images: Tensor, labels: Tensor, steps: int, seed: int) -> SmallJudge:
    """Train the judge on uint8 handwritten ``images`` (shift/scale augmentation)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    judge = SmallJudge(classes=10)  # the independent digits judge, 32×32 in [-1, 1]
    opt = torch.optim.Adam(judge.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=steps)
    x_all = images.float() / 127.5 - 1
    for _ in range(steps):
        idx = torch.randint(0, len(images), (64,), generator=gen)
        loss = F.cross_entropy(judge(_augment(x_all[idx], gen)), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return judge.eval()


@torch.no_grad()
def confusion(model: nn.Module, x: Tensor, labels: Tensor) -> list[list[int]]:
    """counts[true][predicted] of ``model`` on float images in [-1, 1]."""
    model.eval()
    pred = torch.cat([model(c).argmax(1) for c in x.split(500)])
    counts = torch.zeros(10, 10, dtype=torch.long)
    counts.index_put_((labels, pred), torch.ones_like(pred), accumulate=True)
    return counts.tolist()


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, labels: Tensor) -> float:
    """Top-1 accuracy of ``model`` on float images in [-1, 1]."""
    model.eval()
    pred = torch.cat([model(c).argmax(1) for c in x.split(500)])
    return float((pred == labels).float().mean())
