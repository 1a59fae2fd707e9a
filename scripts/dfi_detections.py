"""Which faces did DFI edit on each protocol canvas? MTCNN's boxes against the pasted face's.

For every canvas of a protocol run (``scripts/dfi_protocol.py``; its saved canvas, mask and
``results-*.json``), the selection's crop is cut exactly as the job runner cuts it (the
selection's bounding box plus the filter's margin), the face finder runs on it as ``dfi`` runs it
(``align`` on), and each face ``dfi`` would edit is compared with the pasted face squares (known
from the results: side and margins): its IoU with the best-matching square, its score and its
size relative to that square. A face with a low IoU is a false detection — DFI then draws on
the background or off the face. Reading old outputs re-runs only the detector, so it costs no
new use of the held-out faces.

    python scripts/dfi_detections.py /tmp/nlf-dfi-protocol/TAG [--json out.json]
    python scripts/dfi_detections.py --sweep 200        # fresh tuning-slice scenes, seed 1

``--sweep N`` makes N one-face and N/4 two-face protocol scenes (``face_canvas.make_scene``) from
the tuning slice with seed ``--seed`` (not the protocol's canvases) and counts the same.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from backend import dirs  # noqa: E402
from backend.algorithms.faces import DEFAULT_TEMPLATE, in_box, transform_for  # noqa: E402
from backend.assets.nets import load_face_finder  # noqa: E402
from backend.serving import imaging  # noqa: E402

MARGIN = 16
"""``dfi``'s crop margin (``DfiFilter.margin``)."""


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def landmark_fit(face: Any) -> float:
    """RMS distance (frame units) of the face's five landmarks from the default template after
    the best similarity: how face-like the landmark constellation is."""
    tf = transform_for(face)
    return float((tf.apply(face.landmarks) - DEFAULT_TEMPLATE).pow(2).sum(1).mean().sqrt())


def true_squares(faces: list[dict[str, Any]], sel: Any) -> list[tuple[float, ...]]:
    """The pasted squares of one canvas's faces, in canvas pixels, from side and margins."""
    out = []
    for f in faces:
        side, (ml, mt, _, _) = f["side"], f["margins"]
        left, top = sel.x0 + round(ml * side), sel.y0 + round(mt * side)
        out.append((left, top, left + side, top + side))
    return out


def analyse(run: Path, finder: Any) -> list[dict[str, Any]]:
    rows = []
    for results in sorted(run.glob("results-*.json")):
        direction = results.stem.split("-", 1)[1]
        data = json.loads(results.read_text())
        by_canvas: dict[str, list[dict[str, Any]]] = {}
        for f in data["faces"]:
            by_canvas.setdefault(f["canvas"], []).append(f)
        for canvas in sorted(p.name for p in (run / direction).glob("*.png") if "." not in p.stem):
            img = np.asarray(Image.open(run / direction / canvas).convert("RGB"))
            mask = np.asarray(Image.open(run / direction / canvas.replace(".png", ".mask.png")))
            h, w = mask.shape[:2]
            sel = imaging.selection_rect(mask if mask.ndim == 2 else mask[..., 0], w, h)
            found, kept, crop = find_in_selection(finder, img, sel)
            truth = true_squares(by_canvas.get(canvas, []), sel) if canvas in by_canvas else None
            edited = []
            for face in kept:
                b = face.shifted(crop.x0, crop.y0).box
                best = max(truth or [], key=lambda t: iou(b, t), default=None)
                edited.append(
                    {
                        "box": [round(v, 1) for v in b],
                        "score": round(face.score, 4),
                        "iou": round(iou(b, best), 3) if best else None,
                        "size_vs_true": round(face.size / (best[2] - best[0]), 3) if best else None,
                        "fit": round(landmark_fit(face), 4),
                        "landmarks": [[round(float(v), 1) for v in p] for p in face.landmarks],
                    }
                )
            rows.append(
                {
                    "run": run.name,
                    "direction": direction,
                    "canvas": canvas,
                    "faces_pasted": len(by_canvas.get(canvas, [])),
                    "found_in_crop": len(found),
                    "edited": edited,
                    "face": [f["face"] for f in by_canvas.get(canvas, [])],
                    "failed": canvas not in by_canvas,
                }
            )
    return rows


def find_in_selection(finder: Any, img: np.ndarray, sel: Any) -> tuple[list[Any], list[Any], Any]:
    """(all faces in the crop, the ones ``dfi`` edits, the crop rect), as the runner + dfi do."""
    h, w = img.shape[:2]
    crop = imaging.expand(sel, MARGIN, w, h)
    region = img[crop.y0 : crop.y1, crop.x0 : crop.x1]
    x = torch.from_numpy(region.copy()).permute(2, 0, 1)[None].float() / 255
    box = (sel.x0 - crop.x0, sel.y0 - crop.y0, sel.x1 - crop.x0, sel.y1 - crop.y0)
    found = finder.find(x)
    return found, in_box(found, box), crop


def sweep(finder: Any, n: int, seed: int) -> None:
    from backend.evaluation.face_canvas import make_scene
    from scripts.dfi_tuning import tuning_files
    from scripts.smile_judge import read_rgb

    files = [p for paths in tuning_files().values() for p in paths]
    rng = np.random.default_rng(seed)
    stats = {"canvases": 0, "faces": 0, "found": 0, "false": 0, "missed": 0}
    worst = []
    for c in range(n + n // 4):
        k = 1 if c < n else 2
        pick = rng.choice(len(files), k, replace=False)
        scene = make_scene([read_rgb(files[i]) for i in pick], rng)
        sel = imaging.Rect(*scene.selection)
        _, kept, crop = find_in_selection(finder, scene.image, sel)
        squares = [tuple(float(v) for v in f.box) for f in scene.faces]
        hit = set()
        for face in kept:
            b = face.shifted(crop.x0, crop.y0).box
            best = max(range(len(squares)), key=lambda i: iou(b, squares[i]))
            if iou(b, squares[best]) < 0.3:
                stats["false"] += 1
                worst.append((c, [files[i].name for i in pick], round(face.score, 3)))
            else:
                hit.add(best)
        stats["canvases"] += 1
        stats["faces"] += k
        stats["found"] += len(hit)
        stats["missed"] += k - len(hit)
    print(stats)
    for w in worst:
        print("  false detection on canvas", *w)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="*", type=Path)
    ap.add_argument("--sweep", type=int, default=0, help="N fresh tuning-slice scenes instead")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--weights-dir", type=Path)
    ap.add_argument(
        "--thresholds", type=float, nargs=3, help="MTCNN's three (default: the finder's)"
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    finder = load_face_finder(dirs.weights_dir(args.weights_dir))
    if args.thresholds:
        finder.thresholds = tuple(args.thresholds)
    if args.sweep:
        sweep(finder, args.sweep, args.seed)
        return
    rows = [r for run in args.runs for r in analyse(run, finder)]
    for r in rows:
        bad = [e for e in r["edited"] if e["iou"] is None or e["iou"] < 0.3]
        flag = "FALSE" if bad else ("NOFACE" if not r["edited"] else "")
        print(
            f"{r['run']:>16} {r['direction']:>6} {r['canvas']:>14} pasted {r['faces_pasted']} "
            f"found {r['found_in_crop']} edited "
            + ", ".join(
                f"(iou {e['iou']}, score {e['score']:.3f}, size {e['size_vs_true']}, "
                f"fit {e['fit']})"
                for e in r["edited"]
            )
            + f" {flag} {r['face']}",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
