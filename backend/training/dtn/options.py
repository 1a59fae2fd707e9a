"""The options of a DTN run (saved in its checkpoint) and the progress callback type."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from backend.algorithms.nets.dtn import (
    DtnConfig,
)

log = logging.getLogger(__name__)


CONSTANCY = ("code", "class")
F_KINDS = ("folders", "face")
"""How f is pretrained: on the source's class sub-folders (or rotations), or on face labels."""
"""What L_CONST compares: f's codes (the paper) or the class posteriors of f's pretraining head."""

F_ALIGN = ("smile", "mmd", "reverse")
"""How ``f_domain`` pulls the face and emoji codes of f together: MMD within each smile half,
MMD over all, or a domain classifier behind a gradient reversal."""

Progress = Callable[[str, int, int, Mapping[str, float]], None]
"""``progress(stage, step, total, losses)``, called after every training step."""


@dataclass(frozen=True)
class DtnOptions:
    """Everything a DTN run depends on (saved in its checkpoint)."""

    size: int = 32
    width: float = 1.0
    code_dim: int = 128
    batch: int = 64
    iterations: int = 2000
    lr: float = 2e-4
    beta1: float = 0.5
    alpha: float = 15.0
    beta: float = 15.0
    gamma: float = 0.0
    adversarial: float = 1.0
    g_steps: int = 1
    r1: float = 0.0
    ema: float = 0.0
    ema_start: int = 1000
    diff_augment: bool = False
    constancy: str = "code"
    f_iterations: int = 1000
    f_lr: float = 1e-3
    f: str = "folders"
    tone: float = 0.0
    f_emoji: bool = False
    f_domain: float = 0.0
    f_align: str = "smile"
    f_augment: bool = False
    robust_constancy: bool = False
    expression: float = 0.0
    prototypes: float = 0.0
    target_alpha: bool = False
    checkpoint_every: int = 250
    sample_every: int = 250
    seed: int = 0

    def __post_init__(self) -> None:
        if self.constancy not in CONSTANCY:
            raise ValueError(
                f"constancy must be one of {', '.join(CONSTANCY)}, not {self.constancy!r}"
            )
        if self.f_align not in F_ALIGN:
            raise ValueError(f"f_align must be one of {', '.join(F_ALIGN)}, not {self.f_align!r}")
        if self.f not in F_KINDS:
            raise ValueError(f"f must be one of {', '.join(F_KINDS)}, not {self.f!r}")

    def config(self, classes: int = 10) -> DtnConfig:
        return DtnConfig(
            self.size, self.code_dim, self.width, classes, 4 if self.target_alpha else 3
        )


FACE_PRESET: dict[str, object] = {
    "size": 32,
    "width": 0.25,
    "batch": 32,
    "iterations": 1000,
    "lr": 1e-3,
    "alpha": 1.0,
    "beta": 15.0,
    "gamma": 1.0,
    "adversarial": 0.1,
    "r1": 1.0,
    "ema": 0.995,
    "ema_start": 600,
    "constancy": "code",
    "f_iterations": 4000,
    "f": "face",
    "f_emoji": True,
    "f_domain": 1.0,
    "f_align": "smile",
    "f_augment": True,
    "tone": 30.0,
    "expression": 2.0,
    "prototypes": 0.25,
    "target_alpha": True,
    "checkpoint_every": 200,
    "sample_every": 250,
}
"""The defaults of ``--f face`` (faces → emoji); options given on the command line win."""
