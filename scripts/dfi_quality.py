"""Measure DFI's "smiling" edit on held-out GENKI-4K faces (docs/quality-dfi.md has the figures).

    python scripts/dfi_quality.py pack                 # built-in pack from the training split
    python scripts/dfi_quality.py classifier           # the independent classifier's accuracy
    python scripts/dfi_quality.py eval --faces 48      # flip rate, α curve, PSNR, outside check
    python scripts/dfi_quality.py strip                # docs/dfi-strip.png

The validation split (one file in five by the sha256 of its name,
``backend/evaluation/hog_smile.py``) is never used to build the pack or to train the classifier.
GENKI-4K: "http://mplab.ucsd.edu, The MPLab GENKI-4K Dataset."
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from backend import dirs  # noqa: E402
from backend.assets import attributes  # noqa: E402
from backend.assets.nets import load_backbone  # noqa: E402
from backend.evaluation import genki_split  # noqa: E402
from backend.evaluation.dfi_runs import BACKBONE, edit_in_canvas, make_filter  # noqa: E402
from backend.evaluation.hog_smile import GENKI, read_rgb, split_files, train  # noqa: E402
from backend.filters import dfi  # noqa: E402


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0


def to_uint8(t: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] -> (H, W, 3) uint8."""
    return (t[0].permute(1, 2, 0).clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def build_builtin_pack(resolution: int, out_root: Path) -> Path:
    """The built-in "smiling" pack from the GENKI-4K ``pack`` part
    (backend/evaluation/genki_split.py):
    never the smile judge's training images nor the held-out faces."""
    backbone = load_backbone(BACKBONE, dirs.weights_dir())
    split = genki_split.split_files()["pack"]
    pack = attributes.build_pack(
        "smiling",
        (attributes.read_image(p) for p in split["smile"]),
        (attributes.read_image(p) for p in split["non_smile"]),
        backbone,
        resolution,
        source="GENKI-4K crops, the 'pack' part of backend/evaluation/genki_split.py "
        "(http://mplab.ucsd.edu, The MPLab GENKI-4K Dataset)",
        on_image=lambda n: print(f"  {n} images", flush=True) if n % 256 < 16 else None,
    )
    return attributes.save_pack(pack, out_root)


def evaluate(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    clf, acc = train(GENKI)
    print(f"classifier validation accuracy: {acc:.3f}")
    flt = make_filter(Path(args.pack_dir))
    faces = [read_rgb(p) for p in split_files(GENKI)["val"]["non_smile"][: args.faces]]
    base = clf.scores(faces)
    print(
        f"{len(faces)} validation non-smiling faces; called smiling before the edit: "
        f"{(base > 0.5).mean():.1%} (mean P {base.mean():.3f})"
    )
    print(
        "\n| α | iterations | called smiling | mean P(smile) | PSNR vs input (dB) | "
        "outside unchanged | s/face |"
    )
    print("|---|---|---|---|---|---|---|")
    for strength in args.alphas:
        for iterations in args.iterations:
            t = time.time()
            scores, psnrs, same_all = [], [], True
            for face in faces:
                edited, same = edit_in_canvas(flt, face, strength, iterations, args.resolution)
                scores.append(clf.score(edited))
                psnrs.append(psnr(face, edited))
                same_all &= same
            s = np.array(scores)
            print(
                f"| {strength:g} | {iterations} | {(s > 0.5).mean():.1%} | {s.mean():.3f} | "
                f"{np.mean(psnrs):.1f} | {'yes' if same_all else 'NO'} | "
                f"{(time.time() - t) / len(faces):.2f} |",
                flush=True,
            )


def strip(args: argparse.Namespace) -> None:
    """Before/after strip: top row inputs, then one row per α."""
    from PIL import Image

    torch.set_num_threads(args.threads)
    flt = make_filter(Path(args.pack_dir))
    faces = [read_rgb(p) for p in split_files(GENKI)["val"]["non_smile"][: args.faces]]
    rows = [np.concatenate(faces, axis=1)]
    for strength in args.alphas:
        edited = [
            edit_in_canvas(flt, f, strength, args.iterations[0], args.resolution)[0] for f in faces
        ]
        rows.append(np.concatenate(edited, axis=1))
    grid = np.concatenate(rows, axis=0)
    img = Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST)
    img.save(args.out)
    print(f"wrote {args.out}: rows = input, α = {', '.join(f'{a:g}' for a in args.alphas)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=("pack", "classifier", "eval", "strip"))
    ap.add_argument(
        "--pack-dir",
        default=str(attributes.BUILTIN_DIR),
        help="where `pack` writes and the filter looks for packs (besides the built-in ones)",
    )
    ap.add_argument("--resolution", type=int, default=attributes.DEFAULT_RESOLUTION)
    ap.add_argument("--faces", type=int, default=48)
    ap.add_argument("--alphas", type=float, nargs="+", default=[0.0, 0.4, 0.6])
    ap.add_argument("--iterations", type=int, nargs="+", default=[dfi.DfiParams.iterations])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "docs" / "dfi-strip.png"))
    args = ap.parse_args()
    if args.command == "pack":
        torch.set_num_threads(args.threads)
        path = build_builtin_pack(args.resolution, Path(args.pack_dir))
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    elif args.command == "classifier":
        _, acc = train(GENKI)
        split = split_files(GENKI)
        sizes = {k: {c: len(v) for c, v in d.items()} for k, d in split.items()}
        print(f"split sizes {sizes}; validation accuracy {acc:.3f}")
    elif args.command == "eval":
        evaluate(args)
    else:
        strip(args)


if __name__ == "__main__":
    main()
