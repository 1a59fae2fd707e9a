"""Proving the vgg16-hed conversion: HED's own edges on the converted weights agree with Sobel.

Lives outside ``backend.assets.weights`` because it runs the feature nets of
``backend.algorithms.features``
(which loads its weights from ``backend.assets.weights``): the dependency goes one way.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from backend.assets.weights import VGG16_HED, VGG16_HED_HEAD, load_features, load_state_dict


# -- proving the vgg16-hed conversion ------------------------------------------------------------
def shapes_image(size: int = 256, seed: int = 0) -> Tensor:
    """A synthetic (1, 3, size, size) test image: coloured discs and boxes on a smooth gradient."""
    gen = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    base = torch.rand(3, 1, 1, generator=gen)
    image = (0.3 * base + 0.4 * (0.5 * xx + 0.5 * yy)).expand(3, size, size).clone()
    for i in range(14):
        colour = torch.rand(3, 1, 1, generator=gen)
        cx, cy = torch.rand(2, generator=gen).tolist()
        r = 0.05 + 0.15 * float(torch.rand(1, generator=gen))
        if i % 2:
            inside = (xx - cx) ** 2 + (yy - cy) ** 2 < r**2
        else:
            inside = ((xx - cx).abs() < r) & ((yy - cy).abs() < 0.6 * r)
        image = torch.where(inside, colour.expand_as(image), image)
    return image.unsqueeze(0).clamp(0, 1)


def sobel_magnitude(image: Tensor) -> Tensor:
    """Gradient magnitude (B, 1, H, W) of the luminance with 3x3 Sobel kernels, replicate padded."""
    from torch.nn import functional as F

    luma = (image * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]).view(1, 1, 3, 3)
    padded = F.pad(luma, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(padded, kx)
    gy = F.conv2d(padded, kx.transpose(-1, -2))
    return (gx**2 + gy**2).sqrt()


def edge_agreement(edges: Tensor, reference: Tensor, top: float = 0.1) -> dict[str, float]:
    """Pearson r between two edge maps and the ROC AUC of ``edges`` for the top ``top`` fraction of
    ``reference`` pixels (its strongest edges)."""
    a = edges.flatten().double()
    b = reference.flatten().double()
    r = float(torch.corrcoef(torch.stack([a, b]))[0, 1])
    positive = b >= torch.quantile(b, 1.0 - top)
    ranks = torch.empty_like(a)
    ranks[a.argsort()] = torch.arange(1, a.numel() + 1, dtype=torch.float64)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    auc = (float(ranks[positive].sum()) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return {"pearson": r, "auc": auc}


def hed_edges(backbone: Any, head_state: Mapping[str, Tensor], image: Tensor) -> Tensor:
    """HED's fused edge probability (B, 1, H, W) for ``image`` with the given body and head."""
    from backend.algorithms.features import HEDHead

    head = HEDHead()
    head.load_state_dict(dict(head_state), strict=True)
    with torch.no_grad():
        return head(backbone, image)[1]


def hed_check(root: Path, image: Tensor | None = None, seed: int = 0) -> dict[str, float]:
    """Agreement with Sobel of HED on the installed vgg16-hed (``hed``), on a seeded random VGG16
    (``random``) and on the installed body fed torchvision's normalisation instead of its own
    Caffe convention (``imagenet_norm``). Keys ``{variant}_{metric}``."""
    from backend.algorithms.features import IMAGENET, vgg16_features

    if image is None:
        image = shapes_image(seed=seed)
    head = load_state_dict(VGG16_HED_HEAD.name, root)
    body = load_features(VGG16_HED.name, root)
    reference = sobel_magnitude(image)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        random_body = vgg16_features(None, name="vgg16-random")
    variants = {
        "hed": (vgg16_features(body), image),
        "random": (random_body, image),
        "imagenet_norm": (vgg16_features(body, preprocess=IMAGENET), image),
    }
    out: dict[str, float] = {}
    for variant, (backbone, pixels) in variants.items():
        for metric, value in edge_agreement(hed_edges(backbone, head, pixels), reference).items():
            out[f"{variant}_{metric}"] = value
    return out
