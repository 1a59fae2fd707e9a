"""CNNMRF / neural-doodle synthesis: coarse-to-fine pixel optimisation (final and preview).

Energy at each pyramid level (all terms scale-free, so the weights do not depend on the backbone's
activation scale; Caffe-scale weights such as CNNMRF's ``mrf_weight=1e-4`` do not carry over):

- **MRF** (Li & Wand 2016) at ``relu3_1`` and ``relu4_1``: every 3×3 patch of the current features
  is matched to its nearest style patch by normalised cross-correlation (with the doodle map
  channels when maps are given, Champandard 2016) — one batched convolution per chunk of style
  patches, in the leading ``project`` principal channels, over at most ``max_patches`` style
  patches (a coarser patch stride beyond); the matched raw patches are folded into a target map
  ``T`` (overlaps averaged); the loss is ``mean((F - sg(T))²) / mean(F_style²)`` per layer.
  Matches are recomputed every ``rematch_every`` evaluations (the target is fixed in between).
- **content** at ``relu4_1`` (computed anyway for the MRF term):
  ``mean((F - F_content)²) / mean(F_content²)``;
- **TV**: mean squared difference of neighbouring pixels ([0, 1] units).

Pyramid: ``levels`` scales 1/2^(n-1) … 1 with ``iterations`` steps at the finest and twice as
many at each coarser level (they are 4× cheaper). The coarsest starts from the content (or, with
``content_weight == 0``, from the image-space style swap (:func:`quilted`) of noise around the
style colours of each map class), each finer level from the bilinear upsample of the previous
result. Without content, each level's result except the last gets the style's colour mean / std
per map class (``match_colours``) before it is upsampled: this backbone encodes flat colour
weakly and doodles drift to grey otherwise. The filter's colour step (``backend.algorithms.colour``)
runs
before and after this solver. Optimiser: L-BFGS (history 25, no line search, one function
evaluation per iteration), as in CNNMRF; see docs/quality-mrf.md for the comparison with Adam.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from backend.algorithms.colour import smooth_chroma
from backend.algorithms.features import VGGFeatures
from backend.algorithms.patches import PatchBank, quilt, stride_for
from backend.algorithms.semantic import one_hot, pooled
from backend.steps import Step, StepCallback

MRF_LAYERS = ("relu3_1", "relu4_1")
CONTENT_LAYER = "relu4_1"
QUILT_LAYER = "relu3_1"
ADAM_LR = 0.02


@dataclass(frozen=True)
class Settings:
    """Solver settings (the filter maps its params onto these)."""

    content_weight: float = 1.0
    style_weight: float = 1.0
    semantic_weight: float = 10.0
    tv_weight: float = 1.0
    patch_size: int = 3
    stride: int = 1
    levels: int = 3
    iterations: int = 10
    """L-BFGS steps at the finest level; each coarser level runs twice as many as the next."""
    rematch_every: int = 5
    """Evaluations between nearest-patch searches (the target is fixed in between)."""
    max_patches: int = 4096
    """Style patches per layer at most; a larger style is searched with a coarser patch stride."""
    project: int = 64
    """Channels the patch search works in (leading principal directions; 0 = all, exact)."""
    content_layer: str = CONTENT_LAYER
    style_layers: tuple[str, ...] = MRF_LAYERS
    """Layers of the MRF patch loss (measured alternatives in docs/quality-mrf.md)."""
    init: str = "auto"
    """"quilt": start from the style's pixels pasted by relu3_1 matches (the image-space style
    swap); "image": from the (colour-transferred) content or the noise; "auto": quilt for a
    doodle from noise (content weight 0), image otherwise (docs/quality-mrf.md)."""
    chroma_sigma: float = 1.0
    """Gaussian σ (pixels) of the chroma smoothing after each level of a doodle from noise
    (0 = off): removes the pixel-scale rainbow speckle the optimiser leaves where the backbone
    is colour-blind (with content, the content term anchors the colours)."""
    preview_every: int = 10
    final_colour_match: bool = False
    optimiser: str = "lbfgs"
    """"lbfgs" (default) or "adam" (kept for the comparison in docs/quality-mrf.md)."""
    seed: int = 0

    def level_iterations(self, levels: int) -> list[int]:
        """Iterations per level, coarse to fine."""
        return [self.iterations * 2 ** (levels - 1 - k) for k in range(levels)]


@dataclass(frozen=True)
class Problem:
    """Working-size inputs: content (1, 3, H, W), style (1, 3, h, w), optional label maps.

    ``target_labels`` (H', W') and ``style_labels`` (h', w') are class indices into ``classes``
    palette entries; they may be at any resolution covering the same area as their image.
    """

    content: Tensor
    style: Tensor
    target_labels: Tensor | None = None
    style_labels: Tensor | None = None
    classes: int = 0

    @property
    def semantic(self) -> bool:
        return self.target_labels is not None and self.style_labels is not None


def _resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def _scaled(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def min_side(backbone: VGGFeatures, patch: int) -> int:
    """Smallest image side for which every MRF layer holds at least one patch."""
    deepest = max(backbone.stride(n) for n in MRF_LAYERS)
    return max(backbone.min_size_for(list(MRF_LAYERS)), deepest * patch)


def level_scales(
    size: tuple[int, int], style_size: tuple[int, int], levels: int, floor: int
) -> list[float]:
    """Pyramid scales, coarse to fine, dropping coarse levels smaller than ``floor`` pixels."""
    smallest = min(*size, *style_size)
    scales = [0.5 ** (levels - 1 - k) for k in range(levels)]
    return [s for s in scales if smallest * s >= floor] or [1.0]


def _sem(labels: Tensor | None, classes: int, size: tuple[int, int]) -> Tensor | None:
    if labels is None:
        return None
    return pooled(one_hot(labels, classes), size)


def initial_image(problem: Problem, seed: int) -> Tensor:
    """Noise around each class's mean style colour (or the style's mean colour without maps)."""
    gen = torch.Generator().manual_seed(seed)
    h, w = problem.content.shape[-2:]
    style = problem.style
    if problem.semantic:
        assert problem.style_labels is not None and problem.target_labels is not None
        s_lab = F.interpolate(
            problem.style_labels[None, None].float(), size=style.shape[-2:], mode="nearest"
        )
        s_lab = s_lab[0, 0].long().flatten()
        colours = torch.zeros(problem.classes, 3)
        flat = style[0].flatten(1).T.cpu()
        for c in range(problem.classes):
            sel = s_lab.cpu() == c
            colours[c] = flat[sel].mean(0) if bool(sel.any()) else flat.mean(0)
        t_lab = F.interpolate(
            problem.target_labels[None, None].float(), size=(h, w), mode="nearest"
        )
        base = colours[t_lab[0, 0].long().cpu()].permute(2, 0, 1).unsqueeze(0)
    else:
        base = style.mean((2, 3), keepdim=True).cpu().expand(1, 3, h, w)
    noise = (torch.rand(1, 3, h, w, generator=gen) - 0.5) * 0.2
    return (base + noise).clamp(0, 1).to(problem.content)


def total_variation(x: Tensor) -> Tensor:
    """Mean squared difference of vertically and horizontally neighbouring pixels."""
    return (x[..., 1:, :] - x[..., :-1, :]).pow(2).mean() + (x[..., 1:] - x[..., :-1]).pow(2).mean()


def _labels_at(labels: Tensor | None, size: tuple[int, int]) -> Tensor | None:
    if labels is None:
        return None
    return F.interpolate(labels[None, None].float(), size=size, mode="nearest")[0, 0].long()


def match_colours(x: Tensor, style: Tensor, problem: Problem) -> Tensor:
    """Per map class (or globally), give ``x`` the mean and std of the style's colours there.

    The backbone encodes flat colour weakly (docs/offline-weights.md), so a doodle synthesised
    from noise drifts towards grey; moment matching per region restores the palette.
    """
    xs = (int(x.shape[-2]), int(x.shape[-1]))
    ss = (int(style.shape[-2]), int(style.shape[-1]))
    t_lab = _labels_at(problem.target_labels, xs)
    s_lab = _labels_at(problem.style_labels, ss)
    if t_lab is None or s_lab is None:
        t_lab, s_lab = x.new_zeros(xs, dtype=torch.long), x.new_zeros(ss, dtype=torch.long)
    out = x.clone()
    xf, sf, of = x[0].flatten(1), style[0].flatten(1), out[0].view(3, -1)
    for c in range(max(problem.classes, 1)):
        tm, sm = t_lab.flatten() == c, s_lab.flatten() == c
        if int(tm.sum()) < 2 or int(sm.sum()) < 2:
            continue
        a, b = xf[:, tm], sf[:, sm]
        scale = b.std(1, keepdim=True) / a.std(1, keepdim=True).clamp_min(1e-3)
        of[:, tm] = (a - a.mean(1, keepdim=True)) * scale + b.mean(1, keepdim=True)
    return out.clamp(0, 1)


class _Level:
    """The fixed parts of one pyramid level: patch banks, content features, map channels.

    :meth:`loss` re-runs the nearest-patch search every ``rematch_every`` calls and keeps the
    pasted targets in between (the energy is then a fixed quadratic in the features).
    """

    def __init__(
        self, net: VGGFeatures, content: Tensor, style: Tensor, problem: Problem, s: Settings
    ) -> None:
        self.net = net
        self.s = s
        size = (int(content.shape[-2]), int(content.shape[-1]))
        with torch.no_grad():
            sfeat = net(style, list(s.style_layers))
        self.banks: dict[str, PatchBank] = {}
        self.target_sem: dict[str, Tensor | None] = {}
        self.scale: dict[str, float] = {}
        self.targets: dict[str, Tensor] = {}
        self.calls = 0
        sem_w = s.semantic_weight if problem.semantic else 0.0
        for name in s.style_layers:
            f = sfeat[name]
            stride = net.stride(name)
            fsize = (size[0] // stride, size[1] // stride)
            fs = (int(f.shape[-2]), int(f.shape[-1]))
            style_sem = _sem(problem.style_labels, problem.classes, fs)
            pstride = stride_for(fs, s.patch_size, s.max_patches, s.stride)
            self.banks[name] = PatchBank.build(
                f, s.patch_size, pstride, style_sem, sem_w, s.project
            )
            self.target_sem[name] = (
                _sem(problem.target_labels, problem.classes, fsize) if sem_w else None
            )
            self.scale[name] = 1.0 / float(f.pow(2).mean().clamp_min(1e-12))
        self.content_feat: Tensor | None = None
        if s.content_weight > 0:
            with torch.no_grad():
                self.content_feat = net(content, [s.content_layer])[s.content_layer]
            self.content_scale = 1.0 / float(self.content_feat.pow(2).mean().clamp_min(1e-12))

    def loss(self, x: Tensor) -> Tensor:
        layers = list(self.s.style_layers)
        if self.content_feat is not None and self.s.content_layer not in layers:
            layers.append(self.s.content_layer)
        feats = self.net(x, layers)
        rematch = self.calls % max(1, self.s.rematch_every) == 0 or not self.targets
        self.calls += 1
        total = x.new_zeros(())
        for name in self.s.style_layers:
            f = feats[name]
            if rematch:
                bank = self.banks[name]
                index = bank.match(f.detach(), self.target_sem[name])
                self.targets[name] = bank.paste(index, (int(f.shape[-2]), int(f.shape[-1])))
            diff = f - self.targets[name]
            total = total + self.s.style_weight * self.scale[name] * diff.pow(2).mean()
        if self.content_feat is not None:
            diff = feats[self.s.content_layer] - self.content_feat
            total = total + self.s.content_weight * self.content_scale * diff.pow(2).mean()
        if self.s.tv_weight > 0:
            total = total + self.s.tv_weight * total_variation(x)
        return total


def _optimise(
    x: Tensor,
    loss_fn: object,
    iterations: int,
    on_step: StepCallback,
    done: int,
    total: int,
    stage: str,
    preview_every: int,
    optimiser: str = "lbfgs",
) -> Tensor:
    x = x.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
    opt: torch.optim.Optimizer
    if optimiser == "adam":
        opt = torch.optim.Adam([x], lr=ADAM_LR)
    else:
        opt = torch.optim.LBFGS([x], lr=1.0, max_iter=1, history_size=25, tolerance_change=0.0)
    last = [0.0]

    def closure() -> Tensor:
        opt.zero_grad()
        loss = loss_fn(x)  # type: ignore[operator]
        loss.backward()
        last[0] = float(loss.detach())
        return loss

    for i in range(iterations):
        opt.step(closure)
        with torch.no_grad():
            x.clamp_(0, 1)
        n = done + i + 1
        preview = x.detach().clone() if preview_every and (i + 1) % preview_every == 0 else None
        on_step(Step(n, total, stage, f"loss {last[0]:.4g}", preview))
    return x.detach()


def quilted(
    net: VGGFeatures, start: Tensor, style: Tensor, problem: Problem, s: Settings
) -> Tensor:
    """``start`` re-made from the style's pixels: relu3_1 patch matches pasted as pixel windows.

    The image-space style swap (see :func:`backend.algorithms.patches.quilt`): every 3×3 relu3_1
    window of
    ``start`` (with the target map, when given) finds its nearest style window, and the style's
    pixels under it are pasted. Keeps the layout of ``start``, takes the style's colours and
    strokes; costs two forward passes and one search.
    """
    cell = net.stride(QUILT_LAYER)
    size = (int(start.shape[-2]), int(start.shape[-1]))
    with torch.no_grad():
        cf = net(start, [QUILT_LAYER])[QUILT_LAYER]
        sf = net(style, [QUILT_LAYER])[QUILT_LAYER]
        sem_w = s.semantic_weight if problem.semantic else 0.0
        fs = (int(sf.shape[-2]), int(sf.shape[-1]))
        fc = (int(cf.shape[-2]), int(cf.shape[-1]))
        t_sem = _sem(problem.target_labels, problem.classes, fc) if sem_w else None
        s_sem = _sem(problem.style_labels, problem.classes, fs) if sem_w else None
        pstride = stride_for(fs, s.patch_size, s.max_patches, s.stride)
        bank = PatchBank.build(sf, s.patch_size, pstride, s_sem, sem_w, s.project)
        index = bank.match(cf, t_sem)
        return quilt(index, style, s.patch_size, cell, pstride, size).clamp(0, 1)


def synthesise(net: VGGFeatures, problem: Problem, s: Settings, on_step: StepCallback) -> Tensor:
    """Coarse-to-fine MRF / doodle synthesis at the problem's working size -> (1, 3, H, W)."""
    size = (int(problem.content.shape[-2]), int(problem.content.shape[-1]))
    ssize = (int(problem.style.shape[-2]), int(problem.style.shape[-1]))
    scales = level_scales(size, ssize, s.levels, min_side(net, s.patch_size))
    plan = s.level_iterations(len(scales))
    total = sum(plan)
    x: Tensor | None = None
    for k, scale in enumerate(scales):
        lsize = _scaled(size, scale)
        content = _resize(problem.content, lsize)
        style = _resize(problem.style, _scaled(ssize, scale))
        if x is None:
            x = content if s.content_weight > 0 else _resize(initial_image(problem, s.seed), lsize)
            if s.init == "quilt" or (s.init == "auto" and s.content_weight == 0):
                x = quilted(net, x, style, problem, s)
        else:
            x = F.interpolate(x, size=lsize, mode="bilinear", align_corners=False)
        level = _Level(net, content, style, problem, s)
        stage = f"level {k + 1}/{len(scales)}"
        x = _optimise(
            x,
            level.loss,
            plan[k],
            on_step,
            sum(plan[:k]),
            total,
            stage,
            s.preview_every,
            s.optimiser,
        )
        if s.content_weight == 0:  # nothing anchors the colours of a doodle from noise
            x = smooth_chroma(x, s.chroma_sigma)
        if s.content_weight == 0 and (k + 1 < len(scales) or s.final_colour_match):
            x = match_colours(x, style, problem)
    assert x is not None
    return x
