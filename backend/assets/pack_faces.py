"""Attribute packs from ordinary photos: find each example's face and align it to one frame.

``attributes build`` runs every example image through the face finder (tight crops such as
GENKI-4K's 64 px faces are edge-padded first, so the detector sees some context), keeps the
largest face near the image's centre, and skips images without a face (counted). The pack's frame
is the mean of the examples' five landmarks after a similarity alignment to each other
(generalised Procrustes), placed in the working square at ``TEMPLATE``'s position and scale; each
example is warped to that frame before its features are averaged. The DFI filter warps faces to
the same frame at edit time (``backend.algorithms.faces.frame``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.nn import functional as F

from backend.algorithms.faces import DEFAULT_TEMPLATE, FaceFinder, estimate_similarity
from backend.algorithms.faces.frame import to_frame
from backend.algorithms.features import VGGFeatures
from backend.assets import attributes

log = logging.getLogger(__name__)

DETECTOR = "mtcnn"
TEMPLATE = tuple((float(x), float(y)) for x, y in DEFAULT_TEMPLATE)
"""Where the frame's landmarks sit in the working square (units of its side): eyes, nose, mouth
corners (``backend.algorithms.faces.DEFAULT_TEMPLATE``, framed like GENKI-4K's crops). It sets the
position
and scale of every aligned pack's frame; the shape is the pack's own."""
PAD = 0.5
"""Edge padding around each example before detection, as a fraction of its longer side."""


@dataclass(frozen=True)
class Example:
    """An example image whose face was found: its file and the face's landmarks (5, 2)."""

    path: Path
    landmarks: Tensor


def landmarks_in(finder: FaceFinder, image: Tensor, pad: float = PAD) -> Tensor | None:
    """The five landmarks of the main face of ``image`` (1, 3, H, W), or None.

    The image is edge-padded by ``pad`` × its longer side first, so a tight crop gets context;
    the main face is the largest one whose centre lies in the original image.
    """
    h, w = image.shape[-2:]
    p = round(pad * max(h, w))
    padded = F.pad(image, (p, p, p, p), mode="replicate") if p else image
    for face in finder.find(padded):
        x0, y0, x1, y1 = face.box
        cx, cy = (x0 + x1) / 2 - p, (y0 + y1) / 2 - p
        if 0 <= cx < w and 0 <= cy < h:
            return face.landmarks.double() - p
    return None


def find_examples(
    finder: FaceFinder, files: Sequence[Path], on_image: Callable[[int], None] | None = None
) -> tuple[list[Example], list[Path]]:
    """Examples with a face, and the files where none was found."""
    found, skipped = [], []
    for i, path in enumerate(files, start=1):
        points = landmarks_in(finder, attributes.read_image(path))
        if points is None:
            skipped.append(path)
        else:
            found.append(Example(path, points))
        if on_image is not None:
            on_image(i)
    return found, skipped


def mean_frame(landmarks: Sequence[Tensor], rounds: int = 3) -> tuple[tuple[float, float], ...]:
    """The examples' mean landmark positions after aligning them to each other, placed at
    ``TEMPLATE``'s position and scale (units of the square)."""
    if not landmarks:
        raise ValueError("no faces to measure a frame from")
    template = torch.tensor(TEMPLATE, dtype=torch.float64)
    ref = template
    for _ in range(rounds):
        mean = torch.stack([estimate_similarity(p, ref).apply(p) for p in landmarks]).mean(0)
        ref = estimate_similarity(mean, template).apply(mean)
    return tuple((float(x), float(y)) for x, y in ref)


def aligned_images(
    examples: Sequence[Example], frame: Sequence[Sequence[float]], resolution: int
) -> Iterator[Tensor]:
    """Each example's face warped to ``frame`` at ``resolution``, (1, 3, R, R)."""
    for ex in examples:
        face, _ = to_frame(attributes.read_image(ex.path), ex.landmarks, frame, resolution)
        yield face


def build_aligned_pack(
    name: str,
    with_files: Sequence[Path],
    without_files: Sequence[Path],
    backbone: VGGFeatures,
    finder: FaceFinder,
    resolution: int = attributes.DEFAULT_RESOLUTION,
    source: str = "",
    on_image: Callable[[int], None] | None = None,
) -> tuple[attributes.AttributePack, dict[str, int]]:
    """A pack of faces aligned to their mean frame; also returns counts of found / skipped."""
    with_ex, with_skip = find_examples(finder, with_files, on_image)
    without_ex, without_skip = find_examples(finder, without_files, on_image)
    if not with_ex or not without_ex:
        empty = "with" if not with_ex else "without"
        raise ValueError(f"no face found in any '{empty}' example image")
    frame = mean_frame([e.landmarks for e in with_ex + without_ex])
    pack = attributes.build_pack(
        name,
        aligned_images(with_ex, frame, resolution),
        aligned_images(without_ex, frame, resolution),
        backbone,
        resolution,
        source=source,
        on_image=on_image,
        frame=frame,
        detector=DETECTOR,
    )
    counts = {
        "with": len(with_ex),
        "with_skipped": len(with_skip),
        "without": len(without_ex),
        "without_skipped": len(without_skip),
    }
    return pack, counts
