"""Similarity alignment of faces to a canonical frame, and back.

The canonical frame is the unit square ``[0, 1]²`` (x right, y down); a *template* is the (5, 2)
position of the five MTCNN landmarks in it. ``align`` finds the similarity (rotation, uniform
scale, translation: 4 degrees of freedom) that maps a face's landmarks onto the template in the
least-squares sense (Umeyama 1991, no reflection) and samples the frame at ``size × size`` with
``grid_sample``; ``paste_back`` samples a frame-sized image (e.g. an edit's change) back into the
source's pixel grid together with a weight that is 1 inside the frame, falls smoothly to 0 over
the ``feather`` fraction of the frame next to its edges, and is 0 outside. Both warps are
differentiable in the pixels.

Pixel coordinates are continuous: pixel ``(i, j)`` covers ``[j, j+1) × [i, i+1)``, so with
``align_corners=False`` frame pixel ``(i, j)`` of a ``size`` frame sits at unit coordinates
``((j + 0.5) / size, (i + 0.5) / size)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from backend.algorithms.faces.detect import Face

DEFAULT_TEMPLATE = torch.tensor(
    [
        [0.3091, 0.3746],
        [0.6909, 0.3746],
        [0.5000, 0.5939],
        [0.3280, 0.7648],
        [0.6720, 0.7648],
    ],
    dtype=torch.float64,
)
"""Canonical five-point template in the unit frame (see docs/architecture.md: faces).

Mean MTCNN landmarks of 279 GENKI-4K training crops (300 drawn with seed 0, 21 without a face
found), left/right mirrored and averaged: the frame is framed like the 64×64 GENKI faces (eyes
at 37 %, mouth at 76 % of the height). Measured by ``python scripts/face_quality.py --template
300``; on the bare 64² crops the mean is within 0.008 of it.
"""


@dataclass(frozen=True)
class Similarity:
    """``(u, v) = A @ (x, y, 1)``: source pixel coordinates → unit frame coordinates.

    ``matrix`` is (2, 3) float64 of the form ``[[a, -b, tx], [b, a, ty]]``.
    """

    matrix: Tensor

    @property
    def scale(self) -> float:
        """Unit-frame lengths per source pixel."""
        return float(torch.linalg.det(self.matrix[:, :2]).abs().sqrt())

    @property
    def angle(self) -> float:
        """Rotation in radians (source → frame)."""
        return float(torch.atan2(self.matrix[1, 0], self.matrix[0, 0]))

    def apply(self, points: Tensor) -> Tensor:
        """(N, 2) source points → (N, 2) frame points (float64)."""
        pts = torch.as_tensor(points, dtype=torch.float64)
        return pts @ self.matrix[:, :2].T + self.matrix[:, 2]

    def inverse(self) -> Similarity:
        """The frame → source map, as a ``Similarity`` of the same form."""
        lin = torch.linalg.inv(self.matrix[:, :2])
        return Similarity(torch.cat([lin, -(lin @ self.matrix[:, 2:])], 1))

    def shifted(self, dx: float, dy: float) -> Similarity:
        """The same map for source coordinates whose origin moved to ``(dx, dy)`` (a crop's
        corner): a point ``p`` of the crop is ``p + (dx, dy)`` of the old image."""
        offset = self.matrix[:, :2] @ torch.tensor([dx, dy], dtype=torch.float64)
        return Similarity(torch.cat([self.matrix[:, :2], (self.matrix[:, 2] + offset)[:, None]], 1))


def estimate_similarity(source: Tensor, target: Tensor) -> Similarity:
    """Least-squares similarity mapping ``source`` (N, 2) onto ``target`` (N, 2), N ≥ 2.

    Umeyama's closed form: exact when ``target`` is a similarity image of ``source``.
    """
    src = torch.as_tensor(source, dtype=torch.float64).reshape(-1, 2)
    dst = torch.as_tensor(target, dtype=torch.float64).reshape(-1, 2)
    if len(src) != len(dst) or len(src) < 2:
        raise ValueError(f"need ≥ 2 matching points, got {len(src)} and {len(dst)}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var = (s**2).sum() / len(src)
    if var <= 1e-12:
        raise ValueError("source points coincide; no similarity is defined")
    cov = d.T @ s / len(src)
    u, sig, vh = torch.linalg.svd(cov)
    fix = torch.ones(2, dtype=torch.float64)
    if torch.linalg.det(u) * torch.linalg.det(vh) < 0:
        fix[1] = -1.0
    rot = u @ torch.diag(fix) @ vh
    scale = (sig * fix).sum() / var
    lin = scale * rot
    return Similarity(torch.cat([lin, (mu_d - lin @ mu_s)[:, None]], 1))


def landmarks_of(face_or_landmarks: Face | Tensor) -> Tensor:
    """(5, 2) float64 landmarks of a ``Face`` or of a landmark array."""
    points = (
        face_or_landmarks.landmarks if isinstance(face_or_landmarks, Face) else face_or_landmarks
    )
    return torch.as_tensor(points, dtype=torch.float64).reshape(-1, 2)


def transform_for(face_or_landmarks: Face | Tensor, template: Tensor | None = None) -> Similarity:
    """The similarity taking the face's landmarks onto ``template`` (``DEFAULT_TEMPLATE``)."""
    tmpl = DEFAULT_TEMPLATE if template is None else torch.as_tensor(template, dtype=torch.float64)
    return estimate_similarity(landmarks_of(face_or_landmarks), tmpl)


def _sample(image: Tensor, points: Tensor, padding_mode: str) -> Tensor:
    """``grid_sample`` of ``image`` (1, C, H, W) at source pixel coords ``points`` (h, w, 2)."""
    height, width = image.shape[-2:]
    scale = torch.tensor([2.0 / width, 2.0 / height], dtype=points.dtype, device=points.device)
    grid = (points * scale - 1.0).to(image.dtype)[None]
    return F.grid_sample(
        image, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False
    )


def _pixel_centres(height: int, width: int, device: torch.device) -> Tensor:
    """(H, W, 2) float64 (x, y) centres of the pixels of an H × W grid."""
    ys = torch.arange(height, dtype=torch.float64, device=device) + 0.5
    xs = torch.arange(width, dtype=torch.float64, device=device) + 0.5
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx, yy], -1)


def warp_to_frame(
    image: Tensor, transform: Similarity, size: int, padding_mode: str = "reflection"
) -> Tensor:
    """The ``size × size`` canonical frame sampled from ``image`` (1, C, H, W) (bilinear).

    Frame pixels that fall outside the image are filled by ``padding_mode`` (reflection, border
    or zeros).
    """
    device = image.device
    unit = _pixel_centres(size, size, device) / size
    inv = transform.inverse().matrix.to(device)
    return _sample(image, unit @ inv[:, :2].T + inv[:, 2], padding_mode)


def align(
    image: Tensor,
    face_or_landmarks: Face | Tensor,
    template: Tensor | None = None,
    size: int = 128,
    padding_mode: str = "reflection",
) -> tuple[Tensor, Similarity]:
    """(aligned (1, C, size, size), transform source → unit frame) of one face in ``image``."""
    transform = transform_for(face_or_landmarks, template)
    return warp_to_frame(image, transform, size, padding_mode), transform


def frame_weight(unit: Tensor, feather: float) -> Tensor:
    """Weight of unit-frame points (…, 2): 1 inside, smoothstep to 0 over ``feather`` at edges."""
    edge = torch.minimum(unit, 1.0 - unit).min(-1).values
    if feather <= 0:
        return (edge > 0).to(unit.dtype)
    t = (edge / feather).clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def paste_back(
    change: Tensor,
    transform: Similarity,
    out_hw: tuple[int, int],
    feather: float = 0.1,
) -> tuple[Tensor, Tensor]:
    """(frame content in source pixels (1, C, H, W), weight (1, 1, H, W) in [0, 1]).

    ``change`` is a (1, C, S, S) image of the canonical frame (any S); ``transform`` the one
    ``align`` returned; ``out_hw`` the source's (H, W). Pixels whose centres map outside the frame
    get weight 0 (and content 0); the usual composite is ``src + weight * change`` for a change,
    or ``src * (1 - weight) + weight * edited`` for an edited frame.
    """
    height, width = out_hw
    content = change.new_zeros(1, change.shape[1], height, width)
    weight = change.new_zeros(1, 1, height, width)
    part, part_weight, (x0, y0, x1, y1) = paste_back_region(change, transform, out_hw, feather)
    content[..., y0:y1, x0:x1] = part
    weight[..., y0:y1, x0:x1] = part_weight
    return content, weight


def paste_back_region(
    change: Tensor,
    transform: Similarity,
    out_hw: tuple[int, int],
    feather: float = 0.1,
) -> tuple[Tensor, Tensor, tuple[int, int, int, int]]:
    """``paste_back`` restricted to the frame's bounding box ``(x0, y0, x1, y1)`` in the source
    (clipped to it): (content (1, C, y1-y0, x1-x0), weight (1, 1, …), box). Outside the box the
    weight is 0. Cheaper than ``paste_back`` on large pictures (no full-size tensors)."""
    height, width = out_hw
    device = change.device
    x0, y0, x1, y1 = frame_bounds(transform, height, width)
    if x1 <= x0 or y1 <= y0:
        empty = change.new_zeros(1, change.shape[1], 0, 0)
        return empty, change.new_zeros(1, 1, 0, 0), (x0, y0, x0, y0)
    centres = _pixel_centres(y1 - y0, x1 - x0, device) + torch.tensor(
        [x0, y0], dtype=torch.float64, device=device
    )
    unit = centres @ transform.matrix[:, :2].T.to(device) + transform.matrix[:, 2].to(device)
    w = frame_weight(unit, feather).to(change.dtype)[None, None]
    size = change.shape[-1], change.shape[-2]
    frame_px = unit * torch.tensor(size, dtype=unit.dtype, device=device)
    return _sample(change, frame_px, "zeros") * (w > 0), w, (x0, y0, x1, y1)


def frame_mask(
    transform: Similarity, out_hw: tuple[int, int], feather: float = 0.1, device: str = "cpu"
) -> Tensor:
    """(1, 1, H, W) weight of the frame in the source: 1 inside, feathered edge, 0 outside (e.g.
    to protect or to select a face: ``frame_mask(transform_for(face, template), (H, W))``)."""
    ones = torch.ones(1, 1, 2, 2, device=device)
    return paste_back(ones, transform, out_hw, feather)[1]


def frame_bounds(transform: Similarity, height: int, width: int) -> tuple[int, int, int, int]:
    """Integer pixel box (x0, y0, x1, y1) of an H × W image that holds the whole frame, clipped."""
    corners = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    src = transform.inverse().apply(corners)
    lo, hi = src.min(0).values.floor(), src.max(0).values.ceil()
    x0, y0 = max(0, int(lo[0])), max(0, int(lo[1]))
    x1, y1 = min(width, int(hi[0])), min(height, int(hi[1]))
    return x0, y0, x1, y1


def normalised_landmarks(face: Face, height: int, width: int) -> Tensor:
    """(5, 2) float64 landmarks of ``face`` in unit coordinates of its H × W image."""
    return landmarks_of(face) / torch.tensor([width, height], dtype=torch.float64)


def mean_template(landmarks: Tensor) -> Tensor:
    """The (5, 2) mean of (N, 5, 2) unit-frame landmarks: a template for faces framed like those.

    DFI packs store this for their training faces, measured with the same detector.
    """
    points = torch.as_tensor(landmarks, dtype=torch.float64).reshape(-1, 5, 2)
    if not len(points):
        raise ValueError("no landmarks to average")
    return points.mean(0)
