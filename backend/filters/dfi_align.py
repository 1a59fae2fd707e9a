"""DFI's face frame: warp each face to the pack's canonical frame, and only the change back.

A pack built with alignment records ``frame``: the mean positions of its examples' five MTCNN
landmarks, in units of the working square. At edit time each face found in the selection is
warped by the similarity transform that takes its landmarks onto the frame (scaled to the working
resolution R), DFI runs on that R×R face, and the change ``z - x`` is warped back with the inverse
transform, multiplied by a feathered square so it fades out before the frame's edges.

Coordinates are continuous pixel coordinates (pixel (i, j) covers [j, j+1) × [i, i+1)), the
convention of ``backend.faces``; affine maps are (2, 3) float64 tensors acting on (x, y, 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

FEATHER = 0.12
"""Width of the fade at the frame's edges, as a fraction of R."""


def similarity(src: Tensor, dst: Tensor) -> Tensor:
    """The similarity (rotation, uniform scale, translation; no reflection) that maps the points
    ``src`` (N, 2) onto ``dst`` (N, 2) in the least-squares sense (Umeyama 1991), as (2, 3)."""
    src, dst = src.double(), dst.double()
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var = s.pow(2).sum() / len(src)
    cov = d.T @ s / len(src)
    u, sig, vt = torch.linalg.svd(cov)
    sign = torch.ones(2, dtype=torch.float64)
    if torch.det(u) * torch.det(vt) < 0:
        sign[1] = -1.0
    rot = u @ torch.diag(sign) @ vt
    scale = (sig * sign).sum() / var.clamp_min(1e-12)
    t = mu_d - scale * rot @ mu_s
    return torch.cat([scale * rot, t[:, None]], dim=1)


def invert(m: Tensor) -> Tensor:
    """The inverse of a (2, 3) affine map."""
    a = m[:, :2]
    inv = torch.linalg.inv(a)
    return torch.cat([inv, -(inv @ m[:, 2:])], dim=1)


def scale_of(m: Tensor) -> float:
    """The uniform scale of a similarity map."""
    return float(torch.linalg.det(m[:, :2]).abs().sqrt())


def warp(image: Tensor, out_to_in: Tensor, size: tuple[int, int]) -> Tensor:
    """Resample ``image`` (B, C, H, W) at ``out_to_in`` (output pixel → input pixel) into an
    output of ``size`` (h, w); bilinear, borders replicated."""
    h_in, w_in = image.shape[-2:]
    h, w = size
    # normalised output coords (align_corners=False) -> output pixels -> input pixels -> normalised
    to_px = torch.tensor([[w / 2, 0, w / 2], [0, h / 2, h / 2], [0, 0, 1]], dtype=torch.float64)
    to_norm = torch.tensor([[2 / w_in, 0, -1], [0, 2 / h_in, -1], [0, 0, 1]], dtype=torch.float64)
    m = torch.cat([out_to_in.double(), torch.tensor([[0, 0, 1]], dtype=torch.float64)])
    theta = (to_norm @ m @ to_px)[:2].to(image)
    grid = F.affine_grid(theta[None].expand(image.shape[0], 2, 3), [image.shape[0], 1, h, w],
                         align_corners=False)  # fmt: skip
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)


def to_frame(
    image: Tensor, landmarks: Tensor, frame: Sequence[Sequence[float]], res: int
) -> tuple[Tensor, Tensor]:
    """The face with ``landmarks`` (5, 2) in ``image`` (1, 3, H, W) warped to the frame at
    ``res``: returns ((1, 3, res, res) face, (2, 3) image → frame map).

    Only the region the frame covers is read. When the face is larger than the frame, that
    region is first shrunk with an antialiased resize, so the warp never aliases.
    """
    dst = torch.tensor(frame, dtype=torch.float64) * res
    m = similarity(landmarks, dst)
    h, w = image.shape[-2:]
    corners = torch.tensor(
        [[0, 0, 1], [res, 0, 1], [0, res, 1], [res, res, 1]], dtype=torch.float64
    )
    back = corners @ invert(m).T
    x0 = int(max(0, min(w - 1, float(back[:, 0].min()) - 2)))
    y0 = int(max(0, min(h - 1, float(back[:, 1].min()) - 2)))
    x1 = int(min(w, max(x0 + 1, float(back[:, 0].max()) + 3)))
    y1 = int(min(h, max(y0 + 1, float(back[:, 1].max()) + 3)))
    region = image[..., y0:y1, x0:x1]
    points = landmarks.double() - torch.tensor([x0, y0], dtype=torch.float64)
    s = scale_of(m)
    if s < 0.75:
        size = (max(1, round((y1 - y0) * s)), max(1, round((x1 - x0) * s)))
        region = F.interpolate(
            region, size=size, mode="bilinear", align_corners=False, antialias=True
        )
        points = points * torch.tensor(
            [size[1] / (x1 - x0), size[0] / (y1 - y0)], dtype=torch.float64
        )
    face = warp(region, invert(similarity(points, dst)), (res, res))
    return face.clamp(0, 1), m


def feather(res: int, width: float = FEATHER) -> Tensor:
    """(1, 1, res, res): 1 inside, a cosine fade to 0 over ``width`` · res at each edge."""
    t = (torch.arange(res, dtype=torch.float32) + 0.5) / res
    edge = torch.minimum(t, 1 - t) / max(width, 1e-6)
    ramp = 0.5 - 0.5 * torch.cos(torch.pi * edge.clamp(0, 1))
    return (ramp[:, None] * ramp[None, :])[None, None]


def change_back(delta: Tensor, image_to_frame: Tensor, size: tuple[int, int]) -> Tensor:
    """The frame's change ``delta`` (1, C, res, res) in the image's pixels (1, C, H, W), faded at
    the frame's edges and zero outside it."""
    res = delta.shape[-1]
    fade = feather(res).to(delta)
    weighted = torch.cat([delta * fade, fade], dim=1)
    # pad by one pixel of zeros so border replication outside the frame gives exactly zero
    padded = F.pad(weighted, (1, 1, 1, 1))
    shift = torch.tensor([[1, 0, 1], [0, 1, 1]], dtype=torch.float64)
    m = torch.cat([image_to_frame.double(), torch.tensor([[0, 0, 1]], dtype=torch.float64)])
    back = warp(padded, shift @ m, size)
    return back[:, :-1]
