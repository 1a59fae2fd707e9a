"""Attribute packs from Labeled Faces in the Wild (deep-funneled) and its attribute scores.

``build-lfw`` downloads LFW deep-funneled (Huang et al. 2012) and the LFW attribute file of Kumar
et al. ("Attribute and Simile Classifiers", ICCV 2009) from their official addresses, then builds
one pack per attribute of the DFI paper's LFW set: for each attribute the ``k`` images with the
highest score are the "with" set and the ``k`` with the lowest score the "without" set
(Upchurch et al. rank by attribute too, but per input image; a fixed pack has to be global).
Faces are cropped like chainer-dfi (box (40, 20, 210, 190) of the 250x250 deep-funneled image).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tarfile
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from backend.algorithms.features import VGGFeatures
from backend.assets import attributes

log = logging.getLogger(__name__)

LFW_URL = "https://vis-www.cs.umass.edu/lfw/lfw-deepfunneled.tgz"
ATTRIBUTES_URL = "https://www.cs.columbia.edu/CAVE/databases/pubfig/download/lfw_attributes.txt"
ARCHIVE_ROOT = "lfw-deepfunneled"
FACE_BOX = (40, 20, 210, 190)
"""chainer-dfi's face crop of a 250x250 deep-funneled LFW image (left, top, right, bottom)."""
PACKS: Mapping[str, str] = {
    "smiling": "Smiling",
    "senior": "Senior",
    "mustache": "Mustache",
    "eyeglasses": "Eyeglasses",
    "mouth-open": "Mouth Slightly Open",
    "bald": "Bald",
}
"""Pack name -> column of the attribute file (the DFI paper's LFW attributes)."""


@dataclass(frozen=True)
class AttributeTable:
    """LFW attribute scores: ``columns`` names and one score row per image file."""

    columns: tuple[str, ...]
    rows: Mapping[str, tuple[float, ...]]
    """``"Person_Name/Person_Name_0001.jpg"`` -> scores in ``columns`` order."""

    def ranked(self, column: str) -> list[str]:
        """Image keys sorted by descending score in ``column``."""
        if column not in self.columns:
            raise KeyError(f"attribute {column!r} not in the LFW attribute file")
        i = self.columns.index(column)
        return sorted(self.rows, key=lambda k: (-self.rows[k][i], k))


def parse_attributes(text: str) -> AttributeTable:
    """Parse ``lfw_attributes.txt`` (tab separated; header ``#  person  imagenum  Male ...``)."""
    columns: tuple[str, ...] | None = None
    rows: dict[str, tuple[float, ...]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        cells = line.rstrip("\n").split("\t")
        if line.startswith("#"):
            names = [c.strip() for c in cells[1:]]
            if len(names) > 2 and names[0] == "person" and names[1] == "imagenum":
                columns = tuple(names[2:])
            continue
        if columns is None:
            raise ValueError("LFW attribute file has no '# person imagenum ...' header")
        if len(cells) != len(columns) + 2:
            raise ValueError(f"LFW attribute row has {len(cells)} cells: {line[:60]!r}")
        person = cells[0].strip().replace(" ", "_")
        key = f"{person}/{person}_{int(cells[1]):04d}.jpg"
        rows[key] = tuple(float(c) for c in cells[2:])
    if columns is None:
        raise ValueError("LFW attribute file has no header")
    return AttributeTable(columns, rows)


def download(url: str, dest: Path, sha256: str = "", timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` (via a temporary file; skipped when ``dest`` exists)."""
    if dest.is_file():
        log.info("using %s", dest)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    log.info("downloading %s", url)
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as response, tmp.open("wb") as out:
        while chunk := response.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    if sha256 and digest.hexdigest() != sha256:
        tmp.unlink()
        raise ValueError(f"{url}: sha256 {digest.hexdigest()} != {sha256}")
    tmp.replace(dest)
    return dest


def extract(archive: Path, dest: Path) -> Path:
    """Unpack the LFW archive safely (tarfile's ``data`` filter) and return its image root."""
    root = dest / ARCHIVE_ROOT
    if root.is_dir():
        return root
    tmp = dest / (ARCHIVE_ROOT + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with tarfile.open(archive, "r:*") as tar:
        tar.extractall(tmp, filter="data")
    inner = tmp / ARCHIVE_ROOT
    if not inner.is_dir():
        raise ValueError(f"{archive} has no {ARCHIVE_ROOT}/ folder")
    inner.replace(root)
    shutil.rmtree(tmp, ignore_errors=True)
    return root


def face_crop(image: Tensor) -> Tensor:
    """The chainer-dfi face box of a (1, 3, 250, 250) deep-funneled image (scaled if not 250)."""
    h, w = image.shape[-2:]
    x0, y0, x1, y1 = (round(v * s / 250) for v, s in zip(FACE_BOX, (w, h, w, h), strict=True))
    return image[..., y0:y1, x0:x1]


def _faces(root: Path, keys: Sequence[str]) -> Iterator[Tensor]:
    for key in keys:
        yield face_crop(attributes.read_image(root / key))


def build_lfw_packs(
    image_root: Path,
    table: AttributeTable,
    backbone: VGGFeatures,
    out_root: Path,
    k: int = 100,
    resolution: int = attributes.DEFAULT_RESOLUTION,
    packs: Mapping[str, str] = PACKS,
    on_pack: Callable[[str, Path], None] | None = None,
) -> list[Path]:
    """One pack per attribute: top-``k`` scored images vs bottom-``k`` (present files only)."""
    written = []
    for name, column in packs.items():
        ranked = [key for key in table.ranked(column) if (image_root / key).is_file()]
        n = min(k, len(ranked) // 2)
        if n == 0:
            raise ValueError(f"no LFW images found under {image_root} for {column!r}")
        with_keys, without_keys = ranked[:n], ranked[-n:]
        with torch.no_grad():
            pack = attributes.build_pack(
                name,
                _faces(image_root, with_keys),
                _faces(image_root, without_keys),
                backbone,
                resolution,
                source=f"LFW deep-funneled, '{column}' top/bottom {n} (Kumar et al. attributes)",
            )
        path = attributes.save_pack(pack, out_root)
        log.info("pack %s: %d with / %d without -> %s", name, n, n, path)
        if on_pack is not None:
            on_pack(name, path)
        written.append(path)
    return written


def fetch_and_build(
    backbone: VGGFeatures,
    out_root: Path,
    cache_dir: Path,
    lfw_url: str = LFW_URL,
    attributes_url: str = ATTRIBUTES_URL,
    k: int = 100,
    resolution: int = attributes.DEFAULT_RESOLUTION,
) -> list[Path]:
    """Download LFW + attributes into ``cache_dir`` (once) and build the paper's packs."""
    archive = download(lfw_url, cache_dir / "lfw-deepfunneled.tgz")
    attr_file = download(attributes_url, cache_dir / "lfw_attributes.txt")
    image_root = extract(archive, cache_dir)
    table = parse_attributes(attr_file.read_text(encoding="utf-8", errors="replace"))
    return build_lfw_packs(image_root, table, backbone, out_root, k, resolution)
