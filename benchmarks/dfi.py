"""DFI speed and memory: seconds and peak RSS per crop size, and iterations vs quality.

    python benchmarks/dfi.py                       # timing table (each case in a fresh process)
    python benchmarks/dfi.py --quality --faces 12  # iterations vs P(smile) on validation faces
    python benchmarks/dfi.py --photo               # detection + alignment + edit, 2048² photo

Two timing cases per crop size S: the filter as shipped (the face is optimised at the pack's
working resolution (64) and only the change is upsampled to S: the residual trick), and the
working resolution raised to S itself. Peak memory is the child process's peak RSS (torch's CPU
allocations are invisible to tracemalloc), minus the RSS right after loading the backbone.
Needs the vgg16-hed weights (``python -m backend weights fetch vgg16-hed``) and the built-in pack.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def one(size: int, resolution: int, iterations: int, threads: int, device: str) -> dict:
    """Time one DFI edit of a ``size``² crop at working ``resolution`` (run in a child)."""
    import torch

    from backend import dirs
    from backend.assets import attributes
    from backend.assets.nets import load_backbone
    from backend.filters import dfi

    torch.set_num_threads(threads)
    resolution = resolution or attributes.DEFAULT_RESOLUTION
    backbone = load_backbone("vgg16-hed", dirs.weights_dir(), device)
    pack = attributes.load_pack(
        attributes.pack_path(attributes.BUILTIN_DIR, "vgg16-hed", "smiling")
    )
    image = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)).to(device)
    base_rss = _rss_mb()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    t = time.perf_counter()
    with torch.enable_grad():
        dfi.edit_face(backbone, pack, image, (0, 0, size, size), 0.6, iterations, resolution, True)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t
    gpu = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else 0.0
    return {
        "seconds": seconds,
        "rss_mb": _rss_mb(),
        "delta_mb": _rss_mb() - base_rss,
        "gpu_mb": gpu,
    }


def timing(args: argparse.Namespace) -> None:
    from backend.filters.dfi import DfiParams

    iters = args.iterations or DfiParams.iterations
    print(f"device {args.device}, {args.threads} threads, {iters} Adam iterations, "
          "1 run per case (fresh process)\n")  # fmt: skip
    print("| crop | working res | seconds | s/iteration | peak RSS MB | RSS over model MB |")
    print("|---|---|---|---|---|---|")
    from backend.assets.attributes import DEFAULT_RESOLUTION

    for size in args.sizes:
        for res in dict.fromkeys([args.resolution or DEFAULT_RESOLUTION, size]):
            n = iters if res <= args.full_up_to else args.few
            cmd = [sys.executable, __file__, "--one", str(size), str(res), str(n),
                   "--threads", str(args.threads), "--device", args.device]  # fmt: skip
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            note = "" if n == iters else f" ({n} it. measured)"
            print(f"| {size}² | {res}² | {r['seconds'] * iters / n:.1f}{note} | "
                  f"{r['seconds'] / n:.3f} | {r['rss_mb']:.0f} | {r['delta_mb']:.0f} |",
                  flush=True)  # fmt: skip


def quality(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from backend.assets import attributes
    from backend.evaluation.dfi_runs import edit_in_canvas, make_filter
    from backend.evaluation.hog_smile import GENKI, read_rgb, split_files, train

    torch.set_num_threads(args.threads)
    clf, _ = train(GENKI)
    flt = make_filter(attributes.BUILTIN_DIR)
    faces = [read_rgb(p) for p in split_files(GENKI)["val"]["non_smile"][: args.faces]]
    print(f"{len(faces)} validation non-smiling faces, α = {args.alpha}, working res "
          f"{args.resolution}\n")  # fmt: skip
    print("| iterations | called smiling | mean P(smile) | s/face |")
    print("|---|---|---|---|")
    for n in args.iteration_list:
        t = time.perf_counter()
        s = np.array([
            clf.score(edit_in_canvas(flt, f, args.alpha, n, args.resolution)[0])
            for f in faces
        ])  # fmt: skip
        dt = (time.perf_counter() - t) / len(faces)
        print(f"| {n} | {(s > 0.5).mean():.0%} | {s.mean():.3f} | {dt:.2f} |", flush=True)


def photo_canvas(size: int, faces: int, face_px: int, seed: int = 0):
    """A ``size``² textured canvas with ``faces`` GENKI faces (``face_px`` wide) pasted on a grid,
    as (1, 3, size, size) in [0, 1]."""
    import numpy as np
    import torch
    from PIL import Image

    from backend.evaluation.hog_smile import GENKI

    rng = np.random.default_rng(seed)
    low = rng.random((size // 32, size // 32, 3))
    texture = np.asarray(Image.fromarray((low * 255).astype(np.uint8)).resize((size, size)))
    canvas = (texture * 0.6 + rng.integers(0, 60, (size, size, 3))).clip(0, 255).astype(np.uint8)
    files = sorted((GENKI / "non_smile").glob("*.jpg"))[:faces]
    per_row = int(np.ceil(np.sqrt(faces)))
    cell = size // per_row
    for i, path in enumerate(files):
        face = np.asarray(Image.open(path).convert("RGB").resize((face_px, face_px)))
        y = (i // per_row) * cell + (cell - face_px) // 2
        x = (i % per_row) * cell + (cell - face_px) // 2
        canvas[y : y + face_px, x : x + face_px] = face
    return torch.from_numpy(canvas.copy()).permute(2, 0, 1)[None].float() / 255


def photo(args: argparse.Namespace) -> None:
    """Detection, alignment and edit seconds for a 2048² photo with one and with four faces."""
    import torch

    from backend import dirs
    from backend.algorithms.faces import frame as face_frame
    from backend.assets import attributes
    from backend.assets.nets import load_backbone, load_face_finder
    from backend.filters import dfi, dfi_inverter

    torch.set_num_threads(args.threads)
    root = dirs.weights_dir()
    backbone = load_backbone("vgg16-hed", root, args.device)
    finder = load_face_finder(root, args.device)
    pack = attributes.load_pack(
        attributes.pack_path(attributes.BUILTIN_DIR, "vgg16-hed", "smiling")
    )
    iters = args.iterations or dfi.DfiParams.iterations
    res = args.resolution or pack.resolution
    inverter = region = None
    if args.method == "inverter":
        found = dfi_inverter.inverter_path("vgg16-hed", None)
        assert found is not None, "no built-in inverter"
        inverter = dfi_inverter.load(*found, "vgg16-hed")
        inverter.net.to(args.device)
        region = dfi.attribute_region(pack, dfi.REGION_LAYER, res).to(args.device)
    how = "the inverter" if inverter else f"{iters} Adam iterations"
    print(f"device {args.device}, {args.threads} threads, {args.size}² photo, faces "
          f"{args.face_px} px, working res {res}, {how}\n")  # fmt: skip
    print("| faces | found | detection s | alignment s (warp in + back) | edit s | total s |")
    print("|---|---|---|---|---|---|")

    def sync() -> None:
        if args.device == "cuda":
            torch.cuda.synchronize()

    for count in args.face_counts:
        image = photo_canvas(args.size, count, args.face_px).to(args.device)
        sync()
        t0 = time.perf_counter()
        faces = finder.find(image)
        sync()
        t1 = time.perf_counter()
        align_s = edit_s = 0.0
        strength = dfi.DfiParams.strength
        for face in faces:
            a = time.perf_counter()
            x, to_frame = face_frame.to_frame(image, face.landmarks, pack.frame, res)
            face_frame.change_back(torch.zeros_like(x), to_frame, tuple(image.shape[-2:]))
            sync()
            b = time.perf_counter()
            if inverter is not None:
                alpha = strength * dfi.INVERTER_SCALE
                args_ = (backbone, inverter.net, pack, image, face.landmarks, alpha, res, True)
                dfi_inverter.edit_aligned(
                    *args_, region, None, dfi.INVERTER_TRANSFER, dfi.INVERTER_COLOUR
                )
            else:
                with torch.enable_grad():
                    dfi.edit_aligned(
                        backbone, pack, image, face.landmarks, strength, iters, res, True
                    )
            sync()
            c = time.perf_counter()
            align_s += b - a
            edit_s += (c - b) - (b - a)
        total = (t1 - t0) + align_s + edit_s
        print(f"| {count} | {len(faces)} | {t1 - t0:.2f} | {align_s:.2f} | {edit_s:.1f} | "
              f"{total:.1f} |", flush=True)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--one", type=int, nargs=3, metavar=("SIZE", "RES", "ITERS"), help="child")
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    ap.add_argument(
        "--resolution", type=int, default=0, help="working resolution; 0 = the built-in pack's"
    )
    ap.add_argument("--iterations", type=int, default=0, help="0 = the filter's default")
    ap.add_argument("--full-up-to", type=int, default=128, help="larger: time --few iterations")
    ap.add_argument("--few", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quality", action="store_true")
    ap.add_argument("--photo", action="store_true", help="detection + alignment + edit timing")
    ap.add_argument(
        "--method", default="inverter", choices=("inverter", "optimise"), help="--photo"
    )
    ap.add_argument("--size", type=int, default=2048, help="--photo: photo side")
    ap.add_argument("--face-px", type=int, default=400, help="--photo: face size")
    ap.add_argument("--face-counts", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--faces", type=int, default=12)
    ap.add_argument("--alpha", type=float, default=0.6, help="strength (the filter's default)")
    ap.add_argument("--iteration-list", type=int, nargs="+", default=[5, 10, 20, 40, 80])
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(*args.one, args.threads, args.device)))
    elif args.quality:
        quality(args)
    elif args.photo:
        photo(args)
    else:
        timing(args)


if __name__ == "__main__":
    main()
