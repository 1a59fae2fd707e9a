"""Colour steps around the MRF synthesis: palette transfer, luminance-only transfer, Lab.

- :func:`transfer_colours` gives an image the colour mean and covariance of a reference (the
  closed-form optimal transport map between two Gaussians, Monge–Kantorovich linear transfer as
  in Pitié & Kokaram 2007 and Gatys et al. 2017 "Controlling perceptual factors"), globally or
  region by region with label maps. It is linear in RGB, so it moves the palette without
  touching structure; it matches only first and second moments (not the whole distribution).
- :func:`luminance` / :func:`with_chroma_of` implement "keep the photo's colours": synthesise on
  luminance only, then put the photo's chroma back (YCbCr, BT.601).
- :func:`rgb_to_lab` is for measuring (the protocol's colour distance), not for the filter.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from backend.algorithms.blur import gaussian_blur

_LUMA = (0.299, 0.587, 0.114)
MIN_REGION = 16
"""Fewest pixels a region needs on both sides to get its own colour transfer."""


def luminance(x: Tensor) -> Tensor:
    """BT.601 luma of (B, 3, H, W) RGB -> (B, 1, H, W)."""
    w = x.new_tensor(_LUMA).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def grey(x: Tensor) -> Tensor:
    """(B, 3, H, W) RGB -> the same image in grey (luma in all three channels)."""
    return luminance(x).expand(-1, 3, -1, -1).contiguous()


def with_chroma_of(luma_image: Tensor, colour_image: Tensor) -> Tensor:
    """Luma of ``luma_image`` with the chroma (Cb, Cr) of ``colour_image`` -> RGB in [0, 1].

    Both (B, 3, H, W) at the same size. In YCbCr an RGB pixel is its luma plus a chroma offset
    ``rgb - Y``, so this is ``colour_image - Y(colour_image) + Y(luma_image)``.
    """
    return (colour_image - luminance(colour_image) + luminance(luma_image)).clamp(0, 1)


def match_luminance(style: Tensor, content: Tensor) -> Tensor:
    """Grey ``style`` whose luma has the mean and std of ``content``'s luma (Gatys 2017 §5.1)."""
    ys, yc = luminance(style), luminance(content)
    scale = yc.std() / ys.std().clamp_min(1e-3)
    return ((ys - ys.mean()) * scale + yc.mean()).clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def _sqrtm(m: Tensor) -> tuple[Tensor, Tensor]:
    """Square root and inverse square root of a symmetric PSD 3×3 matrix (float64)."""
    vals, vecs = torch.linalg.eigh(m)
    vals = vals.clamp_min(1e-12)
    root = (vecs * vals.sqrt()) @ vecs.T
    inv = (vecs * vals.rsqrt()) @ vecs.T
    return root, inv


def linear_map(source: Tensor, target: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The OT map between Gaussians fitted to (3, N) ``source`` and (3, M) ``target`` colours.

    Returns ``(A, mu_s, mu_t)`` with ``A (x - mu_s) + mu_t`` mapping source colours so that their
    mean and covariance equal the target's.
    """
    s, t = source.double(), target.double()
    mu_s, mu_t = s.mean(1, keepdim=True), t.mean(1, keepdim=True)
    eye = torch.eye(3, dtype=torch.float64, device=s.device) * 1e-5
    cs = torch.cov(s) + eye
    ct = torch.cov(t) + eye
    root_s, inv_s = _sqrtm(cs)
    middle, _ = _sqrtm(root_s @ ct @ root_s)
    a = inv_s @ middle @ inv_s
    return a, mu_s, mu_t


def transfer_colours(
    x: Tensor,
    reference: Tensor,
    x_labels: Tensor | None = None,
    ref_labels: Tensor | None = None,
    classes: int = 0,
) -> Tensor:
    """``x`` (1, 3, H, W) with the colour mean and covariance of ``reference`` (1, 3, h, w).

    With label maps (``x_labels`` (H', W'), ``ref_labels`` (h', w'), any resolution covering the
    same area as their image) each class gets its own map; a class with fewer than
    ``MIN_REGION`` pixels on either side takes the global map.
    """
    xs, rs = (
        (int(x.shape[-2]), int(x.shape[-1])),
        (int(reference.shape[-2]), int(reference.shape[-1])),
    )
    xf, rf = x[0].reshape(3, -1), reference[0].reshape(3, -1)
    out = _apply(xf, *linear_map(xf, rf))
    if x_labels is not None and ref_labels is not None and classes > 1:
        xl = _labels_at(x_labels, xs).flatten()
        rl = _labels_at(ref_labels, rs).flatten()
        for c in range(classes):
            xm, rm = xl == c, rl == c
            if int(xm.sum()) < MIN_REGION or int(rm.sum()) < MIN_REGION:
                continue
            out[:, xm] = _apply(xf[:, xm], *linear_map(xf[:, xm], rf[:, rm]))
    return out.reshape(1, 3, *xs).clamp(0, 1)


def _apply(colours: Tensor, a: Tensor, mu_s: Tensor, mu_t: Tensor) -> Tensor:
    return (a @ (colours.double() - mu_s) + mu_t).to(colours.dtype)


def _labels_at(labels: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(labels.shape[-2:]) == size:
        return labels.long()
    return F.interpolate(labels[None, None].float(), size=size, mode="nearest")[0, 0].long()


def rgb_to_lab(x: Tensor) -> Tensor:
    """sRGB (…, 3, H, W) in [0, 1] -> CIE Lab (D65), L in [0, 100]."""
    rgb = torch.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)
    m = x.new_tensor(
        [
            [0.412453, 0.357580, 0.180423],
            [0.212671, 0.715160, 0.072169],
            [0.019334, 0.119193, 0.950227],
        ]
    )
    xyz = torch.einsum("ij,...jhw->...ihw", m, rgb)
    white = x.new_tensor([0.950456, 1.0, 1.088754]).view(3, 1, 1)
    t = xyz / white
    f = torch.where(t > 0.008856, t.clamp_min(1e-12) ** (1 / 3), 7.787 * t + 16 / 116)
    fx, fy, fz = f.unbind(-3)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)


def smooth_chroma(x: Tensor, sigma: float = 1.0) -> Tensor:
    """``x`` (1, 3, H, W) with its chroma (RGB minus luma) Gaussian-blurred, luma untouched.

    Pixel-scale colour noise ("rainbow" speckle) is what an optimiser leaves behind where the
    backbone does not see colour; strokes keep their light/dark detail in the luma.
    """
    if sigma <= 0:
        return x
    y = luminance(x)
    chroma = gaussian_blur(x - y, sigma, radius=max(1, int(3 * sigma + 0.5)), pad="replicate")
    return (y + chroma).clamp(0, 1)
