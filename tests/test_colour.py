"""Colour steps of the mrf filter: palette transfer, luminance-only transfer, Lab."""

from __future__ import annotations

import torch

from backend.algorithms.colour import (
    grey,
    luminance,
    match_luminance,
    rgb_to_lab,
    transfer_colours,
    with_chroma_of,
)


def _image(seed: int, h: int = 24, w: int = 32, lo: float = 0.2, span: float = 0.5) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mix = torch.tensor([[1.0, 0.3, 0.1], [0.2, 0.8, 0.3], [0.1, 0.2, 0.6]])
    x = torch.einsum("ij,bjhw->bihw", mix, torch.rand(1, 3, h, w, generator=g))
    return (lo + span * x / x.amax()).clamp(0, 1)


def _moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    flat = x[0].reshape(3, -1).double()
    return flat.mean(1), torch.cov(flat)


def test_transfer_matches_mean_and_covariance() -> None:
    """The transferred image has the reference's colour mean and full covariance."""
    x, ref = _image(0, span=0.3), _image(1, 20, 20, lo=0.3, span=0.4)
    out = transfer_colours(x, ref)
    (m_out, c_out), (m_ref, c_ref) = _moments(out), _moments(ref)
    assert torch.allclose(m_out, m_ref, atol=1e-4)
    assert torch.allclose(c_out, c_ref, atol=1e-4)
    assert not torch.allclose(_moments(x)[0], m_ref, atol=1e-2)  # it had to move


def test_transfer_region_by_region() -> None:
    """With label maps, each class takes the moments of the same class in the reference."""
    x, ref = _image(2, 24, 32, span=0.3), _image(3, 16, 16, span=0.2)
    ref[..., :, 8:] = ref[..., :, 8:] + 0.5  # the reference's class 1 is much brighter
    x_lab = torch.zeros(24, 32, dtype=torch.long)
    x_lab[12:] = 1
    r_lab = torch.zeros(16, 16, dtype=torch.long)
    r_lab[:, 8:] = 1
    out = transfer_colours(x, ref, x_lab, r_lab, 2)
    for c in (0, 1):
        got = out[0][:, x_lab == c].double()
        want = ref[0][:, r_lab == c].double()
        assert torch.allclose(got.mean(1), want.mean(1), atol=1e-4)
        assert torch.allclose(torch.cov(got), torch.cov(want), atol=1e-4)


def test_with_chroma_keeps_the_colour_images_chroma() -> None:
    """Luma comes from one image, chroma (RGB minus luma) from the other."""
    a, b = _image(4), _image(5)
    out = with_chroma_of(a, b)
    assert torch.allclose(luminance(out), luminance(a), atol=1e-5)
    assert torch.allclose(out - luminance(out), b - luminance(b), atol=1e-5)


def test_grey_and_luminance_match() -> None:
    """Grey images have equal channels; the style's luma takes the content's mean and std."""
    x, c = _image(6), _image(7, lo=0.5, span=0.2)
    assert torch.equal(grey(x)[:, 0], grey(x)[:, 2])
    y = luminance(match_luminance(x, c))
    assert abs(float(y.mean() - luminance(c).mean())) < 1e-4
    assert abs(float(y.std() - luminance(c).std())) < 1e-4


def test_lab_reference_colours() -> None:
    """White, black and pure red land on their textbook Lab values."""
    px = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]).T.reshape(3, 1, 3)
    lab = rgb_to_lab(px).reshape(3, 3).T
    assert torch.allclose(lab[0], torch.tensor([100.0, 0.0, 0.0]), atol=0.05)
    assert torch.allclose(lab[1], torch.tensor([0.0, 0.0, 0.0]), atol=0.05)
    assert torch.allclose(lab[2], torch.tensor([53.24, 80.09, 67.20]), atol=0.1)


def test_smooth_chroma_keeps_luma_and_removes_colour_speckle() -> None:
    """Pixel-scale chroma noise shrinks; the luma (light/dark detail) stays as it was."""
    from backend.algorithms.colour import smooth_chroma

    g = torch.Generator().manual_seed(8)
    base = 0.5 + 0.1 * torch.rand(1, 1, 32, 32, generator=g)
    speckle = 0.1 * (torch.rand(1, 3, 32, 32, generator=g) - 0.5)
    x = (base + speckle).clamp(0, 1)
    out = smooth_chroma(x, 1.0)
    assert torch.allclose(luminance(out), luminance(x), atol=1e-5)
    noise_in = (x - luminance(x)).std()
    noise_out = (out - luminance(out)).std()
    assert float(noise_out) < 0.4 * float(noise_in)
    assert torch.equal(smooth_chroma(x, 0.0), x)
