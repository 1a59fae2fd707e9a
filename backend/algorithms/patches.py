"""Patch matching for MRF / doodle / style swap: nearest style patch by NCC.

A :class:`PatchBank` holds the k×k patches of one style feature map (optionally with semantic
channels). :meth:`PatchBank.match` finds, for every k×k patch of a target map, the style patch with
the highest normalised cross-correlation, computed as a convolution with the L2-normalised style
patches as filters and chunked over the style patches so that the response tensor stays under a
fixed number of elements (``max_elements``). :meth:`PatchBank.paste` folds the matched (raw)
patches back into a feature map, averaging overlaps (style swap, Chen & Schmidt 2016; the CNNMRF
gradient target, Li & Wand 2016).

With semantic channels the score of a pair is the doodle combination (Champandard 2016)::

    <f_t, f_s> / (|f_t| |f_s|) + sqrt(w) * <m_t, m_s> / (|m_t| |m_s|)

where f are feature patches and m the pooled one-hot map patches of the same window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from backend.cancel import checkpoint

MAX_ELEMENTS = 1 << 25
"""Default bound on the response tensor of one chunk (32 Mi values = 128 MiB in fp32)."""

CPU_CHUNK_MACS = 1 << 30
"""On the CPU, also bound one chunk's multiply-adds, so the match checks for a cancel often."""

_EPS = 1e-8


def extract_patches(feat: Tensor, k: int, stride: int = 1) -> Tensor:
    """All k×k patches of ``feat`` (1, C, H, W) with ``stride`` -> (N, C, k, k), row-major order."""
    if feat.dim() != 4 or feat.shape[0] != 1:
        raise ValueError(f"expected a (1, C, H, W) map, got {tuple(feat.shape)}")
    c = feat.shape[1]
    if feat.shape[-2] < k or feat.shape[-1] < k:
        raise ValueError(f"map {tuple(feat.shape[-2:])} is smaller than the {k}x{k} patch")
    cols = F.unfold(feat, k, stride=stride)[0]  # (C*k*k, N)
    return cols.T.reshape(-1, c, k, k).contiguous()


def _normalised(patches: Tensor) -> Tensor:
    norms = patches.flatten(1).norm(dim=1).clamp_min(_EPS)
    return patches / norms.view(-1, 1, 1, 1)


def _local_norm(x: Tensor, k: int) -> Tensor:
    """L2 norm of every k×k window (over all channels) of ``x`` -> (1, 1, H-k+1, W-k+1)."""
    ones = x.new_ones(1, x.shape[1], k, k)
    return F.conv2d(x * x, ones).clamp_min(0).sqrt().clamp_min(_EPS)


def principal_basis(feat: Tensor, dims: int) -> Tensor:
    """(C, dims) orthonormal leading eigenvectors of the uncentred channel second moments."""
    flat = feat[0].reshape(feat.shape[1], -1).double()
    _, vecs = torch.linalg.eigh(flat @ flat.T)
    return vecs[:, -dims:].flip(1).to(feat.dtype).contiguous()


def _project(feat: Tensor, basis: Tensor) -> Tensor:
    return torch.einsum("bchw,cd->bdhw", feat, basis).contiguous()


def stride_for(positions: tuple[int, int], k: int, max_patches: int, stride: int = 1) -> int:
    """Smallest patch stride >= ``stride`` that leaves at most ``max_patches`` style patches."""
    h, w = positions
    while ((h - k) // stride + 1) * ((w - k) // stride + 1) > max_patches and stride < min(h, w):
        stride += 1
    return stride


def chunk_size(positions: int, max_elements: int = MAX_ELEMENTS) -> int:
    """How many style patches one chunk may hold so the response has at most ``max_elements``."""
    return max(1, max_elements // max(1, positions))


@dataclass(frozen=True)
class PatchBank:
    """The k×k patches of a style map, raw and normalised, with optional semantic parts.

    ``patches`` (N, C, k, k) raw feature patches (what gets pasted); ``feat_filters`` the same,
    L2-normalised, or, with a ``basis`` (C, d), the normalised patches of the features projected
    onto it (the search then works in d channels); ``sem_filters`` (N, K, k, k) normalised map
    patches or None; ``sem_scale`` is sqrt(semantic weight).
    """

    patches: Tensor
    feat_filters: Tensor
    sem_filters: Tensor | None
    sem_scale: float
    k: int
    basis: Tensor | None = None

    @classmethod
    def build(
        cls,
        style: Tensor,
        k: int = 3,
        stride: int = 1,
        style_sem: Tensor | None = None,
        sem_weight: float = 0.0,
        project: int = 0,
    ) -> PatchBank:
        """Patches of ``style`` (1, C, H, W); ``style_sem`` (1, K, H, W) pooled one-hot map.

        ``project`` > 0 (and < C) makes the search work on the features projected onto their
        ``project`` leading principal directions (uncentred, so dot products are kept exactly
        when ``project`` = C): an approximate nearest neighbour that cuts the search cost by
        C / ``project``. Pasting always uses the raw patches.
        """
        patches = extract_patches(style, k, stride)
        sem = None
        if style_sem is not None and sem_weight > 0:
            if style_sem.shape[-2:] != style.shape[-2:]:
                raise ValueError("style map and style features differ in size")
            sem = _normalised(extract_patches(style_sem.to(style.dtype), k, stride))
        basis = principal_basis(style, project) if 0 < project < style.shape[1] else None
        search = patches if basis is None else extract_patches(_project(style, basis), k, stride)
        return cls(patches, _normalised(search), sem, math.sqrt(max(sem_weight, 0.0)), k, basis)

    def __len__(self) -> int:
        return int(self.patches.shape[0])

    def scores(self, target: Tensor, target_sem: Tensor | None = None) -> Tensor:
        """Full NCC score volume (N, H-k+1, W-k+1); unchunked, for tests and small inputs."""
        if self.basis is not None:
            target = _project(target, self.basis)
        return self._chunk_scores(
            target, target_sem, 0, len(self), *self._norms(target, target_sem)
        )

    def match(
        self,
        target: Tensor,
        target_sem: Tensor | None = None,
        max_elements: int = MAX_ELEMENTS,
    ) -> Tensor:
        """Index of the best style patch for every k×k window of ``target`` -> (H-k+1, W-k+1).

        ``target`` (1, C, H, W); ``target_sem`` (1, K, H, W) is needed when the bank has
        semantic parts. Chunked over style patches with a running max, so memory is bounded by
        ``max_elements`` response values whatever the number of patches.
        """
        self._check(target, target_sem)
        if self.basis is not None:
            target = _project(target, self.basis)
        norms = self._norms(target, target_sem)
        h, w = target.shape[-2] - self.k + 1, target.shape[-1] - self.k + 1
        step = chunk_size(h * w, max_elements)
        if target.device.type == "cpu":  # chunks of ~0.1-0.5 s: a cancel is seen within a second
            per_patch = h * w * int(target.shape[1]) * self.k * self.k
            step = min(step, max(1, CPU_CHUNK_MACS // max(1, per_patch)))
        best = torch.full((h, w), float("-inf"), device=target.device, dtype=target.dtype)
        index = torch.zeros((h, w), dtype=torch.long, device=target.device)
        with torch.no_grad():
            for start in range(0, len(self), step):
                checkpoint()  # a cancel must not wait for the whole style swap
                stop = min(start + step, len(self))
                value, arg = self._chunk_scores(target, target_sem, start, stop, *norms).max(0)
                better = value > best
                best = torch.where(better, value, best)
                index = torch.where(better, arg + start, index)
        return index

    def paste(
        self,
        index: Tensor,
        size: tuple[int, int] | None = None,
        max_elements: int = MAX_ELEMENTS,
    ) -> Tensor:
        """Fold the raw patches chosen by ``index`` (h, w) into a (1, C, h+k-1, w+k-1) map.

        Overlapping contributions are averaged (every position is covered at least once). Rows
        are folded in blocks so the gathered patches hold at most ``max_elements`` values.
        """
        k = self.k
        h, w = int(index.shape[0]), int(index.shape[1])
        out_h, out_w = size or (h + k - 1, w + k - 1)
        c = int(self.patches.shape[1])
        out = self.patches.new_zeros(1, c, out_h, out_w)
        rows = max(1, max_elements // max(1, w * c * k * k))
        for r0 in range(0, h, rows):
            checkpoint()
            r1 = min(h, r0 + rows)
            cols = self.patches[index[r0:r1].flatten()].flatten(1).T.unsqueeze(0)
            block = F.fold(cols, (r1 - r0 + k - 1, w + k - 1), k)
            out[:, :, r0 : r1 + k - 1, : w + k - 1] += block
        ones = out.new_ones(1, k * k, h * w)
        count = F.fold(ones, (out_h, out_w), k)
        return out / count.clamp_min(1.0)

    # -- internals ---------------------------------------------------------------------------
    def _check(self, target: Tensor, target_sem: Tensor | None) -> None:
        if target.dim() != 4 or target.shape[0] != 1:
            raise ValueError(f"expected a (1, C, H, W) target, got {tuple(target.shape)}")
        if target.shape[1] != self.patches.shape[1]:
            raise ValueError(
                f"target has {target.shape[1]} channels, the bank {self.patches.shape[1]}"
            )
        if self.sem_filters is not None and target_sem is None:
            raise ValueError("this bank matches with semantic maps: pass target_sem")

    def _norms(self, target: Tensor, target_sem: Tensor | None) -> tuple[Tensor, Tensor | None]:
        with torch.no_grad():
            fn = _local_norm(target, self.k)[0, 0]
            if self.sem_filters is None or target_sem is None:
                return fn, None
            return fn, _local_norm(target_sem.to(target.dtype), self.k)[0, 0]

    def _chunk_scores(
        self,
        target: Tensor,
        target_sem: Tensor | None,
        start: int,
        stop: int,
        feat_norm: Tensor,
        sem_norm: Tensor | None,
    ) -> Tensor:
        with torch.no_grad():
            score = F.conv2d(target, self.feat_filters[start:stop])[0] / feat_norm
            if self.sem_filters is not None and target_sem is not None and sem_norm is not None:
                sem = F.conv2d(target_sem.to(target.dtype), self.sem_filters[start:stop])[0]
                score = score + (self.sem_scale / sem_norm) * sem
        return score


def style_swap(
    content: Tensor,
    style: Tensor,
    k: int = 3,
    stride: int = 1,
    content_sem: Tensor | None = None,
    style_sem: Tensor | None = None,
    sem_weight: float = 0.0,
    max_elements: int = MAX_ELEMENTS,
) -> Tensor:
    """Replace every k×k patch of ``content`` (1, C, H, W) by its nearest ``style`` patch.

    One nearest-neighbour pass plus an overlap-averaged fold (Chen & Schmidt 2016); with maps
    the matching is semantic (doodle scores). Returns a (1, C, H, W) map.
    """
    bank = PatchBank.build(style, k, stride, style_sem, sem_weight)
    index = bank.match(content, content_sem, max_elements)
    return bank.paste(index, (int(content.shape[-2]), int(content.shape[-1])))


def quilt(
    index: Tensor,
    style_pixels: Tensor,
    k: int,
    cell: int,
    stride: int,
    size: tuple[int, int],
) -> Tensor:
    """Paste the *pixel* windows under matched feature patches into an image of ``size``.

    ``index`` (h, w) holds, for every k×k window of a target feature map with cells of ``cell``
    pixels, the matched style patch (a bank built with ``stride`` on the style's features at the
    same cell size). Each match's (k·cell)² pixel window of ``style_pixels`` (1, 3, H, W) is
    pasted where its feature window lies, blended with a Gaussian window (σ = cell) so the
    centre of each match dominates; pixels past the last full cell repeat the border. This is an
    image-space style swap: no backpropagation, the style's own colours and strokes.
    """
    side = k * cell
    h, w = int(index.shape[0]), int(index.shape[1])
    cols = F.unfold(style_pixels, side, stride=stride * cell)[0]  # (3·side², N)
    axis = torch.arange(side, dtype=style_pixels.dtype, device=style_pixels.device)
    g = torch.exp(-0.5 * ((axis - (side - 1) / 2) / cell) ** 2)
    window = (g[:, None] * g[None, :]).flatten()
    picked = cols[:, index.flatten()] * window.repeat(3)[:, None]
    out_size = ((h + k - 1) * cell, (w + k - 1) * cell)
    num = F.fold(picked.unsqueeze(0), out_size, side, stride=cell)
    den = F.fold(window[:, None].expand(-1, h * w).unsqueeze(0), out_size, side, stride=cell)
    img = num / den.clamp_min(1e-8)
    pad_h, pad_w = size[0] - out_size[0], size[1] - out_size[1]
    if pad_h > 0 or pad_w > 0:
        img = F.pad(img, (0, max(0, pad_w), 0, max(0, pad_h)), mode="replicate")
    return img[..., : size[0], : size[1]].contiguous()
