"""What ``train cyclegan`` reads: folders of images, their keep masks and their class labels.

- :class:`Domain`: one folder of images, resized (short side 286/256 of the crop) and cropped,
  optionally with a binary *keep mask* per image (white = keep) cropped and flipped with it.
- :func:`read_labels`: a ``file,class`` CSV naming the class of any subset of a domain's images.
- :class:`ImagePool`: the history of generated images the discriminators see half of the time.
"""

from __future__ import annotations

import csv
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")

MaskMaker = Callable[[Path, Image.Image], Image.Image]
"""Makes the keep mask of one image (``L`` mode, white = keep), e.g. from its faces."""


def image_files(folder: str | Path) -> list[Path]:
    """Image files directly in ``folder``, sorted; raises ValueError when there are none."""
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"'{folder}' is not a folder")
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in '{folder}'")
    return files


def mask_files(images: Sequence[Path], folder: str | Path) -> list[Path | None]:
    """The mask of each image in ``folder`` (same file stem, any image suffix), or None.

    Raises ValueError when ``folder`` is not a folder or holds no mask of any of the images.
    """
    by_stem = {p.stem: p for p in image_files(folder)}
    found: list[Path | None] = [by_stem.get(p.stem) for p in images]
    if not any(found):
        raise ValueError(f"no mask in '{folder}' has the file stem of an image of the domain")
    absent = sum(m is None for m in found)
    if absent:
        n = len(found)
        log.warning("%d of %d images have no mask in %s (nothing kept there)", absent, n, folder)
    return found


class Domain:
    """One folder of images, resized to ``load`` px (short side) and cropped to ``size``.

    Without ``resize`` (``--preprocess crop``) images keep their size (those smaller than
    ``size`` are scaled up to it) and are only cropped.

    With ``masks`` (a folder, see :func:`mask_files`) or ``mask_maker`` every image carries a
    fourth channel, its keep mask in {0, 1}, cropped and flipped with it; :meth:`sample` then
    returns (B, 4, size, size).
    """

    def __init__(
        self,
        folder: str | Path,
        size: int,
        masks: str | Path | None = None,
        mask_maker: MaskMaker | None = None,
        resize: bool = True,
    ) -> None:
        self.files = image_files(folder)
        self.size = size
        self.load = max(size, round(size * 286 / 256)) if resize else size
        self.resize = resize
        self.masks: list[Path | None] | None = None
        if masks:
            self.masks = mask_files(self.files, masks)
        self.mask_maker = mask_maker
        self._cache: dict[int, Tensor] = {}

    @property
    def has_masks(self) -> bool:
        return self.masks is not None or self.mask_maker is not None

    def __len__(self) -> int:
        return len(self.files)

    def _resize(self, im: Image.Image, resample: Image.Resampling) -> Tensor:
        w, h = im.size
        s = self.load / min(w, h)
        if not self.resize and s <= 1:  # --preprocess crop: as they are (up to ``size``)
            s = 1.0
        im = im.resize((max(self.load, round(w * s)), max(self.load, round(h * s))), resample)
        return torch.from_numpy(np.asarray(im).copy())

    def image(self, i: int) -> Tensor:
        """(3, h, w) in [-1, 1] (plus the mask channel in {0, 1}), short side ``load``; cached."""
        if i in self._cache:
            return self._cache[i]
        with Image.open(self.files[i]) as im:
            rgb = im.convert("RGB")
        x = self._resize(rgb, Image.Resampling.BICUBIC).permute(2, 0, 1).float() / 127.5 - 1
        if self.has_masks:
            x = torch.cat([x, self._mask(i, rgb)[None]])
        if len(self._cache) < 2000:
            self._cache[i] = x
        return x

    def _mask(self, i: int, rgb: Image.Image) -> Tensor:
        if self.mask_maker is not None:
            mask = self.mask_maker(self.files[i], rgb).convert("L")
        elif self.masks is not None and self.masks[i] is not None:
            with Image.open(self.masks[i]) as m:  # type: ignore[arg-type]
                mask = m.convert("L")
        else:
            mask = Image.new("L", rgb.size, 0)
        if mask.size != rgb.size:
            raise ValueError(
                f"mask of '{self.files[i].name}' is {mask.size[0]}x{mask.size[1]}, "
                f"the image {rgb.size[0]}x{rgb.size[1]}"
            )
        return (self._resize(mask, Image.Resampling.NEAREST) >= 128).float()

    def sample(self, indices: Sequence[int], rng: random.Random, augment: bool = True) -> Tensor:
        """(B, C, size, size) random crops (centre crops when not ``augment``), random flips."""
        out = []
        for i in indices:
            x = self.image(i)
            h, w = x.shape[-2:]
            if augment:
                y0, x0 = rng.randint(0, h - self.size), rng.randint(0, w - self.size)
            else:
                y0, x0 = (h - self.size) // 2, (w - self.size) // 2
            x = x[:, y0 : y0 + self.size, x0 : x0 + self.size]
            if augment and rng.random() < 0.5:
                x = x.flip(-1)
            out.append(x)
        return torch.stack(out)


def read_labels(path: str | Path, files: Sequence[Path]) -> dict[int, str]:
    """``{image index: class}`` from a ``file,class`` CSV (a header row ``file,class`` is skipped).

    ``file`` is an image's file name or stem in its domain folder; unlisted images stay unlabelled.
    Raises ValueError for rows naming no image of the domain or with an empty class.
    """
    index = {p.name: i for i, p in enumerate(files)}
    index.update({p.stem: i for i, p in enumerate(files)})
    out: dict[int, str] = {}
    with open(path, newline="") as fh:
        for n, row in enumerate(csv.reader(fh), 1):
            if not row or not "".join(row).strip() or (n == 1 and row[:2] == ["file", "class"]):
                continue
            if len(row) < 2 or not row[1].strip():
                raise ValueError(f"{path}:{n}: expected 'file,class', got {','.join(row)!r}")
            name, cls = Path(row[0].strip()).name, row[1].strip()
            if name not in index and Path(name).stem not in index:
                raise ValueError(f"{path}:{n}: no image '{row[0].strip()}' in the domain folder")
            out[index.get(name, index.get(Path(name).stem, -1))] = cls
    if not out:
        raise ValueError(f"{path} labels no image")
    return out


def label_tensor(labels: Mapping[int, str], classes: Sequence[str], n: int) -> Tensor:
    """(n,) class indices into ``classes``, -1 for unlabelled images."""
    t = torch.full((n,), -1, dtype=torch.long)
    for i, cls in labels.items():
        t[i] = list(classes).index(cls)
    return t


def face_mask_maker(weights_dir: str | None = None, finder: Any = None) -> MaskMaker:
    """Keep masks from the MTCNN face finder: each face's box widened by a tenth per side.

    ``finder`` (a :class:`backend.algorithms.faces.FaceFinder`) defaults to the one on the installed
    ``mtcnn`` weights (raises WeightsMissing when they are absent).
    """
    from PIL import ImageDraw

    if finder is None:
        from backend.assets.nets import load_face_finder
        from backend.dirs import weights_dir as default_weights_dir

        finder = load_face_finder(default_weights_dir(weights_dir))

    def make(path: Path, rgb: Image.Image) -> Image.Image:
        x = torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1)[None].float() / 255
        mask = Image.new("L", rgb.size, 0)
        draw = ImageDraw.Draw(mask)
        faces = finder.find(x)
        for face in faces:
            x0, y0, x1, y1 = face.box
            dx, dy = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
            draw.rectangle((x0 - dx, y0 - dy, x1 + dx, y1 + dy), fill=255)
        if not faces:
            log.warning("no face found in %s: nothing kept there", path.name)
        return mask

    return make


class ImagePool:
    """History of generated images (Shrivastava et al.): D sees old fakes half of the time."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self.size = size
        self.rng = rng
        self.images: list[Tensor] = []

    def query(self, batch: Tensor) -> Tensor:
        if self.size == 0:
            return batch
        out = []
        for img in batch.detach():
            if len(self.images) < self.size:
                self.images.append(img)
                out.append(img)
            elif self.rng.random() < 0.5:
                j = self.rng.randrange(self.size)
                out.append(self.images[j])
                self.images[j] = img
            else:
                out.append(img)
        return torch.stack(out)
