"""Domain Transfer Network translation of the selection (Taigman, Polyak & Wolf, ICLR 2017).

A DTN model is G = g∘f at a small fixed size (32×32 for digits). The selection's bounding box is
resized to that size, translated, and resized back; with ``tile`` > 0 the box is cut into a grid of
tiles of that many pixels (a sheet of digits or icons) and every tile is translated on its own.
Models come from ``python -m backend train dtn`` or ``python -m backend models import --kind dtn``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from backend.errors import Missing, ParamError
from backend.filters.base import (
    Filter,
    FilterInput,
    OutputLayer,
    Step,
    StepCallback,
    register_filter,
)
from backend.models import ModelStore, dir_flag, store_for
from backend.nets import dtn as nets
from backend.params import param

TRAIN_COMMAND = "python -m backend train dtn --source DIR --target DIR --name NAME"
IMPORT_COMMAND = "python -m backend models import FILE.pth --name NAME --kind dtn"


@dataclass(frozen=True)
class DtnParams:
    model: str = param("", label="Model", dynamic="models", help="an installed DTN model")
    tile: int = param(
        0,
        label="Tile size",
        min=0,
        max=4096,
        step=8,
        help="0: the whole selection is one image; else a grid of tiles of this many pixels",
    )
    amount: float = param(
        1.0, label="Amount", min=0.0, max=1.0, step=0.05, help="blend of translation and input"
    )
    upscale: str = param(
        "smooth",
        label="Upscaling",
        choices=("smooth", "pixels"),
        help="how the model's small output is enlarged: bilinear or nearest neighbour",
    )


def _resize(x: Tensor, height: int, width: int, mode: str = "bilinear") -> Tensor:
    if tuple(x.shape[-2:]) == (height, width):
        return x
    if mode == "nearest":
        return F.interpolate(x, size=(height, width), mode="nearest")
    down = height < x.shape[-2] or width < x.shape[-1]
    return F.interpolate(
        x, size=(height, width), mode="bilinear", align_corners=False, antialias=down
    )


def tile_grid(height: int, width: int, tile: int) -> list[tuple[int, int, int, int]]:
    """(y, x, h, w) of the grid cells covering a height×width crop (one cell when tile is 0)."""
    if tile <= 0:
        return [(0, 0, height, width)]
    return [
        (y, x, min(tile, height - y), min(tile, width - x))
        for y in range(0, height, tile)
        for x in range(0, width, tile)
    ]


def translate(
    net: nets.DomainTransfer,
    image: Tensor,
    tile: int = 0,
    upscale: str = "smooth",
    on_step: StepCallback | None = None,
) -> Tensor:
    """G on (1, 3, H, W) ``image`` in [0, 1], cell by cell; returns (1, 3, H, W) in [0, 1]."""
    if image.dim() != 4 or image.shape[:2] != (1, 3):
        raise ValueError(f"image must be (1, 3, H, W), got {tuple(image.shape)}")
    report = on_step or (lambda step: None)
    h, w = image.shape[-2:]
    size = net.cfg.size
    cells = tile_grid(h, w, tile)
    out = torch.empty_like(image)
    mode = "nearest" if upscale == "pixels" else "bilinear"
    report(Step(0, len(cells), "translate", f"{len(cells)} tile(s) at {size}px"))
    for i, (y, x, th, tw) in enumerate(cells):
        cell = _resize(image[..., y : y + th, x : x + tw], size, size)
        result = net(cell).float().clamp(0, 1)
        out[..., y : y + th, x : x + tw] = _resize(result, th, tw, mode)
        report(Step(i + 1, len(cells), "translate", f"tile {i + 1} of {len(cells)}"))
    return out


@register_filter
class DomainTransfer(Filter):
    """Translate the selection with an installed DTN model (e.g. printed → handwritten digits)."""

    id, label, params = "dtn", "Domain transfer (DTN)", DtnParams
    description = "Unsupervised cross-domain generation G = g(f(x)) (Taigman et al. 2017)"
    category = "Conversion"
    margin = 0

    def _store(self) -> ModelStore:
        return store_for(self.ctx.models_dir)

    def _names(self) -> list[str]:
        return [e.name for e in self._store().entries("dtn")]

    def _missing(self) -> Missing:
        flag = dir_flag(self.ctx.models_dir)
        what = f"a DTN model (or import one: {IMPORT_COMMAND}{flag})"
        return Missing(what, TRAIN_COMMAND + flag)

    def missing(self) -> list[Missing]:
        return [] if self._names() else [self._missing()]

    def dynamic_choices(self) -> Mapping[str, Sequence[str]]:
        return {"models": self._names()}

    def _network(self, name: str) -> nets.DomainTransfer:
        names = self._names()
        if name not in names:
            if not names:
                raise self._missing()
            raise ParamError(f"parameter 'model' = '{name}' is not an installed DTN model")
        _, net = self._store().load(name)
        assert isinstance(net, nets.DomainTransfer)
        return net.to(self.ctx.device).eval()

    def run(self, job: FilterInput, p: DtnParams, on_step: StepCallback) -> list[OutputLayer]:
        net = self._network(p.model)
        with torch.inference_mode():
            result = translate(net, job.image, p.tile, p.upscale, on_step)
            if p.amount < 1.0:
                result = torch.lerp(job.image, result, p.amount)
        return [OutputLayer(f"DTN {p.model}", result.clone())]
