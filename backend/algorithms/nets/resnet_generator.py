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

from collections.abc import Mapping

from torch import Tensor, nn

from backend.algorithms.nets.shared_norms import (
    SharedNorms,
    SharedStatsAffineInstanceNorm,
    SharedStatsBatchNorm,
    SharedStatsInstanceNorm,
)

MULTIPLE = 4
"""Input sides must be multiples of this (two stride-2 downsamplings)."""

_LEGACY_NORM_KEYS = ("running_mean", "running_var", "num_batches_tracked")


NORMS = ("instance", "instance_affine", "batch", "none")
"""Norm layers a ResnetGenerator can have (``batch``: BatchNorm keys, per-image statistics)."""
UPSAMPLES = ("convtranspose", "upsample")
"""Decoders: stride-2 ConvTranspose2d (official) or nearest Upsample x2 then a stride-1 Conv2d."""


def norm_layer(norm: str, channels: int) -> nn.Module:
    """The norm module of kind ``norm`` (an Identity for ``none``, keeping the indices)."""
    if norm == "instance":
        return SharedStatsInstanceNorm(channels)
    if norm == "instance_affine":
        return SharedStatsAffineInstanceNorm(channels)
    if norm == "batch":
        return SharedStatsBatchNorm(channels)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {norm!r}; known: {', '.join(NORMS)}")


class ResnetBlock(nn.Module):
    """Pad, conv3, IN, ReLU, pad, conv3, IN, plus the skip (keys ``conv_block.1`` / ``.5``)."""

    def __init__(self, dim: int, norm: str = "instance", bias: bool = True) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=bias),
            norm_layer(norm, dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=bias),
            norm_layer(norm, dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(SharedNorms, nn.Module):
    """The official ``resnet_9blocks`` / ``resnet_6blocks`` generator, no dropout.

    Input and output are (B, C, H, W) in [-1, 1] (the output is tanh) with H, W multiples of 4.
    ``ngf`` 64 and 9 blocks give 11,378,179 parameters in 48 tensors.

    The defaults give the official layout; the other options cover re-implementations whose
    tensors differ but whose maths is the same network: ``norm`` (see :data:`NORMS`),
    ``upsample`` (see :data:`UPSAMPLES`), ``conv_bias`` (all convolutions but the output one),
    ``out_bias`` and the kernel sides of the down- and up-sampling convolutions. With
    ``upsample="upsample"`` each decoder stage is ``[Upsample, Conv2d, norm, ReLU]`` (zero
    padding ``k // 2``), so the output convolution sits two indices later.
    """

    def __init__(
        self,
        input_nc: int = 3,
        output_nc: int = 3,
        ngf: int = 64,
        n_blocks: int = 9,
        *,
        norm: str = "instance",
        upsample: str = "convtranspose",
        conv_bias: bool = True,
        out_bias: bool = True,
        down_kernel: int = 3,
        up_kernel: int = 3,
    ):
        super().__init__()
        if n_blocks < 0 or ngf < 1:
            raise ValueError(f"bad generator shape: ngf={ngf}, n_blocks={n_blocks}")
        if upsample not in UPSAMPLES or norm not in NORMS or down_kernel not in (3, 4):
            raise ValueError(f"bad generator options: norm={norm!r}, upsample={upsample!r}")
        if up_kernel not in ((3, 4) if upsample == "convtranspose" else (3,)):
            raise ValueError(f"{upsample} kernel {up_kernel} is not supported")
        self.arch = {"input_nc": input_nc, "output_nc": output_nc, "ngf": ngf, "n_blocks": n_blocks}
        self.multiple = MULTIPLE
        bias = conv_bias
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=bias),
            norm_layer(norm, ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            mult = 2**i
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, down_kernel, stride=2, padding=1, bias=bias),
                norm_layer(norm, ngf * mult * 2),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(ngf * 4, norm, bias) for _ in range(n_blocks)]
        for i in range(2):
            c = ngf * 2 ** (2 - i)
            if upsample == "convtranspose":
                pad, out_pad = (1, 1) if up_kernel == 3 else (1, 0)
                up = nn.ConvTranspose2d(c, c // 2, up_kernel, 2, pad, out_pad, bias=bias)
                layers += [up]
            else:
                layers += [
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.Conv2d(c, c // 2, up_kernel, padding=up_kernel // 2, bias=bias),
                ]
            layers += [norm_layer(norm, c // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7, padding=0, bias=out_bias)]
        layers += [nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


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
