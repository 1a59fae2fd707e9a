"""Colour-coded semantic maps (neural-doodle): palette, labels, pooled one-hot channels, metric.

A map is an RGB image painted in a few flat colours. Antialiased edges and resized maps contain
in-between colours that must not become classes of their own (neural-doodle#4, #50, #117), so:

- the **palette** is read from the *style* map: the colours of its flat pixels (3×3 neighbourhood of
  one colour, within ``FLAT_TOLERANCE``), merged when closer than ``MATCH_TOLERANCE`` and kept when
  they cover at least ``MIN_FRACTION`` of the map;
- every pixel of either map gets the label of the **nearest** palette colour;
- a flat colour of the *target* map farther than ``MATCH_TOLERANCE`` from every palette colour is a
  :class:`~backend.errors.ParamError` naming it as ``#rrggbb``.

Labels become one-hot channels that are average-pooled (``area``) to each feature layer's size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from backend.errors import ParamError

FLAT_TOLERANCE = 6
"""Largest channel difference (0-255) between a flat pixel and its 8 neighbours."""
MATCH_TOLERANCE = 40.0
"""Largest RGB distance (0-255) at which two colours count as the same class."""
MIN_FRACTION = 2e-4
"""Smallest share of flat pixels a colour needs to be a class (drops specks)."""


def to_u8(image: Tensor) -> Tensor:
    """(1, 3|4, H, W) floats in [0, 1] -> (H, W, 3) int32 in 0-255 (alpha ignored)."""
    return (image[0, :3].clamp(0, 1) * 255).round().to(torch.int32).permute(1, 2, 0)


def hex_colour(rgb: Sequence[int] | Tensor) -> str:
    """``#rrggbb`` for a 0-255 RGB triple."""
    return "#" + "".join(f"{int(c):02x}" for c in rgb)


def _flat_colours(rgb: Tensor) -> tuple[Tensor, Tensor]:
    """Colours of the flat pixels of ``rgb`` (H, W, 3) with their counts, most common first."""
    x = rgb.permute(2, 0, 1).unsqueeze(0).float()
    if x.shape[-2] >= 3 and x.shape[-1] >= 3:
        hi = F.max_pool2d(x, 3, 1, 1)
        lo = -F.max_pool2d(-x, 3, 1, 1)
        flat = ((hi - lo).amax(1)[0] <= FLAT_TOLERANCE).flatten()
    else:
        flat = torch.ones(rgb.shape[0] * rgb.shape[1], dtype=torch.bool)
    pixels = rgb.reshape(-1, 3)[flat]
    if pixels.numel() == 0:  # nothing flat (tiny or noisy map): use every pixel
        pixels = rgb.reshape(-1, 3)
    colours, counts = torch.unique(pixels, dim=0, return_counts=True)
    order = counts.argsort(descending=True)
    return colours[order], counts[order]


def _merged(colours: Tensor, counts: Tensor) -> tuple[Tensor, Tensor]:
    """Greedy merge (most common first) of colours within MATCH_TOLERANCE."""
    kept: list[Tensor] = []
    totals: list[int] = []
    for colour, count in zip(colours.float(), counts.tolist(), strict=True):
        if kept:
            dist = (torch.stack(kept) - colour).norm(dim=1)
            j = int(dist.argmin())
            if float(dist[j]) <= MATCH_TOLERANCE:
                totals[j] += int(count)
                continue
        kept.append(colour)
        totals.append(int(count))
    return torch.stack(kept), torch.tensor(totals)


def palette_of(style_map: Tensor) -> Tensor:
    """The class colours of a style map (1, 3|4, H, W) in [0, 1] -> (K, 3) float 0-255."""
    colours, counts = _merged(*_flat_colours(to_u8(style_map)))
    keep = counts >= max(1.0, MIN_FRACTION * float(counts.sum()))
    keep[0] = True
    return colours[keep]


def labels_of(image_map: Tensor, palette: Tensor) -> Tensor:
    """Label (index of the nearest palette colour) of every pixel -> (H, W) long."""
    rgb = to_u8(image_map).float()
    dist = torch.cdist(rgb.reshape(-1, 3), palette.float().to(rgb.device))
    return dist.argmin(1).reshape(rgb.shape[0], rgb.shape[1])


def check_target(target_map: Tensor, palette: Tensor) -> None:
    """Raise ParamError naming the first flat target colour absent from the style palette."""
    colours, counts = _merged(*_flat_colours(to_u8(target_map)))
    enough = counts >= max(1.0, MIN_FRACTION * float(counts.sum()))
    dist = torch.cdist(colours.float(), palette.float()).amin(1)
    missing = [
        hex_colour(c.round().int())
        for c, d, e in zip(colours, dist, enough, strict=True)
        if e and d > MATCH_TOLERANCE
    ]
    if missing:
        known = ", ".join(hex_colour(c.round().int()) for c in palette)
        raise ParamError(
            f"target map colour {missing[0]} does not appear in the style map "
            f"(its colours: {known}); paint the target with the style map's colours"
        )


def doodle_labels(
    style_map: Tensor, target_map: Tensor, style_side: int, target_side: int
) -> tuple[Tensor, Tensor, int]:
    """A doodle's two maps as labels over the style map's palette: (style, target, classes).

    The palette comes from ``style_map``; a flat ``target_map`` colour it lacks is a ParamError
    (:func:`check_target`). Labels are taken on the maps resized (nearest) to at most
    ``style_side`` / ``target_side`` pixels on the long side: enough for area pooling
    (:func:`pooled`), cheap to hold.
    """
    palette = palette_of(style_map)
    check_target(target_map, palette)
    style = labels_of(_at_most(style_map, style_side), palette)
    target = labels_of(_at_most(target_map, target_side), palette)
    return style, target, len(palette)


def _at_most(image_map: Tensor, long_side: int) -> Tensor:
    h, w = int(image_map.shape[-2]), int(image_map.shape[-1])
    scale = min(1.0, long_side / max(h, w))
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    if size == (h, w):
        return image_map
    return F.interpolate(image_map, size=size, mode="nearest")


def one_hot(labels: Tensor, classes: int) -> Tensor:
    """(H, W) labels -> (1, K, H, W) float one-hot."""
    return F.one_hot(labels, classes).permute(2, 0, 1).unsqueeze(0).float()


def pooled(onehot: Tensor, size: tuple[int, int]) -> Tensor:
    """Average-pool a (1, K, H, W) one-hot map to ``size`` (each class's coverage per cell)."""
    if tuple(onehot.shape[-2:]) == tuple(size):
        return onehot
    if size[0] <= onehot.shape[-2] and size[1] <= onehot.shape[-1]:
        return F.adaptive_avg_pool2d(onehot, size)
    return F.interpolate(onehot, size=size, mode="bilinear", align_corners=False)


def semantic_agreement(
    backbone: torch.nn.Module,
    output: Tensor,
    style: Tensor,
    style_map: Tensor,
    target_map: Tensor,
    layer: str = "relu3_1",
    k: int = 3,
    interior: bool = True,
) -> float:
    """Fraction of output patches whose nearest style patch carries the target's label there.

    ``output`` (1, 3, H, W) and ``target_map`` cover the same area (the map is resized to the
    output); ``style`` and ``style_map`` likewise. Nearest neighbours are found by normalised
    cross-correlation of ``layer`` features only (no map channels), and a patch's label is the
    majority class of the map pooled to the layer at the patch centre. With ``interior`` only
    patches whose k×k window of target labels is uniform count (at a region boundary "the label
    there" is ambiguous, and boundaries are a large share of the patches in small images).
    """
    from backend.algorithms.patches import PatchBank

    palette = palette_of(style_map)
    kk = len(palette)
    size_o, size_s = tuple(output.shape[-2:]), tuple(style.shape[-2:])
    t_map = F.interpolate(target_map[:, :3], size=size_o, mode="nearest")
    s_map = F.interpolate(style_map[:, :3], size=size_s, mode="nearest")
    with torch.no_grad():
        fo = backbone(output, [layer])[layer]
        fs = backbone(style, [layer])[layer]
    t_lab = pooled(one_hot(labels_of(t_map, palette), kk), tuple(fo.shape[-2:])).argmax(1)[0]
    s_lab = pooled(one_hot(labels_of(s_map, palette), kk), tuple(fs.shape[-2:])).argmax(1)[0]
    index = PatchBank.build(fs, k).match(fo)
    r = k // 2
    s_centre = s_lab[r : s_lab.shape[0] - r, r : s_lab.shape[1] - r].flatten()
    t_centre = t_lab[r : t_lab.shape[0] - r, r : t_lab.shape[1] - r]
    agree = s_centre[index] == t_centre
    if interior:
        lab = t_lab[None, None].float()
        uniform = (F.max_pool2d(lab, k, 1) == -F.max_pool2d(-lab, k, 1))[0, 0]
        if bool(uniform.any()):
            agree = agree[uniform]
    return float(agree.float().mean())
