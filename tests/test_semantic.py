"""Semantic maps: palette from the style map, nearest-colour labels, pooling, errors, the metric."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from backend.algorithms.features import tiny_backbone
from backend.algorithms.semantic import (
    check_target,
    doodle_labels,
    hex_colour,
    labels_of,
    one_hot,
    palette_of,
    pooled,
    semantic_agreement,
)
from backend.errors import ParamError

COLOURS = torch.tensor([[255, 0, 0], [0, 0, 255], [0, 255, 0], [255, 255, 255]]) / 255


def _painted(h: int, w: int, seed: int = 0) -> torch.Tensor:
    """A hard-edged map: a background and three discs/boxes in the COLOURS, (1, 4, h, w)."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    lab = torch.zeros(h, w, dtype=torch.long)
    for c in (1, 2, 3):
        cy, cx = (
            torch.randint(h // 5, 4 * h // 5, (1,), generator=g),
            torch.randint(w // 5, 4 * w // 5, (1,), generator=g),
        )
        lab[((yy - cy) ** 2 + (xx - cx) ** 2) < (min(h, w) // 4) ** 2] = c
    rgb = COLOURS[lab].permute(2, 0, 1)[None]
    return torch.cat([rgb, torch.ones(1, 1, h, w)], 1)


def _as_set(palette: torch.Tensor) -> set[tuple[int, ...]]:
    return {tuple(int(v) for v in c.round()) for c in palette}


EXPECTED = {tuple(int(v) for v in (c * 255).round()) for c in COLOURS}


def test_palette_of_a_hard_map_is_its_colours() -> None:
    """A map painted in four flat colours has exactly those four classes."""
    assert _as_set(palette_of(_painted(64, 80))) == EXPECTED


@pytest.mark.parametrize("scale", [0.37, 0.5, 1.7, 3.0])
def test_resized_antialiased_map_has_no_phantom_classes(scale: float) -> None:
    """Bilinear/antialiased resizing creates in-between colours; none becomes a class."""
    m = _painted(120, 96, seed=1)
    size = (round(120 * scale), round(96 * scale))
    resized = F.interpolate(m, size=size, mode="bilinear", antialias=True, align_corners=False)
    assert len(torch.unique(resized[0, :3].flatten(1), dim=1).T) > 4
    assert _as_set(palette_of(resized)) == EXPECTED


def test_edge_pixels_snap_to_a_neighbouring_class() -> None:
    """An in-between edge colour gets the label of the nearest palette colour, not a new one."""
    palette = palette_of(_painted(64, 64))
    between = torch.tensor([0.9, 0.1, 0.1, 1.0]).view(1, 4, 1, 1)  # mostly red
    lab = labels_of(between, palette)
    assert _as_set(palette[lab.flatten()]) == {(255, 0, 0)}


def test_target_colour_absent_from_style_names_it() -> None:
    """A flat target colour not in the style map raises ParamError naming it as #rrggbb."""
    palette = palette_of(_painted(64, 64))
    target = _painted(64, 64, seed=2)
    target[0, :3, 10:30, 10:30] = torch.tensor([1.0, 0.5, 0.0]).view(3, 1, 1)
    with pytest.raises(ParamError, match="#ff8000"):
        check_target(target, palette)


def test_target_with_style_colours_passes() -> None:
    """A target painted (and resized) in the style's colours is accepted."""
    palette = palette_of(_painted(64, 64))
    target = F.interpolate(_painted(50, 70, seed=3), size=(80, 90), mode="bilinear")
    assert check_target(target, palette) is None  # no ParamError for the blended edges
    labels = labels_of(target, palette)
    assert set(labels.unique().tolist()) == set(range(len(palette)))  # every region still read


def test_doodle_labels_read_both_maps_over_the_style_palette() -> None:
    """One call: the style's palette, the target checked against it, both maps' labels capped."""
    style, target = _painted(64, 96), _painted(120, 80, seed=4)
    s_lab, t_lab, classes = doodle_labels(style, target, 48, 200)
    assert classes == len(EXPECTED)
    assert tuple(s_lab.shape) == (32, 48)  # long side capped at 48
    assert tuple(t_lab.shape) == (120, 80)  # already under 200: untouched
    palette = palette_of(style)
    assert torch.equal(t_lab, labels_of(target, palette))
    target[0, :3, :20, :20] = torch.tensor([1.0, 0.5, 0.0]).view(3, 1, 1)
    with pytest.raises(ParamError, match="#ff8000"):
        doodle_labels(style, target, 48, 200)


def test_pooled_one_hot_is_coverage() -> None:
    """Pooling a one-hot map gives per-cell class fractions that sum to one."""
    lab = torch.zeros(8, 8, dtype=torch.long)
    lab[:, 6:] = 1
    p = pooled(one_hot(lab, 2), (2, 2))
    assert torch.allclose(p.sum(1), torch.ones(1, 2, 2))
    assert torch.allclose(p[0, 1], torch.tensor([[0.0, 0.5], [0.0, 0.5]]))


def test_hex_colour() -> None:
    """Colours print as lowercase #rrggbb."""
    assert hex_colour([255, 51, 31]) == "#ff331f"


def test_agreement_is_high_for_a_copy_and_low_for_swapped_labels() -> None:
    """The style itself scores ~1 against its own map; against a label-swapped map it scores low."""
    torch.manual_seed(0)
    net = tiny_backbone(0)
    h, w = 96, 96
    style = torch.rand(1, 3, h, w)
    style[:, :, :, : w // 2] *= 0.3  # two visibly different halves
    style_map = torch.ones(1, 4, h, w)
    style_map[0, :3, :, : w // 2] = torch.tensor([1.0, 0, 0]).view(3, 1, 1)
    swapped = style_map.clone()
    swapped[0, :3, :, : w // 2] = 1.0
    swapped[0, :3, :, w // 2 :] = torch.tensor([1.0, 0, 0]).view(3, 1, 1)
    same = semantic_agreement(net, style, style, style_map, style_map)
    wrong = semantic_agreement(net, style, style, style_map, swapped)
    assert same > 0.95
    assert wrong < 0.2
