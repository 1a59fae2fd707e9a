"""Where weights, attribute packs and models live (flag > env var > XDG default)."""

from __future__ import annotations

import os
from pathlib import Path


def data_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "neural-layer-filters"


def weights_dir(flag: str | os.PathLike[str] | None = None) -> Path:
    return Path(flag or os.environ.get("NLF_WEIGHTS_DIR") or data_home() / "weights")


def attributes_dir(flag: str | os.PathLike[str] | None = None) -> Path:
    return Path(flag or os.environ.get("NLF_ATTRIBUTES_DIR") or data_home() / "attributes")


def models_dir(flag: str | os.PathLike[str] | None = None) -> Path:
    return Path(flag or os.environ.get("NLF_MODELS_DIR") or data_home() / "models")
