"""f: the encoder pretrained (then frozen) as a classifier of the source images."""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from backend.algorithms.nets.dtn import (
    Classifier,
    Encoder,
    init_weights,
)
from backend.training.dtn.augment import augment
from backend.training.dtn.data import as_batch
from backend.training.dtn.options import DtnOptions, Progress

log = logging.getLogger(__name__)


class _Reverse(torch.autograd.Function):
    """Identity forward, gradient times -λ backward (Ganin & Lempitsky, ICML 2015)."""

    @staticmethod
    def forward(ctx, x: Tensor, lam: float) -> Tensor:  # type: ignore[override]
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        return -ctx.lam * grad, None


def mmd(a: Tensor, b: Tensor) -> Tensor:
    """Squared maximum mean discrepancy of two code sets (N, C), (M, C): a sum of Gaussian
    kernels at bandwidths ¼–4 × the median pairwise distance (Gretton et al. 2012)."""
    both = torch.cat([a, b])
    d2 = torch.cdist(both, both).pow(2)
    scale = d2.detach().median().clamp_min(1e-6)
    k = sum(torch.exp(-d2 / (scale * s)) for s in (0.25, 1.0, 4.0))
    n = len(a)
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


def domain_head(code_dim: int) -> nn.Module:
    """The domain classifier f's code must fool (face 0 / emoji 1)."""
    return nn.Sequential(nn.Linear(code_dim, 64), nn.LeakyReLU(0.2), nn.Linear(64, 2))


def pretrain_classifier(
    images: Tensor,
    labels: Tensor | None,
    opts: DtnOptions,
    device: torch.device | None = None,
    progress: Progress | None = None,
    domains: Tensor | None = None,
) -> tuple[Classifier, float]:
    """Train f as a classifier of the (uint8) source ``images``; return (frozen f + head, accuracy).

    f is ``.encoder`` of the result, its head ``.head``. With ``labels`` None, f learns to tell
    the rotation (0/90/180/270°) of each image instead. The accuracy is measured on a held-out
    tenth (on the training data when there are < 20).

    ``domains`` (0 = face, 1 = emoji per image) with ``opts.f_domain`` > 0 pulls the two domains'
    codes together while the one head reads both, by ``opts.f_align``: "smile", the MMD between
    face and emoji codes within each smile half of the face labels (label // 9, see
    ``faces.joint_labels``); "mmd", over all codes; "reverse", a small domain classifier whose
    gradient is reversed into f (Ganin & Lempitsky 2015). The weight ramps from 0 to
    ``f_domain`` (their schedule), so f first learns the classes: without it the MMD wins by
    collapsing the code.

    ``opts.f_augment``: f trains on random views of its batches (``augment.augment``: mirrored,
    zoomed, shifted, lit, coloured, blurred a little), so that its code moves less when a
    photo's crop differs from the training crops in those ways. The accuracy is measured on
    the images as they are.
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
    confuse = domains is not None and opts.f_domain > 0
    params = list(model.parameters())
    if confuse:
        critic = domain_head(cfg.code_dim).to(device)
        params += list(critic.parameters())
    optim = torch.optim.Adam(params, lr=opts.f_lr)
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
        if opts.f_augment:
            x = augment(x, gen)
        if confuse:
            code = model.encoder(x).flatten(1)
            loss = F.cross_entropy(model.head(code), y)
            dom = domains[idx].to(device)
            ramp = 2 / (1 + math.exp(-10 * step / opts.f_iterations)) - 1
            if opts.f_align in ("mmd", "smile"):
                # "smile": faces and emoji matched within each smile half of the face labels
                group = y // 9 if opts.f_align == "smile" else torch.zeros_like(y)
                for g in group.unique():
                    a, b = code[(dom == 0) & (group == g)], code[(dom == 1) & (group == g)]
                    if len(a) > 1 and len(b) > 1:
                        loss = loss + opts.f_domain * ramp * mmd(a, b)
            else:
                guess = critic(_Reverse.apply(code, opts.f_domain * ramp))
                loss = loss + F.cross_entropy(guess, dom)
        else:
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
