"""Norm layers that can record their statistics on one input and reuse them on others.

CycleGAN generators (:mod:`backend.algorithms.nets.resnet_generator`,
:mod:`backend.algorithms.nets.unet_generator`)
tile large canvases with them: a capture pass over a downscaled whole, then every tile normalised
with those statistics, so tiles agree in colour. None adds state-dict keys of its own beyond the
official layers' (InstanceNorm: none; affine InstanceNorm: weight / bias; BatchNorm: BatchNorm2d's).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SharedStatsInstanceNorm(nn.Module):
    """``InstanceNorm2d(affine=False, eps=1e-5)`` that can capture and reuse its statistics.

    Modes: ``"instance"`` (the official behaviour), ``"capture"`` (normalise per instance and keep
    the per-channel mean / variance of this call), ``"fixed"`` (normalise with the kept statistics).
    It has no parameters or buffers, so the state-dict layout is unchanged.
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.mode = "instance"
        self.stats: tuple[Tensor, Tensor] | None = None

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "instance":
            return F.instance_norm(x, eps=self.eps)
        if self.mode == "capture":
            xf = x.float()
            var, mean = torch.var_mean(xf, dim=(2, 3), keepdim=True, correction=0)
            self.stats = (mean, var)
            return F.instance_norm(x, eps=self.eps)
        if self.stats is None:
            raise RuntimeError("fixed-statistics mode needs a capture pass first")
        mean, var = self.stats
        out = (x.float() - mean) * torch.rsqrt(var + self.eps)
        return out.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, mode={self.mode}"


class SharedStatsAffineInstanceNorm(SharedStatsInstanceNorm):
    """``InstanceNorm2d(affine=True)``: :class:`SharedStatsInstanceNorm` then ``weight`` / ``bias``.

    Many re-implementations of CycleGAN train their InstanceNorms with affine parameters.
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__(num_features, eps)
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "instance":
            return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
        out = super().forward(x)
        shape = (1, -1, 1, 1)
        return out * self.weight.view(shape).to(out.dtype) + self.bias.view(shape).to(out.dtype)


class SharedStatsBatchNorm(SharedStatsInstanceNorm):
    """``BatchNorm2d(affine=True, track_running_stats=True)`` keys, per-image statistics.

    Modes as :class:`SharedStatsInstanceNorm` (``"instance"``, ``"capture"``, ``"fixed"``), followed
    by the affine ``weight`` / ``bias``. With ``use_running`` set, every mode normalises with the
    stored ``running_mean`` / ``running_var`` instead (the official network in eval mode), which
    needs no statistics pass for tiling.
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__(num_features, eps)
        self.use_running = False
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: Tensor) -> Tensor:
        if self.use_running:
            return F.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
            )
        if self.mode == "instance":
            return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
        out = super().forward(x)
        shape = (1, -1, 1, 1)
        return out * self.weight.view(shape).to(out.dtype) + self.bias.view(shape).to(out.dtype)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, affine, running={self.use_running}"


class SharedNorms:
    """What a generator built from these norms offers its tiler: its norms, a mode for all of them
    inside a block, and forgetting captured statistics (mixed into ``nn.Module`` generators)."""

    def norms(self) -> Iterator[SharedStatsInstanceNorm]:
        for m in self.modules():  # type: ignore[attr-defined]
            if isinstance(m, SharedStatsInstanceNorm):
                yield m

    @contextmanager
    def norm_mode(self, mode: str) -> Iterator[None]:
        """Set every norm to ``mode`` ("instance", "capture", "fixed") inside the block."""
        if mode not in ("instance", "capture", "fixed"):
            raise ValueError(f"unknown norm mode {mode!r}")
        old = [m.mode for m in self.norms()]
        for m in self.norms():
            m.mode = mode
        try:
            yield
        finally:
            for m, o in zip(self.norms(), old, strict=True):
                m.mode = o

    def clear_stats(self) -> None:
        for m in self.norms():
            m.stats = None
