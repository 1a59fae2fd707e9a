"""DFI's face frame: warp each face to the pack's canonical frame, and only the change back.

A pack built with alignment records ``frame``: the mean positions of its examples' five MTCNN
landmarks, in units of the working square. At edit time each face found in the selection is
warped by the similarity transform that takes its landmarks onto the frame (scaled to the working
resolution R), DFI runs on that R×R face, and the change ``z - x`` is warped back with the inverse
transform, multiplied by a feathered square so it fades out before the frame's edges.

Coordinates are continuous pixel coordinates (pixel (i, j) covers [j, j+1) × [i, i+1)), the
convention of ``backend.algorithms.faces``; affine maps are (2, 3) float64 tensors acting on (x, y,
1).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from backend.algorithms.faces import Similarity, estimate_similarity, paste_back, warp_to_frame
from backend.algorithms.faces.align import frame_bounds

FEATHER = 0.12
"""Width of the fade at the frame's edges, as a fraction of its side."""
SHRINK_BELOW = 0.75
"""A face whose frame pixels are fewer than this per image pixel is first shrunk (antialiased)."""


def to_frame(
    image: Tensor, landmarks: Tensor, frame: Sequence[Sequence[float]] | Tensor, res: int
) -> tuple[Tensor, Similarity]:
    """The face with ``landmarks`` (5, 2) in ``image`` (1, 3, H, W) warped to ``frame`` (five
    landmarks in unit coordinates) at ``res`` × ``res``: returns (the face, the image → unit
    frame similarity).

    Only the region the frame covers is read. When the face is larger than the frame, that
    region is first shrunk with an antialiased resize, so the warp never aliases.
    """
    template = torch.as_tensor(frame, dtype=torch.float64)
    points = torch.as_tensor(landmarks, dtype=torch.float64)
    tf = estimate_similarity(points, template)
    if tf.scale * res >= SHRINK_BELOW:
        return warp_to_frame(image, tf, res).clamp(0, 1), tf
    h, w = image.shape[-2:]
    x0, y0, x1, y1 = frame_bounds(tf, h, w)
    x0, y0, x1, y1 = max(0, x0 - 2), max(0, y0 - 2), min(w, x1 + 2), min(h, y1 + 2)
    region = image[..., y0:y1, x0:x1]
    f = tf.scale * res
    size = (max(1, round((y1 - y0) * f)), max(1, round((x1 - x0) * f)))
    small = F.interpolate(region, size=size, mode="bilinear", align_corners=False, antialias=True)
    stretch = torch.tensor([size[1] / (x1 - x0), size[0] / (y1 - y0)], dtype=torch.float64)
    small_tf = estimate_similarity((points - torch.tensor([x0, y0])) * stretch, template)
    return warp_to_frame(small, small_tf, res).clamp(0, 1), tf


def change_back(
    delta: Tensor, tf: Similarity, size: tuple[int, int], feather: float = FEATHER
) -> Tensor:
    """The frame's change ``delta`` (1, C, res, res) in the image's pixels (1, C, H, W), faded
    over ``feather`` of the frame at its edges and zero outside it."""
    content, weight = paste_back(delta, tf, size, feather)
    return content * weight
