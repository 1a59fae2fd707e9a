"""``mrf``: CNNMRF patch-based style transfer with neural-doodle semantic maps.

Two uses (issue 4):

- **masked region styling**: select a region, pick a style layer; the crop takes the style's local
  texture (CNNMRF, Li & Wand 2016) and the runner composites it through the selection;
- **doodle**: add a style map (colour-coded regions of the style) and a target map painted in the
  same colours; target regions are synthesised from the matching style regions (Champandard 2016),
  with the layer as content, or from noise when ``content_weight`` is 0.

Layers: ``style`` / ``style_map`` / ``target_map`` arrive uncropped in ``job.extras`` as RGBA
(alpha is ignored). A style map of another size than the style is resized (nearest) to it. A
target map whose size equals the crop's is used as is; any other size is resized (nearest) to the
crop, i.e. it is taken to cover exactly the crop region.

Colours (``colours``): ``painting`` (default) gives the layer the style's colour mean and
covariance before synthesis and the result once more after it, region by region with maps
(``backend.algorithms.colour.transfer_colours``; a doodle from noise is built from the style's
colours
already and skips the step after, which costs semantic agreement); ``photo`` synthesises on
luminance only (the style's luma matched to the layer's) and puts the layer's chroma back;
``unchanged`` runs on the raw colours.

Presets: ``final`` runs the coarse-to-fine MRF optimisation
(``backend.algorithms.mrf_solver.synthesise``);
``preview`` runs the same synthesis with two levels at <= 128 px and at most 6 steps at the
finer one (about a second of CPU), upsampled to the crop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from backend.algorithms.colour import grey, match_luminance, transfer_colours, with_chroma_of
from backend.algorithms.features import VGGFeatures
from backend.algorithms.mrf_solver import Problem, Settings, min_side, synthesise
from backend.algorithms.semantic import doodle_labels
from backend.cancel import checked
from backend.errors import ParamError
from backend.filters.base import Filter, FilterInput, OutputLayer, StepCallback, register_filter
from backend.params import LayerRef, param

log = logging.getLogger(__name__)

PREVIEW_MAX_SIZE = 128
PREVIEW_ITERATIONS = 6
COLOURS = ("painting", "photo", "unchanged")


@dataclass(frozen=True)
class MrfParams:
    style: LayerRef | None = param(
        None, label="Style layer", required=True, help="Image whose local texture is copied"
    )
    style_map: LayerRef | None = param(
        None, label="Style map", help="Colour-coded regions of the style (doodle; optional)"
    )
    target_map: LayerRef | None = param(
        None,
        label="Target map",
        help="Regions to paint, in the style map's colours; covers the selection's crop",
    )
    content_weight: float = param(
        2.0,
        label="Content weight",
        min=0.0,
        max=100.0,
        step=0.1,
        help="How much of the layer's structure to keep; 0 = pure doodle from noise",
    )
    style_weight: float = param(
        1.0, label="Style weight", min=0.0, max=100.0, step=0.1, help="Weight of the MRF patch loss"
    )
    semantic_weight: float = param(
        10.0,
        label="Semantic weight",
        min=0.0,
        max=1000.0,
        step=1.0,
        help="How strongly the maps steer patch matching (0 ignores the maps)",
    )
    patch_size: int = param(3, label="Patch size", min=3, max=7, step=2, help="Feature patch side")
    stride: int = param(
        1, label="Style patch stride", min=1, max=4, help="Sample every n-th style patch (faster)"
    )
    project: int = param(
        64,
        label="Search channels",
        min=0,
        max=512,
        step=16,
        help="Patch search in this many principal channels (faster); 0 = all channels (exact)",
    )
    levels: int = param(3, label="Pyramid levels", min=1, max=5, help="Coarse-to-fine scales")
    iterations: int = param(
        10,
        label="Iterations",
        min=1,
        max=1000,
        help="L-BFGS steps at the finest level; each coarser level runs twice as many",
    )
    max_size: int = param(
        384, label="Working size", min=32, max=2048, step=32, help="Long side the work is done at"
    )
    colours: str = param(
        "painting",
        label="Colours",
        choices=COLOURS,
        help="painting: take the style's palette (region by region with maps); "
        "photo: keep the layer's colours, transfer only light and texture; "
        "unchanged: no colour step",
    )
    preset: str = param(
        "final",
        label="Quality",
        choices=("preview", "final"),
        help="preview: the same synthesis, small (<= 128 px, about a second); "
        "final: coarse-to-fine MRF optimisation",
    )


def _rgb(layer: Tensor) -> Tensor:
    return layer[:, :3].float().clamp(0, 1)


def _fit(x: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def _nearest(x: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="nearest")


def working_size(
    size: tuple[int, int], max_size: int, floor: int, what: str = "the selection"
) -> tuple[int, int]:
    """``size`` scaled so its long side is at most ``max_size`` and its short side >= ``floor``.

    Both hold whatever the aspect ratio, so the work is bounded by area as well as by side: a
    shape too elongated for both (a 2000x1 strip) is a ParamError naming ``what``."""
    h, w = max(1, size[0]), max(1, size[1])
    scale = min(1.0, max_size / max(h, w))
    scale = max(scale, floor / min(h, w))
    out = max(floor, round(h * scale)), max(floor, round(w * scale))
    if max(out) > max(max_size, floor):
        raise ParamError(
            f"{what} is {w}x{h}, too long and thin for MRF: its short side must reach {floor} px "
            f"while the long side stays within the working size {max_size} px (a ratio of at "
            f"most {max(max_size, floor) / floor:.1f}:1); select a less elongated region or "
            "raise the working size"
        )
    return out


@register_filter
class NeuralDoodle(Filter):
    """CNNMRF style transfer into the selection, optionally guided by neural-doodle maps."""

    id = "mrf"
    label = "MRF Style / Neural Doodle"
    description = (
        "Patch-based style transfer (CNNMRF): the selection takes the local texture of a style "
        "layer; with a style map and a target map, regions are painted from matching regions."
    )
    category = "Style"
    params = MrfParams
    margin = 16
    uses_backbone = True

    def run(self, job: FilterInput, p: MrfParams, on_step: StepCallback) -> list[OutputLayer]:
        net = checked(self.ctx.backbone())
        device = job.image.device
        if p.style is None or p.style.name not in job.extras:
            raise ParamError("layer parameter 'style' (Style layer) needs a layer")
        if (p.style_map is None) != (p.target_map is None):
            raise ParamError("doodle needs both a style map and a target map (or neither)")
        preview = p.preset == "preview"
        max_size = min(p.max_size, PREVIEW_MAX_SIZE) if preview else p.max_size
        floor = min_side(net, p.patch_size)
        crop = (job.height, job.width)
        size = working_size(crop, max_size, floor, "the selection (with its margin)")
        scale = size[0] / crop[0]
        style_full = _rgb(job.extras[p.style.name]).to(device)
        s_size = tuple(style_full.shape[-2:])
        ssize = working_size(
            (round(s_size[0] * scale), round(s_size[1] * scale)),
            max(max_size, floor),
            floor,
            "the style layer (at the working scale)",
        )
        problem = Problem(content=_fit(job.image.float(), size), style=_fit(style_full, ssize))
        if p.style_map is not None and p.target_map is not None:
            problem = self._with_maps(job, p, problem, s_size, crop)
        problem = _coloured(problem, p.colours)
        settings = Settings(
            content_weight=p.content_weight,
            style_weight=p.style_weight,
            semantic_weight=p.semantic_weight,
            patch_size=p.patch_size,
            stride=p.stride,
            levels=min(2, p.levels) if preview else p.levels,
            project=p.project,
            iterations=min(p.iterations, PREVIEW_ITERATIONS) if preview else p.iterations,
            preview_every=5 if preview else 10,
        )
        log.debug("mrf %s: crop %s -> work %s, style %s", p.preset, crop, size, ssize)
        with torch.enable_grad(), _channels_last(net):
            result = synthesise(net, problem, settings, on_step)
        if p.colours == "painting" and p.content_weight > 0:
            result = _painted(result, problem)
        out = _fit(result, crop).clamp(0, 1)
        if p.colours == "photo":
            out = with_chroma_of(out, job.image.float())
        name = "Doodle" if problem.semantic else "MRF style"
        return [OutputLayer(f"{name} ({p.preset})", out)]

    @staticmethod
    def _with_maps(
        job: FilterInput,
        p: MrfParams,
        problem: Problem,
        style_size: tuple[int, ...],
        crop: tuple[int, int],
    ) -> Problem:
        assert p.style_map is not None and p.target_map is not None
        for ref in (p.style_map, p.target_map):
            if ref.name not in job.extras:
                raise ParamError(f"layer parameter '{ref.name}' needs a layer")
        s_map = _nearest(_rgb(job.extras[p.style_map.name]), (style_size[0], style_size[1]))
        t_map = _nearest(_rgb(job.extras[p.target_map.name]), crop)
        # labels at (at most) twice the working size
        s_lab, t_lab, classes = doodle_labels(
            s_map, t_map, 2 * max(problem.style.shape[-2:]), 2 * max(problem.content.shape[-2:])
        )
        device = problem.content.device
        return Problem(
            content=problem.content,
            style=problem.style,
            target_labels=t_lab.to(device),
            style_labels=s_lab.to(device),
            classes=classes,
        )


@contextlib.contextmanager
def _channels_last(net: VGGFeatures) -> Iterator[None]:
    """Run the backbone channels_last for this job (measured ~20 % faster forward + backward
    on this CPU, docs/quality-mrf.md), then give the shared backbone back as it was."""
    before = net.memory_format
    net.use_channels_last(True)
    try:
        yield
    finally:
        net.use_channels_last(before == torch.channels_last)


def _coloured(problem: Problem, colours: str) -> Problem:
    """The problem with the colour step applied to its content and style (see the module doc)."""
    if colours == "photo":
        style = match_luminance(problem.style, problem.content)
        return dataclasses.replace(problem, content=grey(problem.content), style=style)
    if colours == "painting":
        return dataclasses.replace(problem, content=_painted(problem.content, problem))
    return problem


def _painted(x: Tensor, problem: Problem) -> Tensor:
    """``x`` (the layer's area) with the style's colour moments, per map class when given."""
    return transfer_colours(
        x, problem.style, problem.target_labels, problem.style_labels, problem.classes
    )
