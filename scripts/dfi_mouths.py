"""Side-by-side mouths of several DFI protocol runs (same seed, so the same canvases).

For each single-face canvas of a direction, the box where any run changed the canvas (the
edited face's feathered frame) is found, and its mouth part (rows 45–100 %, columns 10–90 % of
that box) is cut from the input and from every run's output and enlarged; rows: input, then one
row per run. Made to LOOK at the mouths (teeth added, smiles removed) at a size where a flat
band or a smear is visible, which the protocol's 160 px strips hide.

    python scripts/dfi_mouths.py --direction add --faces 8 -o /tmp/mouths-add.png \\
        /tmp/nlf-dfi-protocol/TAG1 /tmp/nlf-dfi-protocol/TAG2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

W, H = 180, 120
"""Size of one enlarged mouth tile."""


def read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def mouth_box(changes: list[np.ndarray]) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the mouth part of the box where any of ``changes`` is non-zero."""
    ys, xs = np.nonzero(np.any([c.any(-1) for c in changes], axis=0))
    if len(xs) == 0:
        return None
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    w, h = x1 - x0, y1 - y0
    return int(x0 + 0.1 * w), int(y0 + 0.45 * h), int(x0 + 0.9 * w), int(y1)


def sheet(runs: list[Path], direction: str, faces: int, labels: list[str]) -> Image.Image:
    folder = runs[0] / direction
    stems = sorted(p.name[:-4] for p in folder.glob("[0-9][0-9][0-9].png"))
    columns = []
    for stem in stems:
        outs = [runs[i] / direction / f"{stem}.dfi.png" for i in range(len(runs))]
        if not all(p.is_file() for p in outs):
            continue  # a canvas some run failed on (no face found)
        src = read(folder / f"{stem}.png")
        edited = [read(p) for p in outs]
        box = mouth_box([e - src for e in edited])
        if box is None:
            continue
        x0, y0, x1, y1 = box
        tiles = [src] + edited
        columns.append([Image.fromarray(t[y0:y1, x0:x1].astype(np.uint8)) for t in tiles])
        if len(columns) == faces:
            break
    label_w = 110
    img = Image.new("RGB", (label_w + W * len(columns), H * (1 + len(runs))), "white")
    draw = ImageDraw.Draw(img)
    for r, name in enumerate(["input", *labels]):
        draw.text((4, r * H + H // 2), name[:17], fill="black")
    for c, col in enumerate(columns):
        for r, tile in enumerate(col):
            img.paste(tile.resize((W, H), Image.Resampling.BICUBIC), (label_w + c * W, r * H))
    return img


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="protocol work folders (--tag's)")
    ap.add_argument("--direction", choices=("add", "remove"), default="add")
    ap.add_argument("--faces", type=int, default=8)
    ap.add_argument("--labels", help="comma-separated row names (default: the folders' names)")
    ap.add_argument("-o", "--out", type=Path, required=True)
    args = ap.parse_args()
    labels = args.labels.split(",") if args.labels else [p.name for p in args.runs]
    sheet(args.runs, args.direction, args.faces, labels).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
