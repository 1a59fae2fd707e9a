"""A PNG sheet of face detections: boxes, the five landmarks and each face's aligned frame.

    python scripts/face_sheet.py -o docs/faces-detections.png

Top row: GENKI-4K faces pasted on textured 512² canvases (1, 2 and 3 faces, one tilted by 15°),
Gogh's portrait and Renoir's landscape (no face expected), each with the boxes found (green,
score above) and landmarks (eyes red, nose yellow, mouth corners blue); pasted squares are
thin white; then any ``--extra`` pictures. Bottom rows: every found face warped to the
canonical frame (128², shown at 112²; DEFAULT_TEMPLATE as white crosses). Needs the mtcnn
weights and ../shared/data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

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

TILE = 256
FRAME = 112
COLOURS = ((255, 40, 40), (255, 40, 40), (255, 220, 0), (40, 120, 255), (40, 120, 255))


def pictures(extra: list[Path] | None = None) -> list[tuple[str, np.ndarray, list]]:
    """(title, RGB, pasted squares) of the sheet's pictures (``extra`` files appended)."""
    rng = np.random.default_rng(7)
    smile, plain = genki_files("smile"), genki_files("non_smile")
    out = []
    for files, sides in (([plain[40]], (200, 260)), ([smile[30], plain[90]], (150, 210)),
                         ([smile[60], plain[150], smile[200]], (110, 150))):  # fmt: skip
        canvas, squares = paste_faces(textured_canvas(512, rng), files, rng, sides)
        out.append((f"{len(files)} pasted", canvas, squares))
    canvas = Image.fromarray(textured_canvas(512, rng))
    face = Image.open(smile[11]).convert("RGB").resize((220, 220), Image.Resampling.BICUBIC)
    canvas.paste(face.rotate(15, Image.Resampling.BICUBIC, fillcolor=(128, 128, 128)), (240, 200))
    out.append(("tilted 15°", np.asarray(canvas), [(240, 200, 460, 420)]))
    doodle = GENKI.parent / "doodle"
    for name in ("Gogh.jpg", "Renoir.jpg"):
        with Image.open(doodle / name) as im:
            out.append((name, np.asarray(im.convert("RGB")), []))
    for path in extra or []:
        with Image.open(path) as im:
            out.append((path.name, np.asarray(im.convert("RGB")), []))
    return out


def draw(rgb: np.ndarray, faces: list, squares: list, title: str) -> Image.Image:
    im = Image.fromarray(rgb).copy()
    scale = TILE / max(im.size)
    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
    d = ImageDraw.Draw(im)
    for sq in squares:
        d.rectangle([v * scale for v in sq], outline=(255, 255, 255), width=1)
    for f in faces:
        d.rectangle([v * scale for v in f.box], outline=(0, 255, 0), width=2)
        d.text((f.box[0] * scale + 2, f.box[1] * scale - 12), f"{f.score:.3f}", fill=(0, 255, 0))
        for (x, y), colour in zip(f.landmarks.tolist(), COLOURS, strict=True):
            x, y = x * scale, y * scale
            d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour, outline=(0, 0, 0))
    d.text((4, 4), f"{title}: {len(faces)} found", fill=(255, 255, 255), stroke_width=2,
           stroke_fill=(0, 0, 0))  # fmt: skip
    tile = Image.new("RGB", (TILE, TILE), (40, 40, 40))
    tile.paste(im, ((TILE - im.width) // 2, (TILE - im.height) // 2))
    return tile


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", type=Path, default=Path("faces-detections.png"))
    ap.add_argument("--extra", type=Path, nargs="*", default=[], help="more pictures to add")
    args = ap.parse_args()
    import torch

    from backend import dirs
    from backend.algorithms.faces import DEFAULT_TEMPLATE, align
    from backend.assets.nets import load_face_finder

    torch.set_num_threads(1)
    finder = load_face_finder(dirs.weights_dir())
    tiles, frames = [], []
    for title, rgb, squares in pictures(args.extra):
        image = to_tensor(rgb)
        faces = finder.find(image)
        tiles.append(draw(rgb, faces, squares, title))
        for f in faces:
            frame, _ = align(image, f, size=128)
            fim = Image.fromarray((frame[0].permute(1, 2, 0).clamp(0, 1) * 255).byte().numpy())
            d = ImageDraw.Draw(fim)
            for x, y in (DEFAULT_TEMPLATE * 128).tolist():
                d.line([x - 3, y, x + 3, y], fill=(255, 255, 255))
                d.line([x, y - 3, x, y + 3], fill=(255, 255, 255))
            frames.append(fim.resize((FRAME, FRAME), Image.Resampling.LANCZOS))
    cols = 3
    rows = -(-len(tiles) // cols)
    sheet_w = cols * TILE
    per_row = sheet_w // FRAME
    frame_rows = -(-len(frames) // per_row)
    sheet = Image.new("RGB", (sheet_w, rows * TILE + frame_rows * FRAME), (20, 20, 20))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % cols) * TILE, (i // cols) * TILE))
    for i, fim in enumerate(frames):
        sheet.paste(fim, ((i % per_row) * FRAME, rows * TILE + (i // per_row) * FRAME))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    # 256 colours keep the sheet small enough for the repository (< 300 KB)
    sheet.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        args.output, optimize=True
    )
    print(f"{args.output}: {sheet.width}x{sheet.height}, {len(frames)} faces")


if __name__ == "__main__":
    main()
