"""CycleGAN's ResnetGenerator with the official state-dict layout (Zhu et al., ICCV 2017).

The module tree mirrors ``ResnetGenerator`` in junyanz/pytorch-CycleGAN-and-pix2pix
(models/networks.py): one ``nn.Sequential`` called ``model`` whose indices give the checkpoint keys
(``model.1.weight``, ``model.10.conv_block.5.bias``, ...), so official ``latest_net_G.pth`` files
load with ``strict=True`` once :func:`clean_state_dict` has removed DataParallel prefixes and the
legacy InstanceNorm running statistics.

The InstanceNorm layers are :class:`SharedStatsInstanceNorm`: parameter-free like the official
``InstanceNorm2d(affine=False)``, but able to record their statistics on one input and reuse them
on others, which is how large canvases are tiled without colour drift between tiles.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MULTIPLE = 4
"""Input sides must be multiples of this (two stride-2 downsamplings)."""

_LEGACY_NORM_KEYS = ("running_mean", "running_var", "num_batches_tracked")


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


class ResnetBlock(nn.Module):
    """Pad, conv3, IN, ReLU, pad, conv3, IN, plus the skip (keys ``conv_block.1`` / ``.5``)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=True),
            SharedStatsInstanceNorm(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=True),
            SharedStatsInstanceNorm(dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """The official ``resnet_9blocks`` / ``resnet_6blocks`` generator, no dropout.

    Input and output are (B, C, H, W) in [-1, 1] (the output is tanh) with H, W multiples of 4.
    ``ngf`` 64 and 9 blocks give 11,378,179 parameters in 48 tensors.
    """

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 9):
        super().__init__()
        if n_blocks < 0 or ngf < 1:
            raise ValueError(f"bad generator shape: ngf={ngf}, n_blocks={n_blocks}")
        self.arch = {"input_nc": input_nc, "output_nc": output_nc, "ngf": ngf, "n_blocks": n_blocks}
        self.multiple = MULTIPLE
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=True),
            SharedStatsInstanceNorm(ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            mult = 2**i
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=True),
                SharedStatsInstanceNorm(ngf * mult * 2),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(
                    ngf * mult,
                    ngf * mult // 2,
                    kernel_size=3,
                    stride=2,
                    padding=1,
                    output_padding=1,
                    bias=True,
                ),
                SharedStatsInstanceNorm(ngf * mult // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0)]
        layers += [nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)

    def norms(self) -> Iterator[SharedStatsInstanceNorm]:
        for m in self.modules():
            if isinstance(m, SharedStatsInstanceNorm):
                yield m

    @contextmanager
    def norm_mode(self, mode: str) -> Iterator[None]:
        """Set every InstanceNorm to ``mode`` ("instance", "capture", "fixed") inside the block."""
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


def clean_state_dict(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Strip DataParallel ``module.`` prefixes and drop legacy InstanceNorm running statistics.

    Mirrors upstream ``__patch_instance_norm_state_dict`` (models/base_model.py): checkpoints saved
    before PyTorch 0.4 carry ``running_mean`` / ``running_var`` / ``num_batches_tracked`` on the
    parameter-free norms. Only layers without an affine ``weight`` in the same state dict lose
    them: a BatchNorm's running statistics (U-Nets with ``--norm batch``) are kept.
    """
    stripped: dict[str, Tensor] = {}
    for key, value in state.items():
        k = key
        while k.startswith("module."):
            k = k[len("module.") :]
        stripped[k] = value
    out: dict[str, Tensor] = {}
    for k, value in stripped.items():
        layer, _, leaf = k.rpartition(".")
        if leaf in _LEGACY_NORM_KEYS and f"{layer}.weight" not in stripped:
            continue
        out[k] = value
    return out


_BLOCK_KEY = re.compile(r"^model\.(\d+)\.conv_block\.")


def infer_arch(state: Mapping[str, Tensor]) -> dict[str, int]:
    """Read ``input_nc``, ``output_nc``, ``ngf`` and ``n_blocks`` off a cleaned state dict.

    Raises ValueError naming what does not look like a ResnetGenerator.
    """
    first = state.get("model.1.weight")
    if not isinstance(first, Tensor) or first.dim() != 4 or tuple(first.shape[2:]) != (7, 7):
        raise ValueError("no 7x7 'model.1.weight' convolution: not a CycleGAN ResnetGenerator")
    ngf, input_nc = int(first.shape[0]), int(first.shape[1])
    blocks = {int(m.group(1)) for k in state if (m := _BLOCK_KEY.match(k))}
    n_blocks = len(blocks)
    if blocks != set(range(10, 10 + n_blocks)):
        raise ValueError(f"residual blocks at unexpected indices {sorted(blocks)}")
    last = state.get(f"model.{10 + n_blocks + 7}.weight")
    if not isinstance(last, Tensor) or last.dim() != 4:
        raise ValueError("no output convolution where a ResnetGenerator has one")
    return {"input_nc": input_nc, "output_nc": int(last.shape[0]), "ngf": ngf, "n_blocks": n_blocks}
