"""Deep Feature Interpolation (Upchurch et al., CVPR 2017): move a face along a feature direction.

Steps (algorithms.md §1): the selection's bounding box is the face box; it is squared and resized
to the working resolution R. φ = relu3_1, relu4_1, relu5_1. The pack's attribute vector
``w_l = mean φ_l(with) - mean φ_l(without)`` is scaled per layer to ``‖φ_l(x)‖ · w_l / ‖w_l‖``
(chainer-dfi), so one strength α works across images; the target is ``φ_l(x) + α · w_l``. The
reconstruction z starts from x and minimises ``Σ_l ‖φ_l(z) - t_l‖² / ‖φ_l(x)‖² + λ · TV(z - x)``
with Adam. Only the difference ``z - x`` at R is upsampled and added to the full-resolution crop
(chainer-dfi's residual trick), so detail the inversion would lose is never touched.

With ``align`` on (the default) every face MTCNN finds in the selection's crop is warped to the
pack's face frame first (``faces.frame``), edited there with the aligned settings below (the
change confined to the pack's attribute region) and only its change is warped back, feathered.

``method=inverter`` (the default for aligned faces) replaces the optimisation by a feed-forward
decoder trained on aligned faces: the change is ``D(φ(x) + α·w) − D(φ(x))``
(``dfi_inverter``); ``method=optimise`` is the reconstruction above.

Departures from the references: the TV prior acts on the *change* z - x rather than on z, and z
starts from x, so α = 0 returns the input exactly and no second "unedited" reconstruction is
needed to cancel reconstruction error; the layer losses are normalised by ‖φ_l(x)‖², which makes
λ independent of the backbone's feature scale.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from backend.algorithms.faces import frame as face_frame
from backend.algorithms.faces import in_box
from backend.algorithms.features import VGGFeatures
from backend.assets import attributes
from backend.cancel import checked
from backend.errors import Broken, Missing, NoFace, NotApplicable, ParamError, WeightsMissing
from backend.filters import dfi_inverter
from backend.filters.base import (
    Context,
    Filter,
    FilterInput,
    OutputLayer,
    Step,
    StepCallback,
    register_filter,
)
from backend.filters.dfi_direction import luma_only, scaled_direction
from backend.params import param

log = logging.getLogger(__name__)

TV_WEIGHT = 400.0
"""λ of the TV prior on z - x (mean squared neighbour differences); docs/quality-dfi.md."""
ADAM_LR = 0.01
"""Adam's step in [0, 1] pixel units (see docs/quality-dfi.md for the L-BFGS comparison)."""
CHANGE_STRIDE = 1
"""Aligned faces: the change is optimised on a grid this many times coarser (quality-dfi.md)."""
REGION_LAYER = "relu4_1"
"""Aligned faces: the change is confined (softly) to where this layer's attribute vector is
strong (quality-dfi.md); "" lets it go anywhere in the frame."""
ALIGNED_TV_WEIGHT = 1600.0
"""λ for aligned faces at the built-in pack's 128 px (400 at 64 px is as smooth per face)."""
ALIGNED_ADAM_LR = 0.03
"""Adam's step for aligned faces: with lr 0.01, 20 steps cap the change below what α asks."""
PREVIEW_EVERY = 5
METHODS = ("inverter", "optimise")
INVERTER_LAYERS = ""
"""Which maps the inverter path edits ("" = every map it reads; else comma-separated names)."""
INVERTER_SCALE = 0.4
"""The inverter's α is strength × this (docs/quality-dfi.md: decoding follows φ + α·w much
further than 20 optimiser steps do, so it needs a smaller α for the same change)."""
INVERTER_REGION = True
"""The inverter's change is confined to the attribute region like the optimiser's."""
INVERTER_TRANSFER = "damped"
"""How the decoder's change reaches the photo (``dfi_inverter.transfer``; "add" was the first
round's; quality-dfi.md compares them on the tuning slice)."""
INVERTER_COLOUR = 0.5
"""With keep colours on, the share of the decoder's colour change that is applied (0: brightness
only; quality-dfi.md: 0 leaves grey smudges where teeth go, 1 gives colour casts)."""


@dataclass(frozen=True)
class DfiParams:
    """Parameters of the DFI filter."""

    attribute: str = param(
        "smiling",
        label="Attribute",
        dynamic="attributes",
        help="Attribute pack to move towards (packs for the current backbone)",
    )
    strength: float = param(
        1.0,
        label="Strength",
        min=-2.0,
        max=2.0,
        step=0.05,
        help="α: how far to move along the attribute (negative removes it)",
    )
    iterations: int = param(
        20,
        label="Iterations",
        min=1,
        max=2000,
        help="Adam iterations of the reconstruction (method=optimise)",
    )
    resolution: int = param(
        0,
        label="Working resolution",
        min=0,
        max=1024,
        step=16,
        help="Side of the square the face is optimised at; 0 = the pack's resolution",
    )
    keep_colours: bool = param(
        True,
        label="Keep colours",
        help="Damp the change's colour: brightness only (method=optimise), half of the colour "
        "change (inverter; less on a grey or faded photo); off: all of it",
    )
    align: bool = param(
        True,
        label="Find and align faces",
        help="Edit every face found in the selection, aligned to the pack's face frame; "
        "off: the selection itself is the face crop",
    )
    method: str = param(
        "inverter",
        label="Method",
        choices=METHODS,
        help="inverter: decode the edited features with the face inverter (fast); optimise: "
        "reconstruct them by optimising pixels (the iterations). align=off always optimises",
    )


# -- the algorithm (pure tensor functions) ---------------------------------------------------------
def total_variation(x: Tensor) -> Tensor:
    """Mean squared difference of neighbouring pixels of (B, C, H, W) ``x``."""
    dh = (x[..., 1:, :] - x[..., :-1, :]).pow(2).mean()
    dw = (x[..., :, 1:] - x[..., :, :-1]).pow(2).mean()
    return dh + dw


def reconstruct(
    backbone: VGGFeatures,
    x: Tensor,
    targets: Mapping[str, Tensor],
    iterations: int,
    on_step: StepCallback | None = None,
    tv_weight: float | None = None,
    optimiser: str = "adam",
    stride: int = 1,
    region: Tensor | None = None,
    lr: float | None = None,
) -> Tensor:
    """z ≈ argmin Σ_l ‖φ_l(z) - t_l‖² / ‖t_l^0‖² + λ·TV(z - x), starting from z = x.

    With ``stride`` > 1 the change z - x lives on a grid ``stride`` times coarser than x and is
    upsampled bilinearly (z = clamp(x + up(d))): the optimiser cannot draw the fine, edge-like
    squiggles that the edge-tuned backbone's inversion otherwise leaves. ``region`` (1, 1, R, R)
    in [0, 1] weights where the change may go (z = clamp(x + region · up(d))).

    Args:
        x: (1, 3, R, R) in [0, 1]; targets: {layer: (1, C, h, w)}.
    Returns:
        (1, 3, R, R) z in [0, 1].
    """
    layers = list(targets)
    tv_weight = TV_WEIGHT if tv_weight is None else tv_weight
    with torch.no_grad():
        base = backbone(x, layers)
        scale = {k: 1.0 / base[k].pow(2).sum().clamp_min(1e-12) for k in layers}
    size = x.shape[-2:]
    direct = stride == 1 and region is None
    if not direct:
        coarse = (max(1, size[0] // stride), max(1, size[1] // stride))
        d = torch.zeros(1, 3, *coarse, device=x.device, dtype=x.dtype, requires_grad=True)
        param = d
    else:
        z = x.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
        param = z

    def current() -> Tensor:
        if direct:
            return z
        up = F.interpolate(d, size=size, mode="bilinear", align_corners=False)
        return (x + (up if region is None else up * region)).clamp(0.0, 1.0)

    def loss_fn() -> Tensor:
        zc = current()
        feats = backbone(zc, layers)
        loss = sum(((feats[k] - targets[k]).pow(2).sum() * scale[k]) for k in layers)
        return loss + tv_weight * total_variation(zc - x)

    if optimiser == "lbfgs":
        opt: torch.optim.Optimizer = torch.optim.LBFGS(
            [param], lr=1.0, max_iter=1, history_size=10, line_search_fn="strong_wolfe"
        )
    elif optimiser == "adam":
        opt = torch.optim.Adam([param], lr=ADAM_LR if lr is None else lr)
    else:
        raise ValueError(f"unknown optimiser {optimiser!r}")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    for i in range(1, iterations + 1):
        loss = opt.step(closure)
        if direct:
            with torch.no_grad():
                z.clamp_(0.0, 1.0)
        if on_step is not None:
            show = i % PREVIEW_EVERY == 0 or i == iterations
            preview = current().detach().clone() if show else None
            value = float(loss.detach()) if loss is not None else float("nan")
            on_step(Step(i, iterations, "reconstructing", f"loss {value:.4g}", preview))
    with torch.no_grad():
        return current().detach()


def square_box(box: tuple[int, int, int, int], height: int, width: int) -> tuple[int, ...]:
    """Grow ``box`` (x0, y0, x1, y1) to a square around its centre, kept inside the crop."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0)
    sx, sy = min(side, width), min(side, height)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    nx0 = round(min(max(cx - sx / 2, 0), width - sx))
    ny0 = round(min(max(cy - sy / 2, 0), height - sy))
    return nx0, ny0, nx0 + sx, ny0 + sy


def apply_residual(
    image: Tensor, box: Sequence[int], x: Tensor, z: Tensor, keep_colours: bool
) -> Tensor:
    """Add the upsampled working-resolution change ``z - x`` to ``image`` inside ``box``.

    Args:
        image: (1, 3, H, W) full-resolution crop in [0, 1].
        box: (x0, y0, x1, y1) where x and z came from.
        x, z: (1, 3, R, R) before / after.
    Returns:
        (1, 3, H, W) in [0, 1]; pixels outside ``box`` are the input's.
    """
    x0, y0, x1, y1 = box
    delta = z - x
    if keep_colours:
        delta = luma_only(delta)
    delta = F.interpolate(delta, size=(y1 - y0, x1 - x0), mode="bilinear", align_corners=False)
    out = image.clone()
    out[..., y0:y1, x0:x1] = (image[..., y0:y1, x0:x1] + delta).clamp(0.0, 1.0)
    return out


def edit_face(
    backbone: VGGFeatures,
    pack: attributes.AttributePack,
    image: Tensor,
    box: tuple[int, int, int, int],
    strength: float,
    iterations: int,
    resolution: int,
    keep_colours: bool,
    on_step: StepCallback | None = None,
    optimiser: str = "adam",
) -> Tensor:
    """DFI on the face in ``box`` of ``image`` (1, 3, H, W); returns the edited (1, 3, H, W)."""
    sq = square_box(box, image.shape[-2], image.shape[-1])
    face = image[..., sq[1] : sq[3], sq[0] : sq[2]]
    x = attributes.resize_square(face, resolution)
    layers = list(pack.layers)
    with torch.no_grad():
        feats = backbone(x, layers)
        targets = {
            k: feats[k] + strength * scaled_direction(pack.direction(k), feats[k]) for k in layers
        }
    z = reconstruct(backbone, x, targets, iterations, on_step, optimiser=optimiser)
    return apply_residual(image, sq, x, z, keep_colours)


def edit_aligned(
    backbone: VGGFeatures,
    pack: attributes.AttributePack,
    image: Tensor,
    landmarks: Tensor,
    strength: float,
    iterations: int,
    resolution: int,
    keep_colours: bool,
    on_step: StepCallback | None = None,
) -> Tensor:
    """DFI on one face of ``image`` (1, 3, H, W) given its five ``landmarks`` (5, 2): the face is
    warped to the pack's frame at ``resolution``, edited there, and only the change comes back.

    Returns the change (1, 3, H, W) in the image's pixels (zero away from the face)."""
    if pack.frame is None:
        raise ValueError("the pack has no face frame")
    x, to_frame = face_frame.to_frame(image, landmarks, pack.frame, resolution)
    layers = list(pack.layers)
    with torch.no_grad():
        feats = backbone(x, layers)
        targets = {
            k: feats[k] + strength * scaled_direction(pack.direction(k), feats[k]) for k in layers
        }
    region = attribute_region(pack, REGION_LAYER, resolution) if REGION_LAYER else None
    z = reconstruct(
        backbone,
        x,
        targets,
        iterations,
        on_step,
        tv_weight=ALIGNED_TV_WEIGHT,
        stride=CHANGE_STRIDE,
        region=region,
        lr=ALIGNED_ADAM_LR,
    )
    delta = z - x
    if keep_colours:
        delta = luma_only(delta)
    return face_frame.change_back(delta, to_frame, (image.shape[-2], image.shape[-1]))


def attribute_region(pack: attributes.AttributePack, layer: str, resolution: int) -> Tensor:
    """(1, 1, R, R) in [0, 1]: where the pack's attribute vector of ``layer`` is strong (its
    per-position norm over channels, smoothed, 0 at its median and 1 from its 90th percentile)."""
    w = pack.direction(layer).norm(dim=0)[None, None]
    w = F.avg_pool2d(F.pad(w, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    w = F.interpolate(w, size=(resolution, resolution), mode="bilinear", align_corners=False)
    lo, hi = torch.quantile(w.flatten(), torch.tensor([0.5, 0.9], dtype=w.dtype))
    return ((w - lo) / (hi - lo).clamp_min(1e-12)).clamp(0.0, 1.0)


# -- the filter -----------------------------------------------------------------------------------
@register_filter
class DeepFeatureInterpolation(Filter):
    """Move the selected face along an attribute's VGG feature direction ("make people smile")."""

    id = "dfi"
    label = "Deep Feature Interpolation"
    description = (
        "Adds an attribute (e.g. a smile) to every face in the selection by editing its deep "
        "features (Upchurch et al. 2017). Select one or more faces loosely; each is found and "
        "aligned (align=off: the selection itself is the face crop)."
    )
    category = "Faces"
    params = DfiParams
    margin = 16
    uses_backbone = True

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._packs: dict[tuple[str, str], attributes.AttributePack] = {}
        self._inverters: dict[str, dfi_inverter.Inverter] = {}

    def _backbone_name(self) -> str | None:
        """The current backbone's name without loading real weights (None: no weights)."""
        ctx = self.ctx
        if ctx._backbone is not None or ctx.backbone_factory is not None:
            return ctx.backbone().name
        from backend.assets import weights
        from backend.assets.nets import BACKBONES

        for name in BACKBONES:
            if weights.find(name, ctx.weights_dir) is not None:
                return name
        return None

    def dynamic_choices(self) -> dict[str, list[str]]:
        name = self._backbone_name()
        if name is None:
            return {"attributes": []}
        infos = attributes.list_packs(self.ctx.attributes_dir, name)
        return {"attributes": [i.name for i in infos]}

    def missing(self) -> list[Missing]:
        name = self._backbone_name()
        if name is None:
            return [WeightsMissing("vgg16-hed")]
        if not attributes.list_packs(self.ctx.attributes_dir, name):
            return [Missing(f"an attribute pack for backbone '{name}'", attributes.build_command())]
        return []

    def _pack(self, name: str, backbone: str) -> attributes.AttributePack:
        info = attributes.find_pack(name, backbone, self.ctx.attributes_dir)
        if info is None:
            raise Missing(
                f"attribute pack '{name}' for '{backbone}'", attributes.build_command(name)
            )
        cached = self._packs.get((backbone, name))
        if cached is None or cached.path != info.path:
            try:
                cached = attributes.load_pack(info.path)
                if cached.backbone != backbone:
                    raise attributes.PackError(f"{info.path} was built for '{cached.backbone}'")
            except attributes.PackError as exc:  # the user's file: say how to rebuild it
                raise Broken(str(exc), attributes.build_command(name)) from None
            self._packs[(backbone, name)] = cached
        return cached

    def _inverter_for(self, backbone: VGGFeatures) -> dfi_inverter.Inverter:
        return dfi_inverter.cached(self._inverters, backbone.name, self.ctx.attributes_dir)

    def run(self, job: FilterInput, p: DfiParams, on_step: StepCallback) -> list[OutputLayer]:
        backbone = checked(self.ctx.backbone())
        pack = self._pack(p.attribute, backbone.name)
        resolution = p.resolution or pack.resolution
        need = backbone.min_size_for(pack.layers)
        if resolution < need:
            raise ParamError(f"working resolution {resolution} is below the minimum {need}")
        x0, y0, x1, y1 = job.box
        if x1 - x0 < 2 or y1 - y0 < 2:
            raise ParamError(f"the selection ({x1 - x0}x{y1 - y0}) is too small for a face")
        image = job.image.to(backbone.device, torch.float32)
        name = f"DFI {p.attribute} {p.strength:g}"
        if p.align:
            return [OutputLayer(name, self._run_aligned(job, p, pack, resolution, on_step))]
        on_step(Step(0, p.iterations, "features", f"{p.attribute} at {resolution}px"))
        with torch.enable_grad():
            out = edit_face(
                backbone,
                pack,
                image,
                job.box,
                p.strength,
                p.iterations,
                resolution,
                p.keep_colours,
                on_step,
            )
        return [OutputLayer(name, out.to(job.image))]

    def _run_aligned(
        self,
        job: FilterInput,
        p: DfiParams,
        pack: attributes.AttributePack,
        resolution: int,
        on_step: StepCallback,
    ) -> Tensor:
        if pack.frame is None:
            raise NotApplicable(
                f"the '{p.attribute}' pack was built from unaligned crops (it records no face "
                f"frame): rebuild it with `{attributes.build_command(p.attribute)}`, "
                "or set align=off"
            )
        backbone = self.ctx.backbone()
        image = job.image.to(backbone.device, torch.float32)
        inverter = self._inverter_for(backbone) if p.method == "inverter" else None
        on_step(Step(0, p.iterations, "faces", "finding faces"))
        faces = in_box(self.ctx.face_finder().find(image), job.box)
        if not faces:
            raise NoFace()
        change = torch.zeros_like(image)
        if inverter is not None:
            region = attribute_region(pack, REGION_LAYER, resolution) if INVERTER_REGION else None
            layers = tuple(k for k in INVERTER_LAYERS.split(",") if k) or None
            for n, face in enumerate(faces):
                change += dfi_inverter.edit_aligned(
                    backbone,
                    checked(inverter.net.to(image.device)),
                    pack,
                    image,
                    face.landmarks,
                    p.strength * INVERTER_SCALE,
                    resolution,
                    p.keep_colours,
                    region,
                    layers,
                    INVERTER_TRANSFER,
                    INVERTER_COLOUR,
                )
                on_step(Step(n + 1, len(faces), "decoding", f"face {n + 1} of {len(faces)}"))
            return (image + change).clamp(0.0, 1.0).to(job.image)
        total = p.iterations * len(faces)
        for n, face in enumerate(faces):
            done = n * p.iterations
            label = f"face {n + 1} of {len(faces)}"

            def step(s: Step, done: int = done, label: str = label) -> None:
                on_step(Step(done + s.i, total, s.stage, f"{label}: {s.message}", s.preview))

            with torch.enable_grad():
                change += edit_aligned(
                    backbone,
                    pack,
                    image,
                    face.landmarks,
                    p.strength,
                    p.iterations,
                    resolution,
                    p.keep_colours,
                    step,
                )
        return (image + change).clamp(0.0, 1.0).to(job.image)
