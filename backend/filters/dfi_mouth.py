"""DFI by decoding, inside the mouth: the decoder's mouth on the photo's own skin tone.

The inverter's transfer (``dfi_inverter.transfer``) keeps the photo's residual x − D(φ(x)) where
the decoder changes little and fades it where the decoder redraws. Around a mouth that is being
closed, that leaves a ring where the decoder's change is moderate: half-faded teeth, the old
smile's lip lines next to the decoder's new ones (a doubled, smeared mouth). :func:`fill`
replaces the photo inside a soft ellipse around the face's own mouth (from its two mouth-corner
landmarks in the frame) by the decoder's target plus the photo's residual *as measured on the
skin around the mouth* (a normalised convolution that fills the ellipse from outside), so the
mouth is one drawn mouth lit and toned like the face, with nothing of the old one left.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor
from torch.nn import functional as F

from backend.algorithms.blur import gaussian_blur
from backend.algorithms.faces import Similarity, paste_back
from backend.assets import attributes
from backend.filters.dfi_direction import luma_only

FILL_REMOVE = 1.0
"""Share of the mouth ellipse's pixels taken from the filled mouth when removing (strength < 0;
0: off, the plain transfer)."""
FILL_ADD = 0.0
"""The same when adding (strength > 0)."""
HALF_WIDTH = 0.75
"""Ellipse half-width as a fraction of the mouth-corner distance."""
HALF_HEIGHT = 0.42
"""Ellipse half-height as a fraction of the mouth-corner distance."""
DROP = 0.08
"""The ellipse's centre below the corners' midpoint, as a fraction of their distance."""
SOFT = 0.35
"""The mask falls from 1 to 0 over this fraction of the ellipse's radius, ending at its edge."""
COLOUR = 0.5
"""With keep colours on, the share of the filled mouth's colour applied (times the grey-photo
factor of ``dfi_inverter.CHROMA_FULL``); keep colours off applies all of it."""
FINE = 1.0
"""Share of the photo's detail finer than the frame (teeth edges of a face larger than the
working resolution) taken out inside the ellipse; 0: kept (the residual trick everywhere)."""
TEETH_FROM = 0.02
TEETH_FULL = 0.08
"""fine_detail_out acts where the photo is brighter than its decoding by more than the skin
around is: from an excess of brightness (0–1) of TEETH_FROM to TEETH_FULL it goes from nothing
to all (teeth the decoder did not draw); TEETH_FULL ≤ TEETH_FROM: everywhere in the ellipse."""
SMILE_FROM = 0.0
SMILE_FULL = 0.15
"""When removing, the fill's share follows :func:`smile_evidence`: nothing at SMILE_FROM or
below, all of FILL_REMOVE at SMILE_FULL or above, a smoothstep between (a face that barely
smiles keeps its own mouth: the fill would only blur it); SMILE_FULL ≤ SMILE_FROM: always all."""
SIGMA = 0.05
"""Reach of the skin residual's fill (Gaussian σ as a fraction of the frame side)."""


def fill_share(strength: float) -> float:
    return FILL_REMOVE if strength < 0 else FILL_ADD if strength > 0 else 0.0


def smile_evidence(
    feats: Mapping[str, Tensor], pack: attributes.AttributePack, ellipse: Tensor
) -> float:
    """How far the face's maps ``feats`` (φ_l(x), (1, C, h, w)) sit, inside the mouth ``ellipse``
    (1, 1, R, R), from the pack's non-smiling mean towards its smiling one: the projection
    ⟨φ_l − μ_without, w_l⟩ / ⟨w_l, w_l⟩ with w_l = μ_with − μ_without weighted by the ellipse
    (0: as the average non-smiling face, 1: as the average smiling one), the least over the
    layers — an open smile shows at every depth, a painted texture may push one map."""
    values = []
    for k, f in feats.items():
        if k not in pack.layers:
            continue
        means = torch.stack([pack.mean_with[k], pack.mean_without[k]]).to(f)
        if means.shape[-2:] != f.shape[-2:]:
            means = F.interpolate(means, size=f.shape[-2:], mode="bilinear", align_corners=False)
        w = means[:1] - means[1:]
        weighted = w * F.interpolate(ellipse.to(f), size=f.shape[-2:], mode="area")
        den = float((weighted * w).sum())
        if den > 0:
            values.append(float(((f - means[1:]) * weighted).sum()) / den)
    return min(values) if values else 1.0


def evidence_share(evidence: float) -> float:
    """The share (0–1) of the fill for a face with :func:`smile_evidence` ``evidence``."""
    lo, hi = SMILE_FROM, SMILE_FULL
    if hi <= lo:
        return 1.0
    t = min(1.0, max(0.0, (evidence - lo) / (hi - lo)))
    return t * t * (3 - 2 * t)


def mouth_mask(corners: Tensor, res: int) -> Tensor:
    """(1, 1, res, res) soft ellipse around the mouth whose corners are ``corners`` (2, 2) (x, y)
    in frame pixels: 1 inside, falling to 0 at its edge; oriented along the corners' line."""
    c = torch.as_tensor(corners, dtype=torch.float32)
    left, right = c[0], c[1]
    span = float((right - left).norm())
    if not span > 0:
        return torch.zeros(1, 1, res, res)
    along = (right - left) / span
    down = torch.stack([-along[1], along[0]])
    centre = (left + right) / 2 + DROP * span * down
    ys, xs = torch.meshgrid(torch.arange(res) + 0.5, torch.arange(res) + 0.5, indexing="ij")
    d = torch.stack([xs - centre[0], ys - centre[1]], -1)
    u = (d @ along) / (HALF_WIDTH * span)
    v = (d @ down) / (HALF_HEIGHT * span)
    r = torch.sqrt(u**2 + v**2)
    t = ((1.0 - r) / SOFT).clamp(0.0, 1.0)
    return (t * t * (3 - 2 * t))[None, None]  # smoothstep


def skin_residual(residual: Tensor, mask: Tensor, sigma: float) -> Tensor:
    """``residual`` (1, C, R, R) replaced by a Gaussian-weighted average of its values weighted
    by 1 − ``mask``: the photo's tone offset from its decoding, carried in from the skin around
    the mouth (the ellipse's core is not read; its soft edge a little, which keeps the skin read
    close to the mouth rather than from the background around a small face)."""
    outside = 1.0 - mask
    num = gaussian_blur(residual * outside, sigma)
    den = gaussian_blur(outside, sigma)
    for _ in range(4):  # widen where the ellipse is larger than the blur reaches
        if bool((den > 1e-3).all()):
            break
        sigma *= 2
        num, den = gaussian_blur(residual * outside, sigma), gaussian_blur(outside, sigma)
    return num / den.clamp_min(1e-3)


def fill(
    x: Tensor,
    before: Tensor,
    after: Tensor,
    delta: Tensor,
    ellipse: Tensor,
    share: float,
    colour: float,
) -> Tensor:
    """The frame's change ``delta`` (what the plain transfer gives) with the mouth ``ellipse``
    (:func:`mouth_mask`) replaced by ``after + skin residual − x``; ``colour`` ∈ [0, 1]: how much
    of that replacement's colour is applied (its brightness always is)."""
    if share <= 0:
        return delta
    res = x.shape[-1]
    mask = ellipse.to(x)
    target = (after + skin_residual(x - before, mask, SIGMA * res)).clamp(0.0, 1.0)
    mask = mask * share
    inner = target - x
    if colour < 1.0:
        grey = luma_only(inner)
        inner = grey + colour * (inner - grey)
    return delta + mask * (inner - delta)


def corners_in_frame(landmarks: Tensor, to_frame_matrix: Tensor, res: int) -> Tensor:
    """The two mouth-corner landmarks (rows 3, 4 of (5, 2) image pixels) in frame pixels."""
    pts = torch.as_tensor(landmarks, dtype=torch.float64)[3:5]
    unit = pts @ to_frame_matrix[:, :2].T + to_frame_matrix[:, 2]
    return (unit * res).float()


def fine_detail_out(image: Tensor, x: Tensor, mask: Tensor, to_frame: Similarity) -> Tensor:
    """The change (1, 3, H, W) in ``image``'s pixels that removes, where the frame's ``mask``
    (1, 1, R, R) is, the photo's detail finer than the frame ``x`` (1, 3, R, R) carries: ``image``
    minus the frame warped back. The frame's change is added at the frame's resolution, so a face
    larger than the frame would otherwise keep the old teeth's edges in the new mouth."""
    size = (image.shape[-2], image.shape[-1])
    low, weight = paste_back(x, to_frame, size, 0.0)
    where, _ = paste_back(mask, to_frame, size, 0.0)
    return -(image - low) * where * (weight > 0)


def teeth_weight(x: Tensor, before: Tensor, mask: Tensor) -> Tensor:
    """(1, 1, R, R) in [0, 1]: where, inside the ellipse ``mask``, the photo ``x`` is brighter than
    its decoding ``before`` by clearly more than on the skin around the mouth (teeth), a little
    blurred and widened so the teeth's dark gaps and edges count too."""
    lo, hi = TEETH_FROM, TEETH_FULL
    if hi <= lo:
        return mask
    res = x.shape[-1]
    residual = x - before
    excess = luma_only(residual - skin_residual(residual, mask, SIGMA * res))[:, :1]
    t = ((excess - lo) / (hi - lo)).clamp(0.0, 1.0)
    return (1.5 * gaussian_blur(t, 0.015 * res)).clamp(0.0, 1.0) * mask
