"""A one-line text progress bar for the training stages."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)


class ProgressBar:
    """A one-line text progress bar with the latest losses (written to a stream)."""

    def __init__(self, stream: Any = None, width: int = 24) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.start = time.monotonic()
        self.stage = ""

    def __call__(self, stage: str, step: int, total: int, losses: Mapping[str, float]) -> None:
        if stage != self.stage:
            self.stage, self.start = stage, time.monotonic()
        if step % max(1, total // 200) and step != total:
            return
        done = round(self.width * step / max(1, total))
        elapsed = time.monotonic() - self.start
        eta = elapsed / max(1, step) * (total - step)
        text = " ".join(f"{k} {v:.3f}" for k, v in losses.items())
        bar = "#" * done + "." * (self.width - done)
        line = f"\r{stage} [{bar}] {step}/{total} {text} eta {eta:4.0f}s"
        self.stream.write(line)
        if step == total:
            self.stream.write("\n")
        self.stream.flush()
