"""The algorithms' networks with their installed weights: the VGG backbone and the face finder.

``backend.algorithms`` defines the networks and never touches the weights folder; this module
puts the verified weights (``backend.assets.weights``) into them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from backend.algorithms.faces.detect import FaceFinder
from backend.algorithms.features import VGGFeatures, vgg16_features, vgg19_features
from backend.algorithms.nets.mtcnn import MTCNN
from backend.assets import weights
from backend.errors import WeightsMissing

log = logging.getLogger(__name__)

BACKBONES = ("vgg19-imagenet", "vgg16-hed")
"""Real backbones in order of preference."""


def load_backbone(name: str, weights_dir: Path, device: torch.device | str = "cpu") -> VGGFeatures:
    """The named backbone with verified weights from ``weights_dir`` (raises WeightsMissing)."""
    if name == "vgg19-imagenet":
        model = vgg19_features(weights.load_features("vgg19-imagenet", weights_dir))
    elif name == "vgg16-hed":
        model = vgg16_features(weights.load_features("vgg16-hed", weights_dir))
    else:
        raise ValueError(f"Unknown backbone {name!r}; known: {', '.join(BACKBONES)}")
    return model.to(device)


def default_backbone(weights_dir: Path, device: torch.device | str = "cpu") -> VGGFeatures:
    """vgg19-imagenet when its file is present (weights dir or torch hub cache), else vgg16-hed.

    Raises ``WeightsMissing("vgg16-hed")`` (message: the fetch command) when neither is there.
    """
    name = default_backbone_name(weights_dir)
    if name is None:
        raise WeightsMissing("vgg16-hed")
    log.info("backbone: %s", name)
    return load_backbone(name, Path(weights_dir), device)


def default_backbone_name(weights_dir: Path) -> str | None:
    """The backbone ``default_backbone`` would load, without loading it (None: no weights).

    Only looks for the files (cheap, for ``Filter.missing`` / ``dynamic_choices``); the sha256 is
    checked when the backbone is actually loaded.
    """
    for name in BACKBONES:
        if weights.find(name, Path(weights_dir)) is not None:
            return name
    return None


def load_face_finder(weights_dir: Path, device: torch.device | str = "cpu") -> FaceFinder:
    """The MTCNN face finder on the installed ``mtcnn`` weights (``WeightsMissing`` when absent)."""
    state = weights.load_state_dict("mtcnn", Path(weights_dir))
    return FaceFinder(MTCNN(state), torch.device(device))
