"""Face finder speed: MTCNN detection, alignment and paste-back on 512² and 2048² pictures.

    python benchmarks/faces.py                      # CPU, 1 thread
    python benchmarks/faces.py --device cuda        # where a GPU is available

Each case is a textured canvas with 1 or 4 GENKI-4K faces pasted at random sizes (512²: 110–220
px; 2048²: 300–700 px) or none. ``detect`` is ``FaceFinder.find`` at its default smallest face
(max(20 px, 4 % of the shorter side)); ``align`` warps every found face to a 128² frame and
``paste_back`` samples that frame back with its feathered weight into full-size tensors,
``paste_back_region`` ("region") only into the frame's bounding box (times: all faces together).
Median of ``--repeat`` runs after one warm-up. Needs the mtcnn weights (``python -m backend
weights fetch mtcnn``) and ../shared/data.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CASES = ((512, 0), (512, 1), (512, 4), (2048, 0), (2048, 1), (2048, 4))


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def case(finder, size: int, faces: int, repeat: int, device: str, seed: int = 0) -> dict:
    import numpy as np

    from backend.algorithms.faces import align, paste_back, paste_back_region
    from backend.evaluation.detection_canvases import (
        genki_files,
        paste_faces,
        textured_canvas,
        to_tensor,
    )

    rng = np.random.default_rng(seed)
    canvas = textured_canvas(size, rng)
    if faces:
        sides = (110, 220) if size <= 512 else (300, 700)
        canvas, _ = paste_faces(canvas, genki_files("smile")[11 : 11 + faces], rng, sides)
    image = to_tensor(canvas).to(device)
    detect, warp, paste, region, found = [], [], [], [], 0
    for i in range(repeat + 1):
        _sync(device)
        t0 = time.perf_counter()
        found_faces = finder.find(image)
        _sync(device)
        t1 = time.perf_counter()
        frames = [align(image, f, size=128) for f in found_faces]
        _sync(device)
        t2 = time.perf_counter()
        for frame, tf in frames:
            paste_back(frame, tf, (size, size))
        _sync(device)
        t3 = time.perf_counter()
        for frame, tf in frames:
            paste_back_region(frame, tf, (size, size))
        _sync(device)
        t4 = time.perf_counter()
        if i:  # the first run warms up
            detect.append(t1 - t0)
            warp.append(t2 - t1)
            paste.append(t3 - t2)
            region.append(t4 - t3)
        found = len(found_faces)
    return {
        "found": found,
        "detect": statistics.median(detect),
        "align": statistics.median(warp),
        "paste": statistics.median(paste),
        "region": statistics.median(region),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    import os

    import torch

    from backend import dirs
    from backend.assets.nets import load_face_finder

    torch.set_num_threads(args.threads)
    finder = load_face_finder(dirs.weights_dir(), args.device)
    load = os.getloadavg()[0]
    print(f"device {args.device}, {args.threads} threads, median of {args.repeat} runs, "
          f"load average {load:.1f}\n")  # fmt: skip
    print("| picture | faces pasted | found | detect s | align s | paste_back s | region s |")
    print("|---|---|---|---|---|---|---|")
    for size, faces in CASES:
        r = case(finder, size, faces, args.repeat, args.device)
        print(f"| {size}² | {faces} | {r['found']} | {r['detect']:.3f} | {r['align']:.4f} | "
              f"{r['paste']:.4f} | {r['region']:.4f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
