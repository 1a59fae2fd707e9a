"""Which official generator a CycleGAN / pix2pix state dict holds, and building it again.

The ``cyclegan`` model kind accepts the generators of junyanz/pytorch-CycleGAN-and-pix2pix:
``resnet_9blocks`` / ``resnet_6blocks`` (:mod:`backend.nets.resnet_generator`; a 7x7
``model.1.weight``) and ``unet_128`` / ``unet_256`` (:mod:`backend.nets.unet_generator`; a 4x4
``model.model.0.weight``), with instance or batch norm for the U-Nets. :func:`infer_arch` reads the
architecture off the tensors and names it in ``netG``; :func:`build` makes the untrained network.
Arch dicts recorded before U-Nets existed have no ``netG`` and still build a ResnetGenerator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from backend.nets import resnet_generator
from backend.nets.resnet_generator import ResnetGenerator
from backend.nets.unet_generator import UnetGenerator

_UNET_FIRST = "model.model.0.weight"
_UNET_LAST = "model.model.3.weight"


def _unet_arch(state: Mapping[str, Tensor]) -> dict[str, Any]:
    """Read input/output channels, ngf, depth and norm off an official U-Net state dict."""
    first, last = state.get(_UNET_FIRST), state.get(_UNET_LAST)
    if not isinstance(first, Tensor) or first.dim() != 4 or tuple(first.shape[2:]) != (4, 4):
        raise ValueError(f"no 4x4 '{_UNET_FIRST}' convolution: not a U-Net generator")
    if not isinstance(last, Tensor) or last.dim() != 4 or tuple(last.shape[2:]) != (4, 4):
        raise ValueError(f"no 4x4 '{_UNET_LAST}' up-convolution: not a U-Net generator")
    ngf, input_nc = int(first.shape[0]), int(first.shape[1])
    # Nested blocks: model.model.1, then .model.3 per level down; each has a conv at .model.1.
    prefix, inner_blocks = "model.model.1", 0
    while isinstance(state.get(f"{prefix}.model.1.weight"), Tensor):
        inner_blocks += 1
        prefix += ".model.3"
    num_downs = inner_blocks + 1
    if num_downs < 5:
        raise ValueError(f"U-Net with {num_downs} levels; the official ones have at least 5")
    norm = "batch" if "model.model.1.model.2.weight" in state else "instance"
    return {
        "netG": f"unet_{2**num_downs}",
        "input_nc": input_nc,
        "output_nc": int(last.shape[1]),
        "ngf": ngf,
        "num_downs": num_downs,
        "norm": norm,
    }


def infer_arch(state: Mapping[str, Tensor]) -> dict[str, Any]:
    """The arch of a cleaned ResNet or U-Net generator state dict, with its ``netG`` name.

    Raises ValueError naming what does not look like either.
    """
    if _UNET_FIRST in state:
        return _unet_arch(state)
    if "model.1.weight" not in state:
        raise ValueError(
            "neither a ResnetGenerator (7x7 'model.1.weight') nor a U-Net "
            f"(4x4 '{_UNET_FIRST}'): not a CycleGAN / pix2pix generator"
        )
    arch = resnet_generator.infer_arch(state)
    return {"netG": f"resnet_{arch['n_blocks']}blocks", **arch}


def build(arch: Mapping[str, Any]) -> nn.Module:
    """The untrained generator for ``arch`` (a ResnetGenerator when ``netG`` is absent)."""
    net_g = str(arch.get("netG", "resnet"))
    input_nc, output_nc = int(arch.get("input_nc", 3)), int(arch.get("output_nc", 3))
    if net_g.startswith("unet"):
        return UnetGenerator(
            input_nc,
            output_nc,
            int(arch.get("num_downs", 8)),
            int(arch.get("ngf", 64)),
            str(arch.get("norm", "batch")),
        )
    if not net_g.startswith("resnet"):
        raise ValueError(f"unknown generator netG={net_g!r}")
    return ResnetGenerator(
        input_nc, output_nc, int(arch.get("ngf", 64)), int(arch.get("n_blocks", 9))
    )
