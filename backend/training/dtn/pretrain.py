"""f: the encoder pretrained (then frozen) as a classifier of the source images."""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import Tensor

from backend.algorithms.nets.dtn import (
    Classifier,
    Encoder,
    init_weights,
)
from backend.training.dtn.data import as_batch
from backend.training.dtn.options import DtnOptions, Progress

log = logging.getLogger(__name__)


def pretrain_classifier(
    images: Tensor,
    labels: Tensor | None,
    opts: DtnOptions,
    device: torch.device | None = None,
    progress: Progress | None = None,
) -> tuple[Classifier, float]:
    """Train f as a classifier of the (uint8) source ``images``; return (frozen f + head, accuracy).

    f is ``.encoder`` of the result, its head ``.head``. With ``labels`` None, f learns to tell
    the rotation (0/90/180/270°) of each image instead. The accuracy is measured on a held-out
    tenth (on the training data when there are < 20).
    """
    device = device or torch.device("cpu")
    gen = torch.Generator().manual_seed(opts.seed)
    torch.manual_seed(opts.seed)
    n = images.shape[0]
    perm = torch.randperm(n, generator=gen)
    n_val = n // 10 if n >= 20 else 0
    val, train = (perm[:n_val], perm[n_val:]) if n_val else (perm, perm)
    classes = int(labels.max()) + 1 if labels is not None else 4
    cfg = opts.config(max(2, classes))
    model = Classifier(Encoder(cfg)).to(device)
    init_weights(model)
    optim = torch.optim.Adam(model.parameters(), lr=opts.f_lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, max(1, opts.f_iterations))

    def inputs(idx: Tensor) -> tuple[Tensor, Tensor]:
        x = as_batch(images, idx, device)
        if labels is not None:
            return x, labels[idx].to(device)
        k = torch.randint(0, 4, (len(idx),), generator=gen)
        x = torch.stack([torch.rot90(xi, int(ki), (1, 2)) for xi, ki in zip(x, k, strict=True)])
        return x, k.to(device)

    model.train()
    for step in range(1, opts.f_iterations + 1):
        idx = train[torch.randint(0, len(train), (opts.batch,), generator=gen)]
        x, y = inputs(idx)
        loss = F.cross_entropy(model(x), y)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        sched.step()
        if progress is not None:
            progress("f", step, opts.f_iterations, {"ce": loss.item()})
    model.eval()
    correct = 0
    with torch.no_grad():
        for chunk in val.split(512):
            x, y = inputs(chunk)
            correct += int((model(x).argmax(1) == y).sum())
    return model.eval().requires_grad_(False), correct / max(1, len(val))
