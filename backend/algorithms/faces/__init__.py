"""Faces in a picture: MTCNN detection (five landmarks) and similarity alignment to a frame.

```python
finder = ctx.face_finder()  # FaceFinder, loaded once per process
faces = finder.find(image)  # (1, 3, H, W) in [0, 1] -> [Face], largest first
crop, tf = align(image, faces[0], template, 128)  # (1, 3, 128, 128) frame, Similarity
change_src, weight = paste_back(change, tf, (H, W), feather=0.1)
out = image + weight * change_src
```

``backend.algorithms.faces.detect`` holds the cascade, ``backend.algorithms.faces.align`` the
geometry; ``backend.assets.nets.load_face_finder`` builds the finder on the ``mtcnn`` weights
(``backend.assets.weights.mtcnn``; ``python -m backend weights fetch mtcnn``).
"""

from backend.algorithms.faces.align import (
    DEFAULT_TEMPLATE,
    Similarity,
    align,
    estimate_similarity,
    frame_mask,
    frame_weight,
    mean_template,
    normalised_landmarks,
    paste_back,
    paste_back_region,
    transform_for,
    warp_to_frame,
)
from backend.algorithms.faces.detect import LANDMARKS, Face, FaceFinder, in_box, in_selection

__all__ = [
    "DEFAULT_TEMPLATE",
    "LANDMARKS",
    "Face",
    "FaceFinder",
    "Similarity",
    "align",
    "estimate_similarity",
    "frame_mask",
    "frame_weight",
    "in_box",
    "in_selection",
    "mean_template",
    "normalised_landmarks",
    "paste_back",
    "paste_back_region",
    "transform_for",
    "warp_to_frame",
]
