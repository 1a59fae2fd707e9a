"""The run folder's files: f with its pretraining head, checkpoints, the model; saved atomically."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from backend.algorithms.nets.dtn import (
    DtnConfig,
    Encoder,
)

log = logging.getLogger(__name__)


CHECKPOINT, ENCODER, MODEL = "checkpoint.pth", "f.pth", "model.pth"


def save_encoder(f: Encoder, path: Path, head: nn.Linear | None = None) -> None:
    """Save f as a flat state dict (``f.net.*``), with its pretraining head (``head.*``) if any."""
    state = {f"f.{k}": v for k, v in f.state_dict().items()}
    if head is not None:
        state.update({f"head.{k}": v for k, v in head.state_dict().items()})
    torch.save(state, path)


def load_head(path: str | Path) -> nn.Linear | None:
    """The pretraining head saved next to f by :func:`save_encoder` (None when there is none)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    weight, bias = state.get("head.weight"), state.get("head.bias")
    if not isinstance(weight, Tensor) or not isinstance(bias, Tensor) or weight.ndim != 2:
        return None
    head = nn.Linear(weight.shape[1], weight.shape[0])
    head.load_state_dict({"weight": weight, "bias": bias})
    return head.eval().requires_grad_(False)


def load_encoder(path: str | Path) -> Encoder:
    """Load an f saved by :func:`save_encoder` (or any DTN model file) with weights_only=True."""
    from backend.algorithms.nets.dtn import infer_config

    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise ValueError(f"'{path}' is not a state dict")
    f_state = {k[2:]: v for k, v in state.items() if k.startswith("f.")}
    probe = {**{f"f.{k}": v for k, v in f_state.items()}, "g.net.0.weight": torch.zeros(1)}
    cfg = DtnConfig.from_dict(infer_config(probe))
    f = Encoder(cfg)
    f.load_state_dict(f_state, strict=True)
    return f.eval().requires_grad_(False)


def run_conflict(store: Any, name: str, run_dir: Path, resume: bool) -> str | None:
    """Why a new training run must not start (None: it may): the model name is taken in
    ``store`` (a ``ModelStore``) or ``run_dir`` holds a checkpoint, unless ``resume``."""
    if resume:
        return None
    if name in [e.name for e in store.entries()]:
        return f"a model named '{name}' exists already"
    if (run_dir / CHECKPOINT).is_file():
        return f"{run_dir} holds a checkpoint; add --resume or choose --run-dir"
    return None


def start_run(args: Any, kind: str) -> tuple[Path, Any] | None:
    """The shared start of a ``train`` command: threads, the run folder (``--run-dir`` or
    ``runs/<kind>/<name>``) and the model store; None (after saying why on stderr) when
    ``run_conflict`` forbids a new run."""
    from backend.assets.models import ModelStore
    from backend.dirs import data_home, models_dir

    if args.threads:
        torch.set_num_threads(args.threads)
    run_dir = Path(args.run_dir) if args.run_dir else data_home() / "runs" / kind / args.name
    store = ModelStore(models_dir(getattr(args, "models_dir", None)))
    conflict = run_conflict(store, args.name, run_dir, args.resume)
    if conflict:
        print(f"error: {conflict}", file=sys.stderr)
        return None
    return run_dir, store


def save_atomic(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)
