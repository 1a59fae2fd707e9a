"""Checking weights files: sha256 digests, ``.sha256`` side files, safe loading and saving."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import tempfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from backend.errors import WeightsMissing

log = logging.getLogger(__name__)


class WeightsCorrupt(WeightsMissing):
    """A weights file is present but fails its checks; the fix is to fetch it again."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name, f"python -m backend weights fetch {name} --force")
        self.reason = reason
        self.args = (f"weights '{name}' are damaged ({reason}); run: {self.command}",)


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


def digest_matches(got: str, want: str) -> bool:
    want = want.lower()
    return len(want) >= 8 and got.lower().startswith(want)


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
