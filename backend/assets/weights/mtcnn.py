"""The ``mtcnn`` weights: MTCNN's P-, R- and O-Net from the ``facenet-pytorch==2.6.0`` wheel.

The wheel (MIT, © 2019 Timothy Esler) is fetched with ``pip download --no-deps`` and never
installed (it pins an old torch). Its three ``facenet_pytorch/data/{p,r,o}net.pt`` files are
plain ``OrderedDict[str, Tensor]`` pickles in torch's legacy format, which
``torch.load(weights_only=True)`` reads; they are pinned by sha256, checked to load strictly into
``backend.algorithms.nets.mtcnn``, and saved as one ``mtcnn.pth`` (keys ``pnet.*``, ``rnet.*``,
``onet.*``)
with its digest recorded in ``mtcnn.pth.sha256``, like ``vgg16-hed``.
"""

from __future__ import annotations

import hashlib
import io
import logging
import subprocess
import sys
import zipfile
from pathlib import Path

from torch import Tensor

from backend.assets.weights.catalogue import MTCNN as MTCNN_WEIGHTS
from backend.assets.weights.checks import WeightsCorrupt, safe_load, save_verified, sha256_file
from backend.assets.weights.download import download
from backend.assets.weights.store import verify, wheel_cache_dir

log = logging.getLogger(__name__)

FACENET_WHEEL = "facenet-pytorch==2.6.0"
FACENET_WHEEL_FILE = "facenet_pytorch-2.6.0-py3-none-any.whl"
FACENET_WHEEL_SHA256 = "ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca"
FACENET_MEMBERS: dict[str, tuple[str, str]] = {
    "pnet": (
        "facenet_pytorch/data/pnet.pt",
        "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
    ),
    "rnet": (
        "facenet_pytorch/data/rnet.pt",
        "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
    ),
    "onet": (
        "facenet_pytorch/data/onet.pt",
        "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
    ),
}
"""net -> (member path in the wheel, its pinned sha256)."""


def download_wheel(dest_dir: Path, url: str | None = None) -> Path:
    """The pinned wheel into ``dest_dir``: from ``url`` (a mirror) or ``pip download --no-deps``."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    wheel = dest_dir / FACENET_WHEEL_FILE
    if url is not None:
        return download(url, wheel, FACENET_WHEEL_SHA256, progress=None)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", FACENET_WHEEL, "-d", str(dest_dir),
    ]  # fmt: skip
    log.info("running %s", " ".join(cmd))
    subprocess.run(cmd, check=True)
    if not wheel.is_file():
        raise FileNotFoundError(f"pip did not produce {wheel}")
    return wheel


def convert_wheel(wheel: Path) -> dict[str, Tensor]:
    """The ``MTCNN`` state dict read from the pinned wheel (checks every sha256)."""
    from backend.algorithms.nets.mtcnn import MTCNN

    got = sha256_file(wheel)
    if got != FACENET_WHEEL_SHA256:
        raise WeightsCorrupt("mtcnn", f"wheel {wheel.name} sha256 {got[:16]}… is not pinned")
    state: dict[str, Tensor] = {}
    with zipfile.ZipFile(wheel) as zf:
        for net, (member, sha) in FACENET_MEMBERS.items():
            data = zf.read(member)
            if hashlib.sha256(data).hexdigest() != sha:
                raise WeightsCorrupt("mtcnn", f"{member} in the wheel is not the pinned file")
            part = safe_load(io.BytesIO(data), "mtcnn")
            state.update({f"{net}.{k}": v.float() for k, v in part.items()})
    MTCNN().load_state_dict(state, strict=True)  # raises unless every name and shape fits
    return state


def install(wheel: Path, root: Path) -> str:
    """Convert ``wheel`` into ``root/mtcnn.pth`` (+ ``.sha256`` side file); returns the digest."""
    return save_verified(convert_wheel(wheel), Path(root) / MTCNN_WEIGHTS.filename)


def fetch(
    root: Path, *, wheel: Path | None = None, url: str | None = None, force: bool = False
) -> Path:
    """Install ``mtcnn`` into ``root``: from ``wheel``, else the cached wheel, else ``url`` (a
    mirror of the wheel), else ``pip download``. Does nothing when already installed and valid."""
    root = Path(root)
    dest = root / MTCNN_WEIGHTS.filename
    if not force and verify(MTCNN_WEIGHTS.name, root).ok:
        log.info("mtcnn already installed in %s", root)
        return dest
    if wheel is None:
        cached = wheel_cache_dir() / FACENET_WHEEL_FILE
        if cached.is_file() and sha256_file(cached) == FACENET_WHEEL_SHA256:
            wheel = cached
        else:
            wheel = download_wheel(wheel_cache_dir(), url)
    install(Path(wheel), root)
    log.info("installed mtcnn into %s", root)
    return dest
