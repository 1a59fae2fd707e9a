"""Which CycleGAN / pix2pix generator a state dict holds, read off its tensors, not its key names.

Checkpoints people share differ from the official junyanz/pytorch-CycleGAN-and-pix2pix layout in
ways that do not change the maths: key names (``model.N.conv_block.M`` in aitorzip's
PyTorch-CycleGAN, ``res_blocks.N.block.M`` or ``encoder`` / ``decoder`` elsewhere), ``module.``
prefixes, affine InstanceNorms, Upsample + Conv decoders, 6 or 9 blocks, ngf 32 or 64.

:func:`match` walks the tensors in their stored order (the order the modules were registered,
which is the order of the forward pass in every implementation we know of) and groups them into
layers by key prefix. From the shapes it decides the generator:

- ResnetGenerator (a 7x7 input convolution): ``ngf`` and input channels from the first
  convolution, the number of residual blocks from the number of (4 ngf, 4 ngf, 3, 3) convolutions
  (two per block), the norm from the layer after the first convolution
  (no tensors = the official parameter-free InstanceNorm; affine weight / bias = affine
  InstanceNorm; with running statistics = BatchNorm), conv
  biases, and the decoder from the shape of the first up-sampling weight (a ConvTranspose2d stores
  (in, out, k, k) with in > out, a Conv2d after an Upsample (out, in, k, k)).
- U-Net (a 4x4 first convolution): ``ngf``, depth (two convolutions per level) and norm.

It then builds the project's network for that architecture and compares the two tensor lists
layer by layer; the first difference is reported with both keys and shapes. The matched tensors
are renamed to the project's keys (:func:`canonical_state_dict`), so the store loads them with
``strict=True``. What tensors cannot tell is assumed as upstream has it: reflection padding in the
residual blocks, nearest-neighbour upsampling with zero padding before a decoder Conv2d, and
per-image statistics for BatchNorm (the official ``test.py`` without ``--eval``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from backend.algorithms.nets.resnet_generator import ResnetGenerator, clean_state_dict
from backend.algorithms.nets.unet_generator import UnetGenerator

LEAVES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
"""Tensor names a layer of a generator can hold."""
_COUNTER = "num_batches_tracked"


@dataclass
class _Layer:
    prefix: str
    first: int
    """Position of its first tensor in the state dict."""
    tensors: dict[str, Tensor] = field(default_factory=dict)

    def key(self, leaf: str) -> str:
        return f"{self.prefix}.{leaf}" if self.prefix else leaf

    @property
    def is_conv(self) -> bool:
        w = self.tensors.get("weight")
        return isinstance(w, Tensor) and w.dim() == 4


def _shape(t: Tensor) -> str:
    return str(tuple(int(n) for n in t.shape))


def _layers(state: Mapping[str, Tensor]) -> list[_Layer]:
    """The tensors grouped by layer, in stored order; unknown tensor names raise ValueError."""
    layers: list[_Layer] = []
    by_prefix: dict[str, _Layer] = {}
    for i, (key, value) in enumerate(state.items()):
        prefix, _, leaf = key.rpartition(".")
        if leaf not in LEAVES:
            raise ValueError(
                f"tensor #{i} '{key}' {_shape(value)}: a '{leaf}' tensor, which no layer of a "
                f"CycleGAN generator has (expected one of {', '.join(LEAVES)})"
            )
        layer = by_prefix.get(prefix)
        if layer is None:
            layer = by_prefix[prefix] = _Layer(prefix, i)
            layers.append(layer)
        layer.tensors[leaf] = value
    return layers


def _norm_of(layer: _Layer | None) -> str:
    """A norm without tensors is the official parameter-free InstanceNorm (``none`` looks alike)."""
    if layer is None or layer.is_conv or "weight" not in layer.tensors:
        return "instance"
    return "batch" if "running_mean" in layer.tensors else "instance_affine"


def _guess(layers: list[_Layer]) -> dict[str, Any]:
    """The architecture the shapes point to (checked afterwards by :func:`_compare`)."""
    if not layers:
        raise ValueError("the state dict holds no tensors")
    first = layers[0]
    w = first.tensors.get("weight")
    k = tuple(w.shape[2:]) if isinstance(w, Tensor) and w.dim() == 4 else ()
    if k not in ((7, 7), (4, 4)):
        key = first.key(next(iter(first.tensors)))
        t = next(iter(first.tensors.values()))
        raise ValueError(
            f"tensor #0 '{key}' {_shape(t)}: expected a generator's input convolution, "
            "(ngf, channels, 7, 7) for a ResnetGenerator or (ngf, channels, 4, 4) for a U-Net"
        )
    assert isinstance(w, Tensor)
    ngf, input_nc = int(w.shape[0]), int(w.shape[1])
    convs = [layer for layer in layers if layer.is_conv]
    has_bias = "bias" in first.tensors
    if k == (4, 4):
        last = convs[-1].tensors["weight"]
        norm = "batch" if any("running_mean" in layer.tensors for layer in layers) else "instance"
        num_downs = max(5, len(convs) // 2)
        return {
            "netG": f"unet_{2**num_downs}",
            "input_nc": input_nc,
            "output_nc": int(last.shape[1]),
            "ngf": ngf,
            "num_downs": num_downs,
            "norm": norm,
        }
    square = [c for c in convs if tuple(c.tensors["weight"].shape) == (4 * ngf, 4 * ngf, 3, 3)]
    n_blocks = len(square) // 2
    norm = _norm_of(layers[1] if len(layers) > 1 else None)
    down = convs[1].tensors["weight"] if len(convs) > 1 else w
    after = 3 + 2 * n_blocks
    up = convs[after].tensors["weight"] if len(convs) > after else None
    upsample, up_kernel = "convtranspose", 3
    if up is not None:
        up_kernel = int(up.shape[-1])
        upsample = "convtranspose" if up.shape[0] > up.shape[1] else "upsample"
    out = convs[-1]
    return {
        "netG": f"resnet_{n_blocks}blocks",
        "input_nc": input_nc,
        "output_nc": int(out.tensors["weight"].shape[0]),
        "ngf": ngf,
        "n_blocks": n_blocks,
        "norm": norm,
        "upsample": upsample,
        "conv_bias": has_bias,
        "out_bias": "bias" in out.tensors,
        "down_kernel": int(down.shape[-1]) if int(down.shape[-1]) in (3, 4) else 3,
        "up_kernel": up_kernel if up_kernel in (3, 4) else 3,
    }


def _role(net: nn.Module, prefix: str) -> str:
    """What the project's layer at ``prefix`` is, in words."""
    mod = net.get_submodule(prefix)
    name = type(mod).__name__
    if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
        k = "x".join(str(s) for s in mod.kernel_size)
        if ".conv_block." in prefix:
            return f"{k} {name} of residual block {prefix.split('.')[1]}"
        return f"{k} {name}"
    return f"norm layer ({name})"


def _compare(src: list[_Layer], net: nn.Module, arch: Mapping[str, Any]) -> dict[str, Tensor]:
    """Rename ``src``'s tensors to ``net``'s keys, or raise naming the first mismatch."""
    target = _layers(net.state_dict())
    what = describe(arch)
    n_src = sum(len(layer.tensors) for layer in src)
    out: dict[str, Tensor] = {}
    for i, tgt in enumerate(target):
        if i >= len(src):
            leaf = next(iter(tgt.tensors))
            raise ValueError(
                f"the state dict ends after {n_src} tensors: expected '{tgt.key(leaf)}' "
                f"{_shape(tgt.tensors[leaf])}, the {_role(net, tgt.prefix)} of a {what}"
            )
        have = src[i]
        want_leaves = [leaf for leaf in tgt.tensors if leaf != _COUNTER]
        got_leaves = [leaf for leaf in have.tensors if leaf != _COUNTER]
        for j, leaf in enumerate(want_leaves):
            want = tgt.tensors[leaf]
            got_leaf = got_leaves[j] if j < len(got_leaves) else None
            got = have.tensors[got_leaf] if got_leaf is not None else None
            if got is None or got_leaf != leaf or got.shape != want.shape:
                if got is None:
                    found = f"layer '{have.prefix}' (tensor #{have.first} on) has no '{leaf}'"
                else:
                    pos = have.first + list(have.tensors).index(got_leaf)
                    found = f"tensor #{pos} '{have.key(got_leaf)}' {_shape(got)}"
                raise ValueError(
                    f"{found}: expected '{tgt.key(leaf)}' {_shape(want)}, the "
                    f"{_role(net, tgt.prefix)} of a {what}"
                )
            out[tgt.key(leaf)] = got
        if len(got_leaves) > len(want_leaves):
            extra = got_leaves[len(want_leaves)]
            pos = have.first + list(have.tensors).index(extra)
            raise ValueError(
                f"tensor #{pos} '{have.key(extra)}' {_shape(have.tensors[extra])}: the "
                f"{_role(net, tgt.prefix)} of a {what} has no '{extra}'"
            )
        if _COUNTER in tgt.tensors:
            zero = torch.zeros((), dtype=torch.long)
            out[tgt.key(_COUNTER)] = have.tensors.get(_COUNTER, zero)
    if len(src) > len(target):
        extra = src[len(target)]
        leaf = next(iter(extra.tensors))
        raise ValueError(
            f"tensor #{extra.first} '{extra.key(leaf)}' {_shape(extra.tensors[leaf])}: a {what} "
            f"ends after {sum(len(t.tensors) for t in target)} tensors"
        )
    return out


def match(state: Mapping[str, Tensor]) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """(arch, the tensors under the project's keys) for a generator state dict.

    ``module.`` prefixes and legacy InstanceNorm running statistics are removed first. Raises
    ValueError naming the first tensor that does not fit, with its key and shape and what the
    generator has there.
    """
    layers = _layers(clean_state_dict(state))
    arch = _guess(layers)
    with torch.device("meta"):
        net = build(arch)
    return arch, _compare(layers, net, arch)


def canonical_state_dict(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The tensors renamed to the project's layout (the ``clean`` hook of the model kind)."""
    return match(state)[1]


def infer_arch(state: Mapping[str, Tensor]) -> dict[str, Any]:
    """The arch of a ResNet or U-Net generator state dict, with its ``netG`` name.

    Raises ValueError naming the first tensor that does not fit.
    """
    return match(state)[0]


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
        input_nc,
        output_nc,
        int(arch.get("ngf", 64)),
        int(arch.get("n_blocks", 9)),
        norm=str(arch.get("norm", "instance")),
        upsample=str(arch.get("upsample", "convtranspose")),
        conv_bias=bool(arch.get("conv_bias", True)),
        out_bias=bool(arch.get("out_bias", True)),
        down_kernel=int(arch.get("down_kernel", 3)),
        up_kernel=int(arch.get("up_kernel", 3)),
    )


_NORM_WORDS = {
    "instance": "InstanceNorm",
    "instance_affine": "affine InstanceNorm",
    "batch": "BatchNorm",
    "none": "no norm",
}


def describe(arch: Mapping[str, Any]) -> str:
    """One line for people: ``ResnetGenerator 9 blocks, ngf 64, InstanceNorm, ConvTranspose``."""
    net_g = str(arch.get("netG", "resnet"))
    io = ""
    if (arch.get("input_nc", 3), arch.get("output_nc", 3)) != (3, 3):
        io = f", {arch.get('input_nc')}->{arch.get('output_nc')} channels"
    norm = _NORM_WORDS.get(str(arch.get("norm", "instance")), str(arch.get("norm")))
    if net_g.startswith("unet"):
        side = 2 ** int(arch.get("num_downs", 8))
        return f"U-Net {side} ({arch.get('num_downs')} levels), ngf {arch.get('ngf')}, {norm}{io}"
    up = "Upsample+Conv" if arch.get("upsample") == "upsample" else "ConvTranspose"
    extra = "" if arch.get("conv_bias", True) or norm == "BatchNorm" else ", no conv bias"
    return (
        f"ResnetGenerator {arch.get('n_blocks', 9)} blocks, ngf {arch.get('ngf', 64)}, "
        f"{norm}, {up} decoder{extra}{io}"
    )


def probe(net: nn.Module) -> None:
    """Run ``net`` on a test image; raise ValueError unless the output is finite, in range, varied.

    The test image (smooth colour ramps and a disc, values in [-1, 1]) is the smallest square the
    network accepts, at least 64 px.
    """
    side = max(64, int(getattr(net, "multiple", 4)))
    first = next((p for p in net.parameters() if p.dim() == 4), None)
    channels = int(first.shape[1]) if first is not None else 3
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, side), torch.linspace(-1, 1, side), indexing="ij")
    disc = ((xx - 0.2) ** 2 + (yy + 0.1) ** 2 < 0.25).float()
    planes = [xx, yy, disc * 2 - 1, torch.sin(3 * math.pi * xx * yy)]
    x = torch.stack([planes[c % len(planes)] for c in range(channels)])[None]
    with torch.no_grad():
        y = net.eval()(x)
    if not bool(torch.isfinite(y).all()):
        raise ValueError("the forward pass on a test image gives NaN or infinite values")
    lo, hi = float(y.min()), float(y.max())
    if lo < -1.0001 or hi > 1.0001:
        raise ValueError(f"the forward pass on a test image leaves [-1, 1] ({lo:.3g} .. {hi:.3g})")
    if float(y.std()) < 1e-4:
        raise ValueError(f"the forward pass on a test image gives a constant image ({lo:.3g})")
