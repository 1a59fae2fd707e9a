"""A quick before/after sheet of the tuning slice on textured canvases (settings side by side).

    python scripts/dfi_look.py --faces 6 --variant "strength=1" --variant "resolution=128"

Rows: the input face crops, then one row per variant (``NAME=VALUE,...`` filter params). Faces
are the tuning slice (scripts/dfi_tuning.py), pasted at random sizes on textured 512² canvases
with loose selections (backend/evaluation/face_canvas.py), run through the job runner like
``apply``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from backend.evaluation.face_canvas import crop, make_scene  # noqa: E402
from backend.serving import context  # noqa: E402
from backend.serving.imaging import WireImage  # noqa: E402
from backend.serving.jobs import Job, execute  # noqa: E402
from backend.serving.registry import Registry  # noqa: E402
from scripts.dfi_protocol import parse_params  # noqa: E402
from scripts.dfi_tuning import tuning_files  # noqa: E402
from scripts.smile_judge import read_rgb  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--faces", type=int, default=6)
    ap.add_argument("--label", default="non_smile", choices=("non_smile", "smile"))
    ap.add_argument("--variant", action="append", default=[])
    ap.add_argument("--tile", type=int, default=128)
    ap.add_argument("--judge", type=Path, help="a smile judge file (scripts/smile_judge.py)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/dfi-look.png"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="CONST=VALUE",
        help="override a backend.filters.dfi constant for an experiment (TV_WEIGHT=100)",
    )
    context.add_arguments(ap)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from backend.filters import dfi

    for item in args.set:
        name, _, value = item.partition("=")
        setattr(dfi, name, type(getattr(dfi, name))(value))
    registry = Registry(context.from_args(args))
    flt = registry.get("dfi")
    specs = registry.schema("dfi")
    judge = None
    if args.judge:
        from scripts.smile_judge import load_judge

        judge = load_judge(args.judge)
    files = tuning_files()[args.label][: args.faces]
    rng = np.random.default_rng(args.seed)
    scenes = [make_scene([read_rgb(p)], rng) for p in files]
    tile = args.tile

    def cell(rgb: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(rgb).resize((tile, tile), Image.Resampling.BICUBIC))

    before = [crop(s.image, s.faces[0]) for s in scenes]
    rows = [np.concatenate([cell(b) for b in before], axis=1)]
    if judge:
        print(f"before: P {np.round(judge.p_smile(before), 2)}")
    for variant in args.variant:
        values = parse_params(specs, [v for v in variant.split(",") if v])
        t = time.time()
        after = []
        for s in scenes:
            h, w = s.mask.shape
            rgba = np.concatenate([s.image, np.full((h, w, 1), 255, np.uint8)], -1)
            layer = WireImage(w, h, "u8", rgba.tobytes())
            mask = WireImage(w, h, "u8", s.mask.tobytes())
            try:
                (out,) = execute(flt, Job("dfi", layer, mask, values), lambda step: None)
                arr = np.frombuffer(out.pixels, np.uint8).reshape(h, w, 4)[..., :3]
            except Exception as exc:  # show the failure as a black tile
                print(f"  {variant}: {type(exc).__name__}: {exc}")
                arr = np.zeros_like(s.image)
            after.append(crop(arr, s.faces[0]))
        rows.append(np.concatenate([cell(a) for a in after], axis=1))
        dt = (time.time() - t) / len(scenes)
        line = f"{variant or 'defaults'}: {dt:.1f} s/face"
        if judge:
            p = judge.p_smile(after)
            line += f", P {np.round(p, 2)}, called smiling {np.mean(p > 0.5):.0%}"
        print(line, flush=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
