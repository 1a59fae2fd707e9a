"""A stand-in face finder for tests of filters that align faces (no weights needed).

    ctx = Context(..., face_finder_factory=CentredFaceFinder)

``find`` "finds" one face framed like ``DEFAULT_TEMPLATE`` in the central square of the picture
(side ``fraction`` × the shorter side), or none when the picture is flat (every pixel equal), so
a test can drive both the aligned path and the no-face error.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from backend.algorithms.faces import DEFAULT_TEMPLATE, Face


@dataclass
class CentredFaceFinder:
    fraction: float = 0.6

    def find(self, image: Tensor, min_face: float | None = None) -> list[Face]:
        if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] != 3:
            raise ValueError(f"expected a (1, 3, H, W) image, got {tuple(image.shape)}")
        if float(image.max() - image.min()) == 0.0:
            return []
        height, width = int(image.shape[-2]), int(image.shape[-1])
        side = self.fraction * min(height, width)
        x0, y0 = (width - side) / 2, (height - side) / 2
        marks = (DEFAULT_TEMPLATE * side + torch.tensor([x0, y0], dtype=torch.float64)).float()
        return [Face((x0, y0, x0 + side, y0 + side), marks, 0.999)]
