"""Attribute packs for DFI: mean VGG features of two example sets ("with" and "without").

A pack is one ``torch.save`` file holding, for each feature layer, the mean post-ReLU map of the
"with" examples and of the "without" examples (fp16, shape (C, h, w)), plus the backbone name, the
square resolution the examples were resized to, the example counts and a sha256 over all of it.
DFI's attribute vector is ``w = mean_with - mean_without`` (Upchurch et al. 2017, step 4).

Packs live in ``<attributes dir>/<backbone>/<name>.pt``; built-in packs shipped with the backend
live in ``backend/assets/packs/<backbone>/<name>.pt``. A user pack shadows a built-in one of the
same
name and backbone. Loading always uses ``torch.load(weights_only=True)`` and checks the sha256.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.nn import functional as F

from backend.algorithms.features import VGGFeatures

log = logging.getLogger(__name__)

FORMAT = "nlf-attribute-pack"
VERSION = 1
DFI_LAYERS = ("relu3_1", "relu4_1", "relu5_1")
"""DFI's feature layers (Upchurch et al. 2017; algorithms.md §1 step 3)."""
DEFAULT_RESOLUTION = 128
BUILTIN_DIR = Path(__file__).resolve().parent / "packs"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


class PackError(ValueError):
    """An attribute pack file is unreadable, corrupt (sha256 mismatch) or of another format."""


@dataclass(frozen=True)
class AttributePack:
    """Mean features of the "with" and "without" example sets of one attribute."""

    name: str
    backbone: str
    resolution: int
    layers: tuple[str, ...]
    mean_with: Mapping[str, Tensor]
    mean_without: Mapping[str, Tensor]
    count_with: int
    count_without: int
    source: str = ""
    sha256: str = ""
    path: Path | None = field(default=None, compare=False)
    frame: tuple[tuple[float, float], ...] | None = None
    """The face frame the examples were aligned to: five landmarks (x, y) in units of the
    working square (``faces.LANDMARKS`` order), measured with ``detector``; None for packs of
    unaligned crops (built before alignment, or with ``--no-align``)."""
    detector: str = ""

    def direction(self, layer: str) -> Tensor:
        """The attribute vector ``mean_with - mean_without`` of ``layer``, (C, h, w) float32."""
        return self.mean_with[layer].float() - self.mean_without[layer].float()


@dataclass(frozen=True)
class PackInfo:
    """A pack found on disk (without loading its tensors)."""

    name: str
    backbone: str
    path: Path
    builtin: bool


def content_sha256(pack: AttributePack) -> str:
    """sha256 over the pack's metadata and the fp16 bytes of every mean, in layer order."""
    h = hashlib.sha256()
    meta = {
        "name": pack.name,
        "backbone": pack.backbone,
        "resolution": pack.resolution,
        "layers": list(pack.layers),
        "count_with": pack.count_with,
        "count_without": pack.count_without,
    }
    if pack.frame is not None:  # packs without a frame keep the sha256 they were saved with
        meta["frame"] = [[round(float(v), 6) for v in p] for p in pack.frame]
        meta["detector"] = pack.detector
    h.update(json.dumps(meta, sort_keys=True).encode())
    for means in (pack.mean_with, pack.mean_without):
        for layer in pack.layers:
            t = means[layer].detach().to("cpu", torch.float16).contiguous()
            h.update(t.numpy().tobytes())
    return h.hexdigest()


# -- images ---------------------------------------------------------------------------------------
def image_files(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (raises if there are none)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"example folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return files


def read_image(path: Path) -> Tensor:
    """An image file as (1, 3, H, W) float32 RGB in [0, 1]."""
    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float() / 255.0


def resize_square(image: Tensor, resolution: int) -> Tensor:
    """(B, 3, H, W) -> (B, 3, R, R) with antialiased bilinear resampling (same as the filter)."""
    if image.shape[-2:] == (resolution, resolution):
        return image
    return F.interpolate(
        image, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=True
    ).clamp(0.0, 1.0)


# -- building -------------------------------------------------------------------------------------
@torch.no_grad()
def mean_features(
    images: Iterable[Tensor],
    backbone: VGGFeatures,
    resolution: int,
    layers: Sequence[str] = DFI_LAYERS,
    batch: int = 16,
    on_image: Callable[[int], None] | None = None,
) -> tuple[dict[str, Tensor], int]:
    """Mean post-ReLU map per layer over ``images`` (each (1, 3, H, W) in [0, 1]) and the count."""
    device = backbone.device
    sums: dict[str, Tensor] = {}
    count = 0
    pending: list[Tensor] = []

    def flush() -> None:
        nonlocal count
        x = torch.cat(pending).to(device)
        feats = backbone(x, layers)
        for layer in layers:
            s = feats[layer].double().sum(0)
            sums[layer] = s if layer not in sums else sums[layer] + s
        count += x.shape[0]
        pending.clear()
        if on_image is not None:
            on_image(count)

    for image in images:
        pending.append(resize_square(image.float(), resolution))
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    if count == 0:
        raise ValueError("no example images")
    return {layer: (sums[layer] / count).float().cpu() for layer in layers}, count


def build_pack(
    name: str,
    with_images: Iterable[Tensor],
    without_images: Iterable[Tensor],
    backbone: VGGFeatures,
    resolution: int = DEFAULT_RESOLUTION,
    layers: Sequence[str] = DFI_LAYERS,
    source: str = "",
    on_image: Callable[[int], None] | None = None,
    frame: Sequence[Sequence[float]] | None = None,
    detector: str = "",
) -> AttributePack:
    """A pack from two sets of aligned example images (each (1, 3, H, W) RGB in [0, 1]).

    ``frame``: the five landmarks (units of the square) the examples were warped to, if any."""
    check_name(name)
    need = backbone.min_size_for(layers)
    if resolution < need:
        raise ValueError(f"resolution {resolution} is below the backbone's minimum {need}")
    mean_with, n_with = mean_features(with_images, backbone, resolution, layers, on_image=on_image)
    mean_without, n_without = mean_features(
        without_images, backbone, resolution, layers, on_image=on_image
    )
    pack = AttributePack(
        name=name,
        backbone=backbone.name,
        resolution=resolution,
        layers=tuple(layers),
        mean_with={k: v.half() for k, v in mean_with.items()},
        mean_without={k: v.half() for k, v in mean_without.items()},
        count_with=n_with,
        count_without=n_without,
        source=source,
        frame=None if frame is None else tuple((float(x), float(y)) for x, y in frame),
        detector=detector if frame is not None else "",
    )
    return _with_sha(pack)


def build_pack_from_folders(
    name: str,
    with_dir: Path,
    without_dir: Path,
    backbone: VGGFeatures,
    resolution: int = DEFAULT_RESOLUTION,
    source: str = "",
) -> AttributePack:
    """A pack from two folders of aligned face crops (e.g. GENKI-4K ``smile`` / ``non_smile``)."""
    with_files, without_files = image_files(with_dir), image_files(without_dir)
    log.info("building '%s': %d with, %d without", name, len(with_files), len(without_files))
    return build_pack(
        name,
        (read_image(p) for p in with_files),
        (read_image(p) for p in without_files),
        backbone,
        resolution,
        source=source or f"with={Path(with_dir).name} without={Path(without_dir).name}",
    )


def _with_sha(pack: AttributePack) -> AttributePack:
    return AttributePack(**{**pack.__dict__, "sha256": content_sha256(pack)})


# -- files ----------------------------------------------------------------------------------------
def check_name(name: str) -> None:
    """Pack names are short identifiers: letters, digits, ``-`` and ``_``."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):  # ASCII only, no control characters
        raise ValueError(f"pack name {name!r} must be 1-64 letters, digits, '-' or '_'")


def pack_path(root: Path, backbone: str, name: str) -> Path:
    """Where the pack ``name`` for ``backbone`` lives under ``root``."""
    return Path(root) / backbone / f"{name}.pt"


def save_pack(pack: AttributePack, root: Path) -> Path:
    """Write ``pack`` to ``root/<backbone>/<name>.pt`` (atomically) and return the path."""
    check_name(pack.name)
    path = pack_path(root, pack.backbone, pack.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "name": pack.name,
        "backbone": pack.backbone,
        "resolution": int(pack.resolution),
        "layers": list(pack.layers),
        "count_with": int(pack.count_with),
        "count_without": int(pack.count_without),
        "source": pack.source,
        "sha256": pack.sha256 or content_sha256(pack),
        "frame": None if pack.frame is None else [[float(v) for v in p] for p in pack.frame],
        "detector": pack.detector,
        "mean_with": {k: pack.mean_with[k].half().contiguous() for k in pack.layers},
        "mean_without": {k: pack.mean_without[k].half().contiguous() for k in pack.layers},
    }
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_pack(path: Path) -> AttributePack:
    """Read and verify a pack file (``weights_only=True``; raises PackError when it is bad)."""
    path = Path(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise PackError(f"attribute pack {path} is unreadable: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise PackError(f"{path} is not an attribute pack")
    if data.get("version") != VERSION:
        raise PackError(f"{path} has pack version {data.get('version')}, expected {VERSION}")
    try:
        layers = tuple(data["layers"])
        pack = AttributePack(
            name=str(data["name"]),
            backbone=str(data["backbone"]),
            resolution=int(data["resolution"]),
            layers=layers,
            mean_with={k: data["mean_with"][k] for k in layers},
            mean_without={k: data["mean_without"][k] for k in layers},
            count_with=int(data["count_with"]),
            count_without=int(data["count_without"]),
            source=str(data.get("source", "")),
            sha256=str(data["sha256"]),
            path=path,
            frame=_frame(data.get("frame")),
            detector=str(data.get("detector", "")),
        )
    except (KeyError, TypeError) as exc:
        raise PackError(f"attribute pack {path} is missing {exc}") from exc
    actual = content_sha256(pack)
    if actual != pack.sha256:
        raise PackError(f"attribute pack {path} is corrupt (sha256 {actual} != {pack.sha256})")
    return pack


def _frame(raw: object) -> tuple[tuple[float, float], ...] | None:
    if raw is None:
        return None
    points = tuple((float(p[0]), float(p[1])) for p in raw)  # type: ignore[union-attr]
    if len(points) != 5:
        raise PackError(f"a pack's face frame has {len(points)} points, expected 5")
    return points


def list_packs(
    attributes_dir: Path | None, backbone: str | None = None, builtin_dir: Path | None = BUILTIN_DIR
) -> list[PackInfo]:
    """Packs in the user folder and the built-in folder (user first shadows built-in), sorted."""
    found: dict[tuple[str, str], PackInfo] = {}
    for root, builtin in ((attributes_dir, False), (builtin_dir, True)):
        if root is None or not Path(root).is_dir():
            continue
        for path in sorted(Path(root).glob("*/*.pt")):
            info = PackInfo(path.stem, path.parent.name, path, builtin)
            if backbone is not None and info.backbone != backbone:
                continue
            found.setdefault((info.backbone, info.name), info)
    return sorted(found.values(), key=lambda i: (i.backbone, i.name))


def find_pack(
    name: str, backbone: str, attributes_dir: Path | None, builtin_dir: Path | None = BUILTIN_DIR
) -> PackInfo | None:
    """The pack ``name`` for ``backbone`` (user folder first), or None."""
    for info in list_packs(attributes_dir, backbone, builtin_dir):
        if info.name == name:
            return info
    return None


def build_command(name: str = "smiling") -> str:
    """The shell command that builds a pack from two folders of examples."""
    return f"python -m backend attributes build {name} --with WITH_DIR --without WITHOUT_DIR"
