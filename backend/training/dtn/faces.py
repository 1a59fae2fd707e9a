"""The faces → emoji domains: labelled GENKI-4K face crops, RGBA emoji, and skin luminance.

Source: the GENKI-4K training crops (64×64, "http://mplab.ucsd.edu, The MPLab GENKI-4K Dataset")
of the ``pack`` and ``judge`` parts of :mod:`backend.evaluation.genki_split` — the ``heldout`` part
is
never loaded here, so the quality protocol's faces are never trained on. Each face gets labels
that need no outside data:

- ``smile``: GENKI's own label (its smile/ or non_smile/ folder);
- ``tone``: the tertile of its skin luminance (:func:`skin_luminance` of the crop);
- ``top``: the tertile of the luminance of the crop's top strip (hair or background).

f for faces is pretrained on their product (2 × 3 × 3 = 18 classes, :func:`joint_labels`).

Target: the emoji folder built by ``scripts/build_emoji.py --toned-smileys``, as RGBA where the
colour is composited over mid grey (so the RGB half is an ordinary picture that f can read) and the
fourth channel is the emoji's alpha. Smileys whose names say neither smiling nor not smiling
("other") are left out.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from backend.evaluation.genki_split import LABELS, split_files

TRAIN_PARTS = ("pack", "judge")
"""The GENKI parts faces → emoji trains on; ``heldout`` is for evaluation only."""
SKIN_BOX = (0.40, 0.75, 0.25, 0.75)
"""(y0, y1, x0, x1) of a face crop or an emoji square read for skin: cheeks, nose and mouth."""
TOP_ROWS = 0.15
"""The top strip of a face crop (hair or background), as a fraction of its height."""
GREY = 0.5
"""What the emoji's colour is composited over (in [0, 1])."""
LUMA = (0.299, 0.587, 0.114)


def _luma(rgb: Tensor) -> Tensor:
    w = torch.tensor(LUMA, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb[:, :3] * w).sum(1)


def _box(x: Tensor, box: tuple[float, float, float, float] = SKIN_BOX) -> Tensor:
    h, w = x.shape[-2:]
    y0, y1, x0, x1 = box
    return x[..., round(y0 * h) : round(y1 * h), round(x0 * w) : round(x1 * w)]


def skin_luminance(images: Tensor) -> Tensor:
    """(N,) median luma of the skin box of float images (N, 3|4, S, S) in [0, 1].

    With an alpha channel only pixels at least half opaque count (a transparent box reads as NaN).
    """
    luma = _box(_luma(images)).flatten(1)
    if images.shape[1] == 4:
        keep = _box(images[:, 3]).flatten(1) >= 0.5
        luma = torch.where(keep, luma, torch.full_like(luma, float("nan")))
    return luma.nanmedian(1).values


def soft_skin_luminance(images: Tensor) -> Tensor:
    """(N,) mean luma of the skin box of images (N, ≥3, S, S) in [-1, 1], differentiable
    (the tone term of training; :func:`skin_luminance` is the measurement)."""
    return _box(_luma((images[:, :3] + 1) / 2)).flatten(1).mean(1)


def top_luminance(images: Tensor) -> Tensor:
    """(N,) mean luma of the top strip of float images (N, 3, S, S) in [0, 1]."""
    return _box(_luma(images), (0.0, TOP_ROWS, 0.0, 1.0)).flatten(1).mean(1)


def tertiles(values: Tensor, edges: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """(bin 0/1/2 of each value, the two edges): edges default to the values' own tertiles."""
    if edges is None:
        edges = torch.quantile(values.float(), torch.tensor([1 / 3, 2 / 3]))
    return torch.bucketize(values.float(), edges), edges


def joint_labels(smile: Tensor, tone: Tensor, top: Tensor) -> Tensor:
    """The 18-way class of f's pretraining: smile × skin-tone tertile × top-strip tertile."""
    return smile * 9 + tone * 3 + top


def _read(path: Path, size: int, mode: str) -> np.ndarray:
    from backend.training.dtn.data import square

    with Image.open(path) as img:
        return np.asarray(square(img.convert(mode), size))


def load_faces(
    root: str | Path | None, size: int, parts: tuple[str, ...] = TRAIN_PARTS
) -> tuple[Tensor, Tensor, list[Path]]:
    """GENKI crops of ``parts`` as uint8 (N, 3, size, size), their smile labels (1 = smiling) and
    paths. Raises FileNotFoundError when the crops are missing."""
    files = split_files(root)
    paths, smile = [], []
    for part in parts:
        for label in LABELS:
            paths += files[part][label]
            smile += [int(label == "smile")] * len(files[part][label])
    if not paths:
        raise FileNotFoundError(f"no GENKI crops in the parts {', '.join(parts)}")
    images = np.stack([_read(p, size, "RGB") for p in paths])
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    return x, torch.tensor(smile), paths


def face_labels(images: Tensor, smile: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """(joint labels, {"smile", "tone", "top", "tone_edges", "top_edges"}) of uint8 faces."""
    x = images.float() / 255
    tone, tone_edges = tertiles(skin_luminance(x))
    top, top_edges = tertiles(top_luminance(x))
    parts = {"smile": smile, "tone": tone, "top": top}
    return joint_labels(smile, tone, top), {
        **parts,
        "tone_edges": tone_edges,
        "top_edges": top_edges,
    }


def manifest_rows(folder: str | Path) -> list[dict[str, str]]:
    """The emoji folder's manifest rows that :func:`load_emoji` loads ("other" smileys left
    out). Raises ValueError without a manifest or without faces."""
    manifest = Path(folder) / "manifest.csv"
    if not manifest.is_file():
        raise ValueError(f"'{folder}' has no manifest.csv: build it with scripts/build_emoji.py")
    with open(manifest, newline="", encoding="utf-8") as fh:
        rows = [
            r for r in csv.DictReader(fh) if r["kind"] == "person" or r["expression"] != "other"
        ]
    if not rows:
        raise ValueError(f"no emoji faces listed in {manifest}")
    return rows


def emoji_smile(rows: list[dict[str, str]]) -> Tensor:
    """(N,) smile labels of emoji manifest rows: 1 smiling, 0 not smiling, -1 neither."""
    code = {"smiling": 1, "not_smiling": 0}
    return torch.tensor([code.get(r["expression"], -1) for r in rows])


def load_emoji(folder: str | Path, size: int) -> tuple[Tensor, list[dict[str, str]]]:
    """The emoji folder's faces as uint8 RGBA (N, 4, size, size), colour over :data:`GREY`, and
    their manifest rows ("other" smileys left out). Raises ValueError without a manifest."""
    root = Path(folder)
    rows = manifest_rows(root)
    images = np.stack([_read(root / r["file"], size, "RGBA") for r in rows]).astype(np.float32)
    a = images[..., 3:] / 255
    images[..., :3] = images[..., :3] * a + 255 * GREY * (1 - a)
    x = torch.from_numpy(images.round().astype(np.uint8)).permute(0, 3, 1, 2).contiguous()
    return x, rows


def is_emoji_folder(folder: str | Path) -> bool:
    """Whether ``folder`` is an emoji folder built by scripts/build_emoji.py."""
    return (Path(folder) / "manifest.csv").is_file()


def emoji_labels(emoji: Tensor, rows: list[dict[str, str]]) -> tuple[Tensor, Tensor]:
    """(RGB uint8 images, joint labels) of the emoji whose names say smiling or not smiling,
    labelled like the faces (:func:`face_labels`): smile from the name × tertile of their own
    skin luminance × tertile of their own top strip. f pretrained on these beside the faces
    (``--f-emoji``) reads a smile the same way in both domains."""
    keep = [i for i, r in enumerate(rows) if r["expression"] in ("smiling", "not_smiling")]
    if not keep:
        raise ValueError("no emoji with a smiling / not smiling name to label")
    images = emoji[keep]
    smile = torch.tensor([int(rows[i]["expression"] == "smiling") for i in keep])
    x = images.float() / 255
    tone, _ = tertiles(skin_luminance(x))
    top, _ = tertiles(top_luminance(x[:, :3]))
    return images[:, :3].contiguous(), joint_labels(smile, tone, top)
