"""What the MRF protocol measures (docs/quality-mrf.md): colour, structure and brushwork.

The judges of ``scripts/mrf_protocol.py`` and ``scripts/mrf_tune.py`` (see their docstrings for
what each figure means); tests import them from here. Images are (1, 3, H, W) float RGB in [0, 1].
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from backend.algorithms.colour import luminance, rgb_to_lab


def lab_quantiles(x: Tensor, directions: int = 128, quantiles: int = 256) -> Tensor:
    """The quantiles of an RGB image's Lab colours along fixed random directions (for
    :func:`lab_swd`; a reference's can be computed once and reused)."""
    a = rgb_to_lab(x[0]).reshape(3, -1).double()
    g = torch.Generator().manual_seed(0)
    dirs = F.normalize(torch.randn(directions, 3, generator=g, dtype=torch.float64), dim=1)
    q = (torch.arange(quantiles, dtype=torch.float64) + 0.5) / quantiles
    return torch.quantile(dirs @ a, q, dim=1)


def lab_swd(x: Tensor, ref: Tensor | None = None, ref_q: Tensor | None = None) -> float:
    """Sliced W1 distance between the Lab colour distributions of two RGB images (Lab units):
    128 fixed random directions, 256 quantiles. ``ref_q``: :func:`lab_quantiles` of ``ref``."""
    if ref_q is None:
        assert ref is not None
        ref_q = lab_quantiles(ref)
    return float((lab_quantiles(x) - ref_q).abs().mean())


def _sobel(x: Tensor) -> Tensor:
    y = luminance(x)
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]).view(1, 1, 3, 3)
    gx = F.conv2d(F.pad(y, (1, 1, 1, 1), mode="replicate"), kx)
    gy = F.conv2d(F.pad(y, (1, 1, 1, 1), mode="replicate"), kx.transpose(-1, -2))
    return (gx.pow(2) + gy.pow(2)).sqrt() / (4 * 2**0.5)


def ssim(a: Tensor, b: Tensor, data_range: float = 1.0, sigma: float = 1.5) -> float:
    """Mean SSIM of two (1, 1, H, W) maps, Gaussian window (Wang et al. 2004 constants)."""
    r = int(3.5 * sigma + 0.5)
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    g = (g / g.sum()).float()
    win = (g[:, None] * g[None, :]).view(1, 1, 2 * r + 1, 2 * r + 1)

    def blur(z: Tensor) -> Tensor:
        return F.conv2d(z, win)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    ma, mb = blur(a), blur(b)
    va, vb = blur(a * a) - ma**2, blur(b * b) - mb**2
    cov = blur(a * b) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
    return float(s.mean())


def edge_ssim(x: Tensor, content: Tensor) -> float:
    """SSIM of the Sobel edge maps of ``x`` (resized to the content) and ``content``."""
    if x.shape[-2:] != content.shape[-2:]:
        x = F.interpolate(x, size=content.shape[-2:], mode="bilinear", antialias=True)
    return ssim(_sobel(x), _sobel(content))


def coarse_edge_ssim(x: Tensor, content: Tensor) -> float:
    """:func:`edge_ssim` at a quarter of the content's size: object contours, not brushwork."""
    if x.shape[-2:] != content.shape[-2:]:
        x = F.interpolate(x, size=content.shape[-2:], mode="bilinear", antialias=True)

    def quarter(z: Tensor) -> Tensor:
        return F.interpolate(z, scale_factor=0.25, mode="bilinear", antialias=True)

    return edge_ssim(quarter(x), quarter(content))


def texture_swd(
    x: Tensor, ref: Tensor, patch: int = 7, directions: int = 64, samples: int = 20000
) -> float:
    """Brushwork distance: sliced W1 between the distributions of ``patch``² windows of the
    high-pass luma (luma minus a Gaussian blur of σ 2 px) of ``x`` and of ``ref`` (×100,
    [0, 1] luma units). Both images must be at the scale the filter works at (see
    :func:`at_working_scale`). Lower = local stroke contrast and shapes closer to the painting's.
    Colour-blind by design (the colour figure is :func:`lab_swd`)."""
    g = torch.Generator().manual_seed(0)
    dirs = F.normalize(torch.randn(directions, patch * patch, generator=g, dtype=torch.float64))

    def projected(z: Tensor) -> Tensor:
        y = luminance(z)
        t = torch.arange(-6, 7, dtype=torch.float32)
        k = torch.exp(-0.5 * (t / 2.0) ** 2)
        k = k / k.sum()
        blur = F.conv2d(F.pad(y, (6, 6, 0, 0), mode="replicate"), k.view(1, 1, 1, 13))
        blur = F.conv2d(F.pad(blur, (0, 0, 6, 6), mode="replicate"), k.view(1, 1, 13, 1))
        cols = F.unfold(y - blur, patch, stride=2)[0].double()  # (patch², n)
        pick = torch.randperm(cols.shape[1], generator=g)[:samples]
        return dirs @ cols[:, pick]

    q = (torch.arange(256, dtype=torch.float64) + 0.5) / 256
    pa, pb = torch.quantile(projected(x), q, dim=1), torch.quantile(projected(ref), q, dim=1)
    return float((pa - pb).abs().mean()) * 100


def at_working_scale(x: Tensor, content: Tensor, style: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """``x`` at the filter's working size for ``content`` (long side ``size``) and the style
    scaled by the same factor, as the filter sees them (its strokes keep their scale)."""
    scale = min(1.0, size / max(content.shape[-2:]))

    def resized(z: Tensor, hw: tuple[int, int]) -> Tensor:
        out = (max(1, round(hw[0] * scale)), max(1, round(hw[1] * scale)))
        return F.interpolate(z, size=out, mode="bilinear", antialias=True)

    ch, cw = content.shape[-2:]
    sh, sw = style.shape[-2:]
    return resized(x, (int(ch), int(cw))), resized(style, (int(sh), int(sw)))


def texture_distance(x: Tensor, content: Tensor, style: Tensor, size: int) -> float:
    """:func:`texture_swd` of an output (any size) to the style, at the working scale."""
    if x.shape[-2:] != content.shape[-2:]:
        x = F.interpolate(x, size=content.shape[-2:], mode="bilinear", antialias=True)
    xs, ss = at_working_scale(x, content, style, size)
    return texture_swd(xs, ss)
