"""A step report (progress, stage, message, preview) and the callback that takes it: what
filters and the algorithms they run report between steps (the callback raises ``Cancelled``
once the job is stopped)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class Step:
    """One progress report: step ``i`` of ``total`` in ``stage``; ``preview`` is (1, 3, h, w)."""

    i: int
    total: int
    stage: str = ""
    message: str = ""
    preview: Tensor | None = None

    @property
    def fraction(self) -> float:
        return min(1.0, max(0.0, self.i / self.total)) if self.total else 0.0


StepCallback = Callable[[Step], None]
"""Called by filters between steps; raises ``Cancelled`` once the job's stop event is set."""
