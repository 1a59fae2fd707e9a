"""The judges of docs/quality-mrf.md's protocol and tuning sweep (scripts/mrf_protocol.py)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from backend.evaluation.mrf_metrics import (
    at_working_scale,
    lab_quantiles,
    lab_swd,
    texture_distance,
    texture_swd,
)


def _smooth(seed: int, size: int = 96) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, size // 8, size // 8, generator=g)
    return F.interpolate(low, size=(size, size), mode="bicubic").clamp(0, 1)


def test_lab_swd_zero_for_itself_and_reusable_reference() -> None:
    a, b = _smooth(0), _smooth(1) * 0.5
    assert lab_swd(a, a) == 0.0
    assert lab_swd(a, b) > 1.0
    assert lab_swd(a, ref_q=lab_quantiles(b)) == lab_swd(a, b)


def test_texture_swd_separates_strokes_from_flat_and_ignores_colour() -> None:
    g = torch.Generator().manual_seed(2)
    strokes = (_smooth(3) + 0.3 * torch.rand(1, 1, 96, 96, generator=g)).clamp(0, 1)
    flat = _smooth(3)
    assert texture_swd(strokes, strokes) < 1e-6  # the two sample draws differ
    assert texture_swd(flat, strokes) > 5 * texture_swd(strokes[..., :, :48], strokes)
    grey = strokes.mean(1, keepdim=True).expand(1, 3, 96, 96)
    # the same luma in other colours: the same high-pass patches
    assert texture_swd(grey, strokes) < 0.1 * texture_swd(flat, strokes)


def test_texture_distance_works_at_the_filters_scale() -> None:
    content, style = torch.rand(1, 3, 60, 80), torch.rand(1, 3, 40, 100)
    x, s = at_working_scale(content, content, style, 40)
    assert x.shape[-2:] == (30, 40) and s.shape[-2:] == (20, 50)
    assert texture_distance(torch.rand(1, 3, 30, 40), content, style, 40) >= 0.0
