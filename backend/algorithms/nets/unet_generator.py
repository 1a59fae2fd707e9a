"""pix2pix / CycleGAN U-Net generator with the official state-dict layout (Isola et al., CVPR 2017).

The module tree mirrors ``UnetGenerator`` / ``UnetSkipConnectionBlock`` in
junyanz/pytorch-CycleGAN-and-pix2pix (models/networks.py, ``--netG unet_128`` / ``unet_256``): the
generator's ``model`` is the outermost block, every block holds one ``nn.Sequential`` called
``model``, and the next block sits inside it at index 1 (outermost) or 3 (middle blocks). Keys
therefore read ``model.model.0.weight`` (first 4x4 conv), ``model.model.1.model.1.weight``,
``model.model.1.model.3.model.1.weight``, ... and ``model.model.3.*`` (last up-convolution).

Official rules kept here: convolutions have a bias only when the norm is InstanceNorm, except the
outermost up-convolution, which always has one; the innermost block has no norm after its
down-convolution. ``--use_dropout`` appends ``Dropout(0.5)`` at index 7 of the middle 8*ngf
blocks, after everything that has keys, so checkpoints with and without dropout share one layout;
this network never applies dropout (the official ``test.py`` without ``--eval`` does, as noise).

Norms: ``"instance"`` uses :class:`SharedStatsInstanceNorm` (parameter-free, like the official
``InstanceNorm2d(affine=False)``); ``"batch"`` uses :class:`SharedStatsBatchNorm`, which holds the
keys of the official ``BatchNorm2d(affine=True)`` and by default normalises every image with its
own statistics: that is what the official ``test.py`` computes, since it leaves the network in
training mode unless ``--eval`` is given and runs batches of one image. The training run's running
averages (``test.py --eval``) are available with :meth:`UnetGenerator.running_stats`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from backend.algorithms.nets.shared_norms import (
    SharedNorms,
    SharedStatsBatchNorm,
    SharedStatsInstanceNorm,
)

NORMS = ("instance", "batch")


def _norm(norm: str, channels: int) -> SharedStatsInstanceNorm:
    return SharedStatsBatchNorm(channels) if norm == "batch" else SharedStatsInstanceNorm(channels)


class UnetBlock(nn.Module):
    """One level of the U-Net: down, the inner block, up, and the skip concatenation.

    Sequential indices as upstream's ``UnetSkipConnectionBlock``: outermost ``[conv, inner, relu,
    upconv, tanh]``, innermost ``[lrelu, conv, relu, upconv, norm]``, others ``[lrelu, conv,
    norm, inner, relu, upconv, norm]``.
    """

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        norm: str,
        inner: UnetBlock | None = None,
        input_nc: int | None = None,
        outermost: bool = False,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        bias = norm == "instance"
        in_nc = outer_nc if input_nc is None else input_nc
        down = nn.Conv2d(in_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=bias)
        up_in = inner_nc if inner is None else inner_nc * 2
        layers: list[nn.Module]
        if outermost:
            if inner is None:
                raise ValueError("the outermost U-Net block needs an inner block")
            up = nn.ConvTranspose2d(up_in, outer_nc, kernel_size=4, stride=2, padding=1, bias=True)
            layers = [down, inner, nn.ReLU(True), up, nn.Tanh()]
        elif inner is None:
            up = nn.ConvTranspose2d(up_in, outer_nc, kernel_size=4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, _norm(norm, outer_nc)]
        else:
            up = nn.ConvTranspose2d(up_in, outer_nc, kernel_size=4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, _norm(norm, inner_nc), inner]
            layers += [nn.ReLU(True), up, _norm(norm, outer_nc)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        y = self.model(x)
        return y if self.outermost else torch.cat([x, y], 1)


class UnetGenerator(SharedNorms, nn.Module):
    """The official ``unet_128`` (``num_downs`` 7) / ``unet_256`` (8) generator, no dropout.

    Input and output are (B, C, H, W) in [-1, 1] (the output is tanh) with H, W multiples of
    :attr:`multiple` (``2 ** num_downs``). ``ngf`` 64, ``num_downs`` 8, batch norm give the
    54,413,955 parameters of pix2pix's default generator.
    """

    def __init__(
        self,
        input_nc: int = 3,
        output_nc: int = 3,
        num_downs: int = 8,
        ngf: int = 64,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        if num_downs < 5 or ngf < 1 or norm not in NORMS:
            raise ValueError(f"bad U-Net shape: num_downs={num_downs}, ngf={ngf}, norm={norm!r}")
        self.arch = {
            "input_nc": input_nc,
            "output_nc": output_nc,
            "num_downs": num_downs,
            "ngf": ngf,
            "norm": norm,
        }
        self.multiple = 2**num_downs
        block = UnetBlock(ngf * 8, ngf * 8, norm)
        for _ in range(num_downs - 5):
            block = UnetBlock(ngf * 8, ngf * 8, norm, block)
        for mult in (4, 2, 1):
            block = UnetBlock(ngf * mult, ngf * mult * 2, norm, block)
        self.model = UnetBlock(output_nc, ngf, norm, block, input_nc=input_nc, outermost=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)

    @contextmanager
    def running_stats(self, enabled: bool = True) -> Iterator[None]:
        """Batch norms use the checkpoint's running averages inside the block (``test.py --eval``).

        No effect on instance-norm U-Nets, which have no running statistics.
        """
        batch = [m for m in self.norms() if isinstance(m, SharedStatsBatchNorm)]
        old = [m.use_running for m in batch]
        for m in batch:
            m.use_running = enabled
        try:
            yield
        finally:
            for m, o in zip(batch, old, strict=True):
                m.use_running = o
