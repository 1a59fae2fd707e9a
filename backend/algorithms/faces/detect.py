"""Face detection with the MTCNN cascade (Zhang, Zhang, Li & Qiao 2016) in torch / torchvision ops.

1. P-Net runs fully convolutionally over an image pyramid (scale factor 0.709, the smallest face
   looked for maps to P-Net's 12×12 cell); cells above ``thresholds[0]`` become boxes, NMS per
   scale (IoU 0.5), then over all scales (IoU 0.7); their offsets are applied and boxes squared.
2. R-Net scores a 24×24 crop of each box (``roi_align``, zeros outside the image like the
   original's padding); survivors of ``thresholds[1]`` get NMS (IoU 0.7), offsets and squaring.
3. O-Net scores 48×48 crops, gives the five landmarks and final offsets; NMS with the
   intersection-over-smaller-box criterion (0.7) removes boxes nested in others.

Coordinates are continuous pixel coordinates: pixel ``(i, j)`` covers ``[j, j+1) × [i, i+1)``,
so its centre is ``(j + 0.5, i + 0.5)``; boxes are ``(x0, y0, x1, y1)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.nn import functional as F
from torchvision.ops import nms, roi_align

from backend.algorithms.nets.mtcnn import MTCNN

LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
"""The five points, in order; "left" is the image's left (the person's right eye)."""


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face: ``box`` (x0, y0, x1, y1), ``landmarks`` (5, 2) float32 (x, y) in the
    order of ``LANDMARKS``, both in the searched image's pixel coordinates; ``score`` in [0, 1]."""

    box: tuple[float, float, float, float]
    landmarks: Tensor
    score: float

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def size(self) -> float:
        """Side of the (roughly square) box: the geometric mean of width and height."""
        return math.sqrt(max(self.width, 0.0) * max(self.height, 0.0))

    def shifted(self, dx: float, dy: float) -> Face:
        """The same face in coordinates where this image's origin is at ``(dx, dy)``."""
        x0, y0, x1, y1 = self.box
        offset = torch.tensor([dx, dy], dtype=self.landmarks.dtype)
        return Face((x0 + dx, y0 + dy, x1 + dx, y1 + dy), self.landmarks + offset, self.score)


@dataclass
class FaceFinder:
    """MTCNN on a device. ``find(image)`` → faces, largest first.

    ``min_face`` (pixels) is the smallest face looked for; by default ``max(min_face_px,
    min_face_rel × the image's shorter side)``, which keeps large photos fast (a 2048² photo looks
    for faces of 82 px and more, a 512² crop for faces of 20 px and more).
    """

    nets: MTCNN
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    factor: float = 0.709
    min_face_px: float = 20.0
    min_face_rel: float = 0.04
    batch: int = 256

    def __post_init__(self) -> None:
        self.device = torch.device(self.device)
        self.nets = self.nets.to(self.device)

    def default_min_face(self, height: int, width: int) -> float:
        return max(self.min_face_px, self.min_face_rel * min(height, width))

    @torch.no_grad()  # not inference_mode: callers may edit landmarks or backprop through align
    def find(self, image: Tensor, min_face: float | None = None) -> list[Face]:
        """Faces in ``image`` (1, 3, H, W) RGB in [0, 1], sorted by box size, largest first."""
        if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] != 3:
            raise ValueError(f"expected a (1, 3, H, W) image, got {tuple(image.shape)}")
        height, width = int(image.shape[-2]), int(image.shape[-1])
        if min_face is None:
            min_face = self.default_min_face(height, width)
        if not min_face > 0:
            raise ValueError(f"min_face must be a positive size in pixels, got {min_face}")
        if min(height, width) < 12 or min_face > min(height, width):
            return []
        pixels = image.to(self.device, torch.float32).clamp(0, 1) * 255.0
        boxes = self._propose(pixels, min_face)
        if not len(boxes):
            return []
        halves = octaves(pixels, 24)
        boxes = self._refine(halves, boxes)
        if not len(boxes):
            return []
        boxes, scores, points = self._output(halves, boxes)
        faces = [
            Face(tuple(float(v) for v in b), p.float().cpu(), float(s))  # type: ignore[arg-type]
            for b, s, p in zip(boxes.cpu(), scores.cpu(), points.cpu(), strict=True)
        ]
        return sorted(faces, key=lambda f: (-f.size, -f.score))

    # -- stage 1 ----------------------------------------------------------------------------------
    def scales(self, height: int, width: int, min_face: float) -> list[float]:
        """Pyramid scales: 12 / min_face, times ``factor`` until the shorter side is under 12."""
        scale = 12.0 / min_face
        out = []
        while min(height, width) * scale >= 12:
            out.append(scale)
            scale *= self.factor
        return out

    def _propose(self, pixels: Tensor, min_face: float) -> Tensor:
        """(N, 5) boxes (x0, y0, x1, y1, score) from P-Net over the pyramid, squared."""
        height, width = pixels.shape[-2:]
        found = []
        level = pixels
        for scale in self.scales(height, width, min_face):
            hs, ws = max(12, math.ceil(height * scale)), max(12, math.ceil(width * scale))
            # each level is area-resampled from the previous one (cheap on large pictures)
            mode = "area" if scale < 1 else "bilinear"
            level = F.interpolate(level if mode == "area" else pixels, size=(hs, ws), mode=mode)
            prob, reg = self.nets.pnet(normalise(level))
            ys, xs = torch.nonzero(prob[0] >= self.thresholds[0], as_tuple=True)
            if not len(ys):
                continue
            sx, sy = ws / width, hs / height
            cells = torch.stack(
                [2 * xs / sx, 2 * ys / sy, (2 * xs + 12) / sx, (2 * ys + 12) / sy], 1
            )
            score = prob[0, ys, xs]
            boxes = torch.cat([cells.float(), score[:, None], reg[0][:, ys, xs].T], 1)
            found.append(boxes[nms(boxes[:, :4], score, 0.5)])
        if not found:
            return pixels.new_zeros(0, 5)
        boxes = torch.cat(found)
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
        return square(regress(boxes[:, :5], boxes[:, 5:9]))

    # -- stages 2 and 3 ---------------------------------------------------------------------------
    def _crops(self, halves: list[Tensor], boxes: Tensor, size: int) -> Tensor:
        """``size``² crops of ``boxes`` (zeros outside the picture), each read from the octave
        where the box spans 2–4 × ``size`` pixels (area-like averaging at bounded cost)."""
        side = (boxes[:, 2:4] - boxes[:, 0:2]).max(1).values
        level = (side / (2 * size)).clamp(min=1).log2().floor().long().clamp(max=len(halves) - 1)
        out = boxes.new_zeros(len(boxes), 3, size, size)
        rois = torch.cat([boxes.new_zeros(len(boxes), 1), boxes[:, :4]], 1)
        for k in level.unique().tolist():
            pick = level == k
            out[pick] = roi_align(halves[k], rois[pick], size, 0.5**k, -1, aligned=True)
        return normalise(out)

    def _run(self, net: torch.nn.Module, crops: Tensor) -> list[Tensor]:
        outs = [net(crops[i : i + self.batch]) for i in range(0, len(crops), self.batch)]
        return [torch.cat(parts) for parts in zip(*outs, strict=True)]

    def _refine(self, halves: list[Tensor], boxes: Tensor) -> Tensor:
        prob, reg = self._run(self.nets.rnet, self._crops(halves, boxes, 24))
        keep = prob > self.thresholds[1]
        boxes = torch.cat([boxes[keep, :4], prob[keep, None]], 1)
        reg = reg[keep]
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
        return square(regress(boxes[pick], reg[pick]))

    def _output(self, halves: list[Tensor], boxes: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        prob, reg, marks = self._run(self.nets.onet, self._crops(halves, boxes, 48))
        keep = prob > self.thresholds[2]
        boxes, prob, reg, marks = boxes[keep], prob[keep], reg[keep], marks[keep]
        wh = (boxes[:, 2:4] - boxes[:, 0:2])[:, None, :]
        points = boxes[:, None, 0:2] + wh * torch.stack([marks[:, :5], marks[:, 5:]], 2)
        boxes = regress(torch.cat([boxes[:, :4], prob[:, None]], 1), reg)
        pick = nms_min(boxes[:, :4], boxes[:, 4], 0.7)
        return boxes[pick, :4], boxes[pick, 4], points[pick]


def octaves(pixels: Tensor, smallest: int) -> list[Tensor]:
    """``pixels`` and its 2×2-averaged halvings while the shorter side stays ≥ ``smallest``.

    Level k's pixel (i, j) covers the source's [2^k j, 2^k (j+1)) × [2^k i, 2^k (i+1)) (odd edges
    are dropped, at most 2^k − 1 pixels), so a box reads level k with spatial scale 2^−k.
    """
    out = [pixels]
    while min(out[-1].shape[-2:]) >= 2 * smallest:
        out.append(F.avg_pool2d(out[-1], 2))
    return out


def normalise(pixels: Tensor) -> Tensor:
    """MTCNN's input convention: [0, 255] → (x − 127.5) / 128."""
    return (pixels - 127.5) * 0.0078125


def regress(boxes: Tensor, offsets: Tensor) -> Tensor:
    """Apply MTCNN box offsets (fractions of the box's width / height) to (N, ≥4) boxes."""
    wh = (boxes[:, 2:4] - boxes[:, 0:2]).repeat(1, 2)
    out = boxes.clone()
    out[:, :4] = boxes[:, :4] + offsets[:, :4] * wh
    return out


def square(boxes: Tensor) -> Tensor:
    """Boxes grown to squares of side max(w, h) about the same centre (extra columns kept)."""
    out = boxes.clone()
    centre = (boxes[:, 0:2] + boxes[:, 2:4]) / 2
    side = (boxes[:, 2:4] - boxes[:, 0:2]).max(1, keepdim=True).values
    out[:, 0:2] = centre - side / 2
    out[:, 2:4] = centre + side / 2
    return out


def nms_min(boxes: Tensor, scores: Tensor, threshold: float) -> Tensor:
    """Greedy NMS where overlap = intersection / the smaller box's area (MTCNN's "Min")."""
    area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    order = scores.argsort(descending=True)
    keep: list[int] = []
    while len(order):
        i, rest = order[0], order[1:]
        keep.append(int(i))
        lo = torch.maximum(boxes[i, :2], boxes[rest, :2])
        hi = torch.minimum(boxes[i, 2:], boxes[rest, 2:])
        inter = (hi - lo).clamp(min=0).prod(1)
        overlap = inter / torch.minimum(area[i], area[rest]).clamp(min=1e-9)
        order = rest[overlap <= threshold]
    return torch.tensor(keep, dtype=torch.long, device=boxes.device)


def in_selection(faces: Sequence[Face], mask: Tensor, threshold: float = 0.5) -> list[Face]:
    """The faces whose five landmarks are, on average, selected: mean of ``mask`` (1, 1, H, W) in
    [0, 1] (the same pixel grid as the searched image) at the landmarks' pixels ≥ ``threshold``.
    Landmarks outside the picture count as unselected."""
    height, width = mask.shape[-2:]
    plane = mask.reshape(height, width).float().cpu()
    kept = []
    for face in faces:
        cols = face.landmarks[:, 0].floor().long()
        rows = face.landmarks[:, 1].floor().long()
        inside = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
        values = torch.zeros(len(cols))
        values[inside] = plane[rows[inside], cols[inside]]
        if float(values.mean()) >= threshold:
            kept.append(face)
    return kept


def in_box(faces: Sequence[Face], box: Sequence[float]) -> list[Face]:
    """The faces whose box centre lies inside ``box`` (x0, y0, x1, y1), e.g. a selection's
    bounding box (``in_selection`` judges by the mask itself)."""
    x0, y0, x1, y1 = box
    inside = []
    for face in faces:
        fx0, fy0, fx1, fy1 = face.box
        cx, cy = (fx0 + fx1) / 2, (fy0 + fy1) / 2
        if x0 <= cx < x1 and y0 <= cy < y1:
            inside.append(face)
    return inside


def boxes_of(faces: Sequence[Face]) -> Tensor:
    """(N, 4) float32 boxes of ``faces``."""
    return torch.tensor([f.box for f in faces], dtype=torch.float32).reshape(-1, 4)
