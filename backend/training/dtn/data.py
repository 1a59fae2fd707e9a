"""Image folders as uint8 tensors (labels from class sub-folders) and training batches."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

log = logging.getLogger(__name__)


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def square(img: Image.Image, size: int) -> Image.Image:
    """Centre-crop to a square and resize to ``size``."""
    w, h = img.size
    s = min(w, h)
    img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    return img.resize((size, size), Image.Resampling.BICUBIC if s < size else Image.Resampling.BOX)


def load_folder(folder: str | Path, size: int) -> tuple[Tensor, Tensor | None, list[str]]:
    """All images under ``folder`` as uint8 (N, 3, size, size), plus labels and class names.

    Labels come from first-level sub-folders when there are at least two with images; otherwise
    they are None. Raises ValueError when the folder holds no image.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"'{root}' is not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under '{root}'")
    classes = sorted({p.relative_to(root).parts[0] for p in files if p.parent != root})
    labelled = len(classes) >= 2 and all(p.parent != root for p in files)
    images = np.empty((len(files), size, size, 3), np.uint8)
    for i, path in enumerate(files):
        with Image.open(path) as img:
            images[i] = np.asarray(square(img.convert("RGB"), size))
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    if not labelled:
        return x, None, []
    index = {c: i for i, c in enumerate(classes)}
    labels = torch.tensor([index[p.relative_to(root).parts[0]] for p in files])
    return x, labels, classes


def as_batch(images: Tensor, idx: Tensor, device: torch.device) -> Tensor:
    """uint8 images at ``idx`` → float in [-1, 1] on ``device``."""
    return images[idx].to(device).float().div_(127.5).sub_(1.0)
