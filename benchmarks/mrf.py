"""Benchmark the ``mrf`` filter: seconds and peak memory per preset and working size.

Usage (from the repo root)::

    python benchmarks/mrf.py                      # CPU, 256 and 512 px, preview and final
    python benchmarks/mrf.py --device cuda --iterations 100

Each configuration runs in its own subprocess so that the CPU peak (max RSS of that process) is
its own; on CUDA the peak is ``torch.cuda.max_memory_allocated``. The content is a square
``size``×``size`` crop and the style a ``size``×``size`` image (masked styling, no maps); the
backbone is vgg16-hed when installed, else a random-weight VGG16 of identical cost. ``final``
uses ``--levels`` levels × ``--iterations`` iterations (default 3 × 10 on CPU to keep the shared
machine free); ``preview`` always runs its own defaults (style swap + 30 steps at <= 256 px).
``est. 3×100`` scales the measured time per step linearly to CNNMRF's 3 × 100 iterations (an
upper bound: coarse levels are cheaper than the finest).
Anchor: CNNMRF takes 101 s at 384 px (3 × 100 iterations) on a Titan X.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _one(args: argparse.Namespace) -> dict[str, float]:
    import torch

    from backend import dirs, weights
    from backend.features import load_backbone, vgg16_features
    from backend.filters.base import Context, FilterInput
    from backend.filters.mrf import MrfParams, NeuralDoodle
    from backend.params import LayerRef

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if weights.find("vgg16-hed", dirs.weights_dir()) is not None:
        net = load_backbone("vgg16-hed", dirs.weights_dir(), device)
    else:
        net = vgg16_features().to(device)
    g = torch.Generator().manual_seed(0)
    size = args.size
    content = torch.nn.functional.interpolate(
        torch.rand(1, 3, size // 8, size // 8, generator=g), size=(size, size), mode="bicubic"
    ).clamp(0, 1)
    style = torch.rand(1, 4, size, size, generator=g)
    job = FilterInput(
        image=content.to(device),
        alpha=torch.ones(1, 1, size, size, device=device),
        mask=torch.ones(1, 1, size, size, device=device),
        box=(0, 0, size, size),
        extras={"style": style.to(device)},
    )
    p = MrfParams(
        style=LayerRef("style"),
        preset=args.preset,
        max_size=size,
        levels=args.levels,
        # preview: the filter caps the default (100) at PREVIEW_ITERATIONS
        iterations=args.iterations if args.preset == "final" else 100,
    )
    flt = NeuralDoodle(Context(device=device, backbone_factory=lambda: net))
    steps = [0]

    def on_step(step: object) -> None:
        steps[0] += 1

    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    flt.run(job, p, on_step)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return {"seconds": seconds, "peak_mb": peak, "steps": steps[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--presets", nargs="+", default=["preview", "final"])
    parser.add_argument("--levels", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=256, help=argparse.SUPPRESS)
    parser.add_argument("--preset", default="final", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args)))
        return 0
    print(
        f"mrf benchmark on {args.device}, {args.threads} threads, final = {args.levels} levels "
        f"x {args.iterations} iterations, preview = style swap + <= 30 steps at <= 256 px"
    )
    print(
        f"{'preset':8} {'size':>5} {'steps':>6} {'seconds':>9} {'s/step':>8} "
        f"{'est. 3x100':>11} {'peak MB':>9}"
    )
    for size in args.sizes:
        for preset in args.presets:
            cmd = [
                sys.executable,
                __file__,
                "--one",
                "--size",
                str(size),
                "--preset",
                preset,
                "--device",
                args.device,
                "--levels",
                str(args.levels),
                "--iterations",
                str(args.iterations),
                "--threads",
                str(args.threads),
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            per = r["seconds"] / max(1, r["steps"])
            est = f"{per * 300:11.0f}" if preset == "final" else f"{'-':>11}"
            print(
                f"{preset:8} {size:5d} {r['steps']:6d} {r['seconds']:9.1f} {per:8.2f} "
                f"{est} {r['peak_mb']:9.0f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
