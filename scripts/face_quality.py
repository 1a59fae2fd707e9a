"""How well the face finder works on GENKI-4K faces pasted on textures (figures in docs/faces.md).

    python scripts/face_quality.py --canvases 60

- recall: pasted faces matched by a detection with IoU > 0.5 (1–3 faces per 512² canvas; one
  face 140–260 px, two 120–200 px, three 100–150 px);
- false detections: detections matching no pasted face, and detections on face-free textures;
- landmark order: matched faces whose eyes are above the nose above the mouth, left before right;
- flip consistency: mean landmark distance between a canvas and its mirror image (mirrored back,
  left/right swapped), over the inter-ocular distance (a landmark-noise measure that needs no
  annotations).

    python scripts/face_quality.py --template 300   # re-measure faces.DEFAULT_TEMPLATE

GENKI-4K: "http://mplab.ucsd.edu, The MPLab GENKI-4K Dataset."
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from backend.evaluation.detection_canvases import (  # noqa: E402
    GENKI,
    genki_files,
    paste_faces,
    textured_canvas,
    to_tensor,
)

SIDES = {1: (140, 260), 2: (120, 200), 3: (100, 150)}


def ordered(lm) -> bool:  # lm: a (5, 2) tensor
    (lx, ly), (rx, ry), (_, ny), (mlx, mly), (mrx, mry) = lm.tolist()
    return lx < rx and mlx < mrx and max(ly, ry) < ny < min(mly, mry)


def template(count: int, seed: int = 0) -> None:
    """Print the symmetrised mean landmarks of ``count`` GENKI crops (the ``DEFAULT_TEMPLATE``
    measurement: crops drawn with ``random.Random(seed)``, upscaled to 192² (bicubic), padded
    with 64 px of grey; crops without a face skipped)."""
    import random

    import torch
    from PIL import Image
    from torch.nn import functional as F

    from backend import dirs
    from backend.assets.nets import load_face_finder

    torch.set_num_threads(1)
    finder = load_face_finder(dirs.weights_dir())
    files = sorted(GENKI.glob("*/*.jpg"))
    random.Random(seed).shuffle(files)
    points = []
    for path in files[:count]:
        with Image.open(path) as im:
            face = im.convert("RGB").resize((192, 192), Image.Resampling.BICUBIC)
        canvas = F.pad(to_tensor(np.asarray(face)), (64, 64, 64, 64), value=0.5)
        found = finder.find(canvas)
        if found:
            points.append((found[0].landmarks.double() - 64) / 192)
    mean = torch.stack(points).mean(0)
    mirrored = mean[[1, 0, 2, 4, 3]].clone()
    mirrored[:, 0] = 1 - mirrored[:, 0]
    print(f"{len(points)} of {count} crops with a face; mean landmarks (unit frame):")
    print(np.round(mean.numpy(), 4).tolist())
    print("symmetrised:")
    print(np.round(((mean + mirrored) / 2).numpy(), 4).tolist())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--canvases", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--template", type=int, default=0, metavar="N",
                    help="instead: measure DEFAULT_TEMPLATE on N GENKI crops (seed 0)")  # fmt: skip
    args = ap.parse_args()
    if args.template:
        template(args.template)
        return
    import torch
    from torchvision.ops import box_iou

    from backend import dirs
    from backend.assets.nets import load_face_finder

    torch.set_num_threads(1)
    finder = load_face_finder(dirs.weights_dir())
    files = genki_files("non_smile") + genki_files("smile")
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(files))
    pasted = found = extra = blank_hits = in_order = 0
    flip: list[float] = []
    missed: list[str] = []
    t0 = time.perf_counter()
    k = 0
    for c in range(args.canvases):
        n = 1 + c % 3
        chosen = [files[i] for i in order[k : k + n]]
        k += n
        canvas, squares = paste_faces(textured_canvas(512, rng), chosen, rng, SIDES[n])
        faces = finder.find(to_tensor(canvas))
        mirrored = finder.find(to_tensor(np.ascontiguousarray(canvas[:, ::-1])))
        pasted += n
        sq = torch.tensor(squares, dtype=torch.float32)
        if faces:
            iou = box_iou(sq, torch.tensor([f.box for f in faces]))
            hit = iou.max(1).values > 0.5
            found += int(hit.sum())
            extra += int((iou.max(0).values < 0.3).sum())
            missed += [p.name for p, h in zip(chosen, hit.tolist(), strict=True) if not h]
            for j in iou.argmax(1)[hit].tolist():
                in_order += ordered(faces[j].landmarks)
        else:
            missed += [p.name for p in chosen]
        for f in faces:
            for g in mirrored:
                back = g.landmarks.double().clone()
                back[:, 0] = canvas.shape[1] - back[:, 0]
                back = back[[1, 0, 2, 4, 3]]
                a = f.landmarks.double()
                if (a[2] - back[2]).norm() < 0.3 * f.size:  # the same face
                    flip.append(float((a - back).norm(dim=1).mean() / (a[0] - a[1]).norm()))
        blank_hits += len(finder.find(to_tensor(textured_canvas(512, rng))))
    dt = time.perf_counter() - t0
    print(f"{args.canvases} canvases ({pasted} pasted faces) + {args.canvases} face-free textures")
    print(f"recall (IoU > 0.5): {found}/{pasted} = {found / pasted:.1%}")
    print(f"false detections on canvases: {extra}; on face-free textures: {blank_hits}")
    print(f"landmarks in order: {in_order}/{found}")
    print(f"flip consistency: mean {np.mean(flip):.3f}, median {np.median(flip):.3f} "
          f"inter-ocular distances ({len(flip)} faces)")  # fmt: skip
    print(f"missed: {', '.join(missed) or '-'}")
    print(f"{dt:.0f} s")


if __name__ == "__main__":
    main()
