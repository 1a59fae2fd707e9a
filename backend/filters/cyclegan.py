"""CycleGAN translation of the selection with an installed generator (Zhu et al., ICCV 2017).

Large crops are translated in overlapping tiles blended with feathered weights. InstanceNorm would
normalise each tile with its own statistics and shift colours from tile to tile
(pytorch-CycleGAN-and-pix2pix#760), so every norm layer's mean and variance are captured once on a
downscaled copy of the whole crop and shared by all tiles (``algorithms.md`` §5).

The generator is any of the official ones the ``cyclegan`` model kind imports (ResNet or U-Net,
:mod:`backend.algorithms.nets.cyclegan_arch`); crops are padded to its ``multiple`` (4 for the
ResNets, 128 /
256 for ``unet_128`` / ``unet_256``) and tiles start on that grid.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, cast

import torch
import torch.nn.functional as F
from torch import Tensor

from backend.algorithms.nets.resnet_generator import MULTIPLE
from backend.assets.models import PAIR, ModelStore, dir_flag, store_for
from backend.cancel import checked
from backend.errors import Missing, ParamError
from backend.filters.base import (
    Filter,
    FilterInput,
    OutputLayer,
    Step,
    StepCallback,
    register_filter,
)
from backend.params import param

MIN_SIDE = 16
"""Smaller crops are padded up to this (the reflection pads need a few pixels per side)."""


class Generator(Protocol):
    """What :func:`translate` needs of a generator (ResnetGenerator, UnetGenerator)."""

    multiple: int
    """Input sides must be multiples of this."""

    def __call__(self, x: Tensor) -> Tensor: ...

    def norm_mode(self, mode: str) -> AbstractContextManager[None]: ...

    def clear_stats(self) -> None: ...


@dataclass(frozen=True)
class CycleGanParams:
    model: str = param("", label="Model", dynamic="models", help="an installed CycleGAN model")
    direction: str = param(
        "a_to_b",
        label="Direction",
        choices=PAIR,
        help="for models trained here (a pair of generators): A to B or B to A",
    )
    amount: float = param(
        1.0, label="Amount", min=0.0, max=1.0, step=0.05, help="blend of translation and input"
    )
    tile_size: int = param(
        1024, label="Tile size", min=64, max=4096, step=64, help="larger crops are tiled (pixels)"
    )
    overlap: int = param(
        128, label="Tile overlap", min=16, max=1024, step=16, help="overlap of neighbouring tiles"
    )
    stats_size: int = param(
        2048,
        label="Statistics size",
        min=64,
        max=4096,
        step=64,
        help="side of the downscaled whole image whose InstanceNorm statistics all tiles share",
    )
    precision: str = param(
        "auto", label="Precision", choices=("auto", "fp32"), help="auto: fp16 on a GPU"
    )


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def _pad(x: Tensor, height: int, width: int) -> Tensor:
    """Pad (B, C, h, w) at the bottom / right to (height, width), reflecting where possible."""
    ph, pw = height - x.shape[-2], width - x.shape[-1]
    if ph == 0 and pw == 0:
        return x
    mode = "reflect" if ph < x.shape[-2] and pw < x.shape[-1] else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def tile_starts(length: int, tile: int, overlap: int, multiple: int = MULTIPLE) -> list[int]:
    """Start offsets of tiles of ``tile`` px covering ``length`` px.

    With ``length``, ``tile`` and ``overlap`` multiples of ``multiple``, so are the offsets.
    """
    if length <= tile:
        return [0]
    step = max(multiple, tile - overlap)
    starts = list(range(0, length - tile, step))
    return [*starts, length - tile]


def feather(length: int, start: int, total: int, overlap: int) -> Tensor:
    """1-D blend weights of one tile: ramps over its overlaps with neighbours, flat elsewhere.

    The outer quarter of each overlap gets (almost) no weight, since those pixels saw the least
    real context; over the middle half the weights of two neighbours sum to one.
    """
    d = torch.arange(length, dtype=torch.float32) + 0.5
    w = torch.ones(length)
    margin = overlap / 4
    ramp = max(overlap - 2 * margin, 1.0)
    if start > 0:
        w = torch.minimum(w, ((d - margin) / ramp).clamp(1e-4, 1.0))
    if start + length < total:
        w = torch.minimum(w, ((length - d - margin) / ramp).clamp(1e-4, 1.0))
    return w


def _tiles(
    h: int, w: int, tile: int, overlap: int, multiple: int
) -> Iterator[tuple[int, int, int, int]]:
    for y in tile_starts(h, tile, overlap, multiple):
        for x in tile_starts(w, tile, overlap, multiple):
            yield y, x, min(tile, h), min(tile, w)


def translate(
    net: Generator,
    image: Tensor,
    tile_size: int = 512,
    overlap: int = 128,
    stats_size: int = 2048,
    on_step: StepCallback | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Run ``net`` on (1, 3, H, W) ``image`` in [0, 1]; return (1, 3, H, W) in [0, 1].

    Crops up to ``tile_size`` run whole with the network's own InstanceNorm. Larger ones run in
    tiles with statistics captured on a copy downscaled to ``stats_size`` (longest side).
    Sides, tiles, overlaps and the statistics copy are rounded to ``net.multiple``; tiles are
    at least twice that, so that neighbours can overlap. ``dtype`` (fp16 / bf16) turns on
    autocast; use it on CUDA only.
    """
    if image.dim() != 4 or image.shape[:2] != (1, 3):
        raise ValueError(f"image must be (1, 3, H, W), got {tuple(image.shape)}")
    report = on_step or (lambda step: None)
    h, w = image.shape[-2:]
    m = int(net.multiple)
    min_side = max(MIN_SIDE, m)
    hp, wp = _round_up(max(h, min_side), m), _round_up(max(w, min_side), m)
    x = _pad(image * 2 - 1, hp, wp)
    tile = max(min_side, tile_size // m * m)
    if max(hp, wp) > tile:
        tile = max(tile, 2 * m)
    overlap = min(max(overlap // m, 1) * m, tile // 2 // m * m)
    device = image.device
    autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
    if device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)

    if max(hp, wp) <= tile:
        report(Step(0, 1, "translate"))
        with autocast:
            out = net(x).float()
        report(Step(1, 1, "translate"))
        return ((out[..., :h, :w] + 1) / 2).clamp(0, 1)

    tiles = list(_tiles(hp, wp, tile, overlap, m))
    total = len(tiles) + 1
    report(Step(0, total, "statistics"))
    scale = min(1.0, stats_size / max(hp, wp))
    sh = _round_up(max(min_side, round(hp * scale)), m)
    sw = _round_up(max(min_side, round(wp * scale)), m)
    small = F.interpolate(x, size=(sh, sw), mode="area") if (sh, sw) != (hp, wp) else x
    acc = torch.zeros(1, 3, hp, wp, device=device)
    weight = torch.zeros(1, 1, hp, wp, device=device)
    try:
        with autocast, net.norm_mode("capture"):
            net(small)
        report(Step(1, total, "statistics"))
        with net.norm_mode("fixed"):
            for i, (y0, x0, th, tw) in enumerate(tiles):
                with autocast:
                    out = net(x[..., y0 : y0 + th, x0 : x0 + tw]).float()
                wy = feather(th, y0, hp, overlap).to(device)
                wx = feather(tw, x0, wp, overlap).to(device)
                wt = (wy[:, None] * wx[None, :])[None, None]
                acc[..., y0 : y0 + th, x0 : x0 + tw] += out * wt
                weight[..., y0 : y0 + th, x0 : x0 + tw] += wt
                report(Step(i + 2, total, "translate", f"tile {i + 1} of {len(tiles)}"))
    finally:
        net.clear_stats()
    out = acc / weight
    return ((out[..., :h, :w] + 1) / 2).clamp(0, 1)


@register_filter
class CycleGan(Filter):
    """Translate the selection with an installed CycleGAN generator (e.g. horse to zebra)."""

    id, label, params = "cyclegan", "CycleGAN translation", CycleGanParams
    description = "Unpaired image-to-image translation with a CycleGAN generator (Zhu et al. 2017)"
    category = "Conversion"
    margin = 32

    def _store(self) -> ModelStore:
        return store_for(self.ctx.models_dir)

    def _fix_command(self) -> str:
        return f"python -m backend models fetch horse2zebra{dir_flag(self.ctx.models_dir)}"

    def missing(self) -> list[Missing]:
        if self._store().entries("cyclegan"):
            return []
        what = "a CycleGAN model (or import one: python -m backend models import PATH --name NAME)"
        return [Missing(what, self._fix_command())]

    def dynamic_choices(self) -> Mapping[str, Sequence[str]]:
        return {"models": [e.name for e in self._store().entries("cyclegan")]}

    def dynamic_notes(self) -> Mapping[str, str]:
        """Each installed model's architecture (read off its tensors) and classes."""
        entries = self._store().entries("cyclegan")
        if not entries:
            return {}
        return {"models": "Installed: " + "; ".join(f"{e.name} ({e.summary()})" for e in entries)}

    def _network(self, name: str, direction: str) -> Generator:
        store = self._store()
        entries = {e.name: e for e in store.entries("cyclegan")}
        if name not in entries:
            if not entries:
                raise Missing("a CycleGAN model", self._fix_command())
            raise ParamError(f"parameter 'model' = '{name}' is not an installed CycleGAN model")
        entry = entries[name]
        if entry.is_pair:
            part = direction
        elif direction != PAIR[0]:
            raise ParamError(f"model '{name}' translates one way only; use direction 'a_to_b'")
        else:
            part = next(iter(entry.parts))
        _, net = store.load(name, part)
        device = self.ctx.device
        fmt = torch.channels_last if device.type == "cuda" else torch.contiguous_format
        return cast(Generator, net.to(device=device, memory_format=fmt))

    def run(self, job: FilterInput, p: CycleGanParams, on_step: StepCallback) -> list[OutputLayer]:
        net = checked(self._network(p.model, p.direction))
        dtype = None
        if p.precision == "auto" and job.image.device.type == "cuda":
            dtype = torch.float16
        with torch.inference_mode():
            result = translate(
                net, job.image, p.tile_size, p.overlap, p.stats_size, on_step, dtype=dtype
            )
            if p.amount < 1.0:
                result = torch.lerp(job.image, result, p.amount)
        suffix = f" {p.direction.replace('_', ' ')}" if self._store().entry(p.model).is_pair else ""
        return [OutputLayer(f"CycleGAN {p.model}{suffix}", result.clone())]
