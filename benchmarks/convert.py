"""CycleGAN speed, memory and tiling quality (random weights: no official weights offline).

    python benchmarks/convert.py                    # inference + training timing table
    python benchmarks/convert.py --quality          # parity, tiling PSNR on 2048², docs/tiling.png

Timing: the full ``resnet_9blocks`` generator (ngf 64, 11.4 M parameters, random weights) through
``backend.filters.cyclegan.translate`` as the filter runs it; 512² and 1024² whole, 4096² in tiles
(tile 1024, overlap 128, statistics at 2048²: the filter's defaults). On the CPU the 4096² case
times the statistics pass plus ``--max-tiles`` tiles and extrapolates to all tiles (said in the
table). Each case runs in a fresh process; peak memory is the child's peak RSS (CPU) or
``max_memory_allocated`` (CUDA, fp16).
Training: seconds per iteration of the paper's setting (256² crops, batch 1, G x2 + D x2).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


STATS = 2048
"""Statistics size of the tiled case: the filter's default."""


class _Enough(Exception):
    pass


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def infer(size: int, tiled: bool, max_tiles: int, threads: int, device: str) -> dict:
    """Translate one random ``size``² image with the full generator (run in a child)."""
    import torch

    from backend.algorithms.nets.resnet_generator import ResnetGenerator
    from backend.filters.base import Step
    from backend.filters.cyclegan import translate

    torch.set_num_threads(threads)
    dev = torch.device(device)
    net = ResnetGenerator().eval().to(dev)
    dtype = torch.float16 if dev.type == "cuda" else None
    if dev.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    image = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)).to(dev)
    tile = 1024 if tiled else 1 << 16
    steps: list[Step] = []

    def on_step(step: Step) -> None:
        steps.append(step)
        if tiled and step.stage == "translate" and step.i - 1 >= max_tiles:
            raise _Enough

    def once() -> None:
        with torch.inference_mode():
            try:
                translate(net, image, tile, 128, STATS, on_step, dtype=dtype)
            except _Enough:
                pass

    if dev.type == "cuda":
        once()  # warm-up (cuDNN autotuning, allocator)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    base = _rss_mb()
    steps.clear()
    stamps: dict[str, float] = {}
    t = time.perf_counter()

    def stamped(step: Step) -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if step.stage == "statistics" and step.i == 1:
            stamps["statistics"] = time.perf_counter()
        on_step(step)

    with torch.inference_mode():
        try:
            translate(net, image, tile, 128, STATS, stamped, dtype=dtype)
        except _Enough:
            pass
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t
    tiles_total = steps[-1].total - 1 if tiled else 1
    tiles_done = sum(1 for s in steps if s.stage == "translate") if tiled else 1
    if tiled and tiles_done < tiles_total:
        stats = stamps.get("statistics", t) - t
        per_tile = (seconds - stats) / max(1, tiles_done)
        seconds = stats + per_tile * tiles_total
    return {
        "seconds": seconds,
        "tiles": tiles_total,
        "measured_tiles": tiles_done,
        "rss_mb": _rss_mb(),
        "delta_mb": _rss_mb() - base,
        "gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else 0.0,
    }


def train_step(size: int, iters: int, threads: int, device: str) -> dict:
    """Seconds per CycleGAN training iteration at ``size``² (batch 1, full networks)."""
    import tempfile

    import torch
    from PIL import Image

    from backend.training.cyclegan import CycleGanConfig, CycleGanTrainer

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        for d in ("a", "b"):
            Path(tmp, d).mkdir()
            Image.new("RGB", (size, size), (90, 120, 30)).save(Path(tmp, d, "0.png"))
        cfg = CycleGanConfig(f"{tmp}/a", f"{tmp}/b", "bench", size=size, device=device)
        trainer = CycleGanTrainer(cfg)
        a, b = trainer._batch(0, 0)
        trainer.step(a, b)  # warm-up
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(iters):
            trainer.step(a, b)
        if device == "cuda":
            torch.cuda.synchronize()
        return {"seconds": (time.perf_counter() - t) / iters, "rss_mb": _rss_mb()}


def _child(*args: str) -> dict:
    cmd = [sys.executable, __file__, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def timing(args: argparse.Namespace) -> None:
    print(f"device {args.device}, {args.threads} threads, full resnet_9blocks (random weights), "
          f"{'fp16 autocast + channels_last' if args.device == 'cuda' else 'fp32'}\n")  # fmt: skip
    mem = "peak GPU MB" if args.device == "cuda" else "peak RSS MB"
    print(f"| input | mode | seconds | {mem} |")
    print("|---|---|---|---|")
    for size in args.sizes:
        tiled = size > 1024
        max_tiles = args.max_tiles if args.device == "cpu" else 1 << 20
        r = _child("--infer", str(size), str(int(tiled)), str(max_tiles),
                   "--threads", str(args.threads), "--device", args.device)  # fmt: skip
        mode = "whole"
        if tiled:
            mode = f"{r['tiles']} tiles of 1024² + stats at {STATS}²"
            if r["measured_tiles"] < r["tiles"]:
                mode += f" ({r['measured_tiles']} tiles timed, rest extrapolated)"
        m = r["gpu_mb"] if args.device == "cuda" else r["rss_mb"]
        print(f"| {size}² | {mode} | {r['seconds']:.3f} | {m:.0f} |", flush=True)
    r = _child("--train", str(args.train_size), str(args.train_iters),
               "--threads", str(args.threads), "--device", args.device)  # fmt: skip
    print(f"\ntraining: {r['seconds']:.2f} s/iteration at {args.train_size}² "
          f"(batch 1, mean of {args.train_iters}), peak RSS {r['rss_mb']:.0f} MB")  # fmt: skip


def _pink(size: int, seed: int = 0):
    """A (1, 3, size, size) image with a natural 1/f amplitude spectrum, in [0, 1]."""
    import torch

    g = torch.Generator().manual_seed(seed)
    f = (torch.fft.fftfreq(size)[:, None] ** 2 + torch.fft.fftfreq(size)[None, :] ** 2).sqrt()
    spec = torch.complex(
        torch.randn(3, size, size, generator=g), torch.randn(3, size, size, generator=g)
    )
    x = torch.fft.ifft2(spec / (f + 1.0 / size)).real
    x = (x - x.mean((1, 2), keepdim=True)) / x.std()
    return (0.5 + 0.2 * x).clamp(0, 1)[None]


def _psnr(a, b) -> float:
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def quality(args: argparse.Namespace) -> None:
    import torch
    import torch.nn.functional as F
    from torchvision.utils import save_image

    from backend.algorithms.nets.resnet_generator import ResnetGenerator
    from backend.filters.cyclegan import feather, tile_starts, translate
    from tests.test_cyclegan import _legacy_checkpoint, _reference_generator

    torch.set_num_threads(args.threads)
    # parity: official-layout checkpoint (module. prefixes + legacy norm keys) through the store
    import tempfile

    from backend.assets.models import ModelStore

    torch.manual_seed(0)
    ref = _reference_generator().eval()
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(_legacy_checkpoint(ref), Path(tmp) / "latest_net_G.pth")
        store = ModelStore(Path(tmp) / "models")
        store.import_model(Path(tmp) / "latest_net_G.pth", "official")
        _, net = store.load("official")
        image = _pink(args.parity_size, seed=1)
        with torch.inference_mode():
            ours = translate(net, image)
            want = ((ref(image * 2 - 1) + 1) / 2).clamp(0, 1)
    diff = float((ours - want).abs().max())
    print(f"parity ({args.parity_size}², full 9-block, fp32): max |ours - reference| = {diff:.2e}")

    # tiling on 2048²: a narrower random generator (ngf 8, 9 blocks: same depth and receptive
    # field as the real one, 64x fewer MACs) so a whole-image forward fits a small CPU budget
    size, tile, overlap = args.tiling_size, args.tile, args.overlap
    torch.manual_seed(0)
    net = ResnetGenerator(ngf=args.ngf).eval()
    image = _pink(size, seed=2)
    with torch.inference_mode():
        t = time.perf_counter()
        whole = translate(net, image, tile_size=1 << 16)
        print(f"\nwhole {size}² forward: {time.perf_counter() - t:.1f} s")
        n = len(tile_starts(size, tile, overlap)) ** 2
        print(f"tiles {tile}², overlap {overlap} ({n} tiles), ngf {args.ngf}, 9 blocks\n")
        print("| InstanceNorm statistics | PSNR vs whole (dB) | max abs diff |")
        print("|---|---|---|")
        results = {}
        for stats in args.stats_sizes:
            out = translate(net, image, tile, overlap, stats)
            results[stats] = out
            label = f"shared, from the whole image at {stats}²" + (
                " (exact)" if stats >= size else ""
            )
            print(
                f"| {label} | {_psnr(whole, out):.1f} | {float((whole - out).abs().max()):.3f} |",
                flush=True,
            )
        acc, wsum = torch.zeros_like(image), torch.zeros(1, 1, size, size)
        x = image * 2 - 1
        for y0 in tile_starts(size, tile, overlap):
            for x0 in tile_starts(size, tile, overlap):
                out = (net(x[..., y0 : y0 + tile, x0 : x0 + tile]) + 1) / 2
                wt = (
                    feather(tile, y0, size, overlap)[:, None]
                    * feather(tile, x0, size, overlap)[None]
                )
                acc[..., y0 : y0 + tile, x0 : x0 + tile] += out * wt
                wsum[..., y0 : y0 + tile, x0 : x0 + tile] += wt
        naive = (acc / wsum).clamp(0, 1)
        print(f"| per tile (plain InstanceNorm, for contrast) | {_psnr(whole, naive):.1f} | "
              f"{float((whole - naive).abs().max()):.3f} |")  # fmt: skip
    # figure: a 512² corner around a 4-tile junction, at full resolution
    c0 = min(max(0, tile_starts(size, tile, overlap)[1] + overlap // 2 - 256), size - 512)
    crop = (slice(None), slice(None), slice(c0, c0 + 512), slice(c0, c0 + 512))
    exact = results[max(args.stats_sizes)]
    small = results[min(args.stats_sizes)]
    panels = [
        image[crop], whole[crop], exact[crop],
        ((exact - whole).abs() * 20).clamp(0, 1)[crop],
        ((small - whole).abs() * 20).clamp(0, 1)[crop],
        ((naive - whole).abs() * 20).clamp(0, 1)[crop],
    ]  # fmt: skip
    path = REPO / "docs" / "tiling.png"
    save_image(
        F.interpolate(torch.cat(panels), scale_factor=0.5, mode="area"),
        path,
        nrow=6,
        padding=4,
        pad_value=1.0,
    )
    print(f"\nwrote {path.relative_to(REPO)}")


def toy(args: argparse.Namespace) -> None:
    """The toy-domain training of tests/test_train_cyclegan.py, with its figures printed."""
    import tempfile

    import numpy as np
    import torch

    from backend.training.cyclegan import CycleGanTrainer
    from tests.test_train_cyclegan import _config, _translation_score

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = CycleGanTrainer(_config(Path(tmp), epochs=args.toy_epochs))
        before = _translation_score(trainer.g_a)
        t = time.perf_counter()
        trainer.fit()
        seconds = time.perf_counter() - t
        after = _translation_score(trainer.g_a)
    h, k = trainer.history, trainer.iters_per_epoch
    print(f"\n{len(h)} iterations in {seconds:.1f} s ({seconds / len(h):.3f} s/iteration)")
    print("| loss | first epoch | last epoch |")
    print("|---|---|---|")
    for key in h[0]:
        first, last = np.mean([e[key] for e in h[:k]]), np.mean([e[key] for e in h[-k:]])
        print(f"| {key} | {first:.3f} | {last:.3f} |")
    print(f"\nred->green balanced accuracy of G_A (chance 0.5): {before:.3f} -> {after:.3f}")


def digits_protocol(args: argparse.Namespace) -> None:
    """CycleGAN on the DTN digits pair: label preservation both ways, read by independent judges.

    A = printed digits (``backend.training.digits.render_printed``), B = scikit-learn's handwritten
    digits (the DTN page's split). Judges (``backend/evaluation/digits_judge.py``'s small CNN)
    are trained on one domain only and read the other domain's translations.
    """
    import tempfile

    import torch

    from backend.evaluation.digits_judge import accuracy, train_judge
    from backend.training import digits
    from backend.training.cyclegan import CycleGanConfig, CycleGanTrainer

    torch.set_num_threads(args.threads)
    fonts = digits.font_paths()
    src_train, y_src_train = digits.render_printed(args.digits_train, seed=1, fonts=fonts)
    src_test, y_src_test = digits.render_printed(500, seed=2, fonts=fonts)
    hand, y_hand = digits.handwritten()
    i_train, i_test = digits.split(len(hand), 0.25, seed=0)
    judge_b = train_judge(hand[i_train], y_hand[i_train], args.judge_steps, seed=0)
    judge_a = train_judge(src_train, y_src_train, args.judge_steps, seed=0)

    def f(u8: torch.Tensor) -> torch.Tensor:
        return u8.float() / 127.5 - 1

    with tempfile.TemporaryDirectory() as tmp:
        digits.write_folder(src_train, None, Path(tmp) / "a")
        digits.write_folder(hand[i_train], None, Path(tmp) / "b")
        cfg = CycleGanConfig(
            f"{tmp}/a", f"{tmp}/b", "digits", size=32, epochs=args.digits_epochs,
            batch_size=8, ngf=16, n_blocks=3, ndf=16, checkpoint_every=0,
            run_dir=f"{tmp}/run", device="cpu",
        )  # fmt: skip
        trainer = CycleGanTrainer(cfg)
        t = time.perf_counter()
        trainer.fit()
        seconds = time.perf_counter() - t
    with torch.no_grad():
        g_a, g_b = trainer.g_a.eval(), trainer.g_b.eval()
        a2b = torch.cat([g_a(c) for c in f(src_test).split(250)])
        b2a = torch.cat([g_b(c) for c in f(hand[i_test]).split(250)])
    n_it = trainer.step_count
    print(f"\nCycleGAN ngf 16, 3 blocks, ndf 16, batch 8, {n_it} iterations, {seconds:.0f} s")
    print("| judge (trained on) | reads | accuracy |")
    print("|---|---|---|")
    rows = [
        ("handwritten", "held-out handwritten", accuracy(judge_b, f(hand[i_test]), y_hand[i_test])),
        ("handwritten", "printed test (raw)", accuracy(judge_b, f(src_test), y_src_test)),
        ("handwritten", "G_A(printed test)", accuracy(judge_b, a2b, y_src_test)),
        ("printed", "printed test", accuracy(judge_a, f(src_test), y_src_test)),
        ("printed", "held-out handwritten", accuracy(judge_a, f(hand[i_test]), y_hand[i_test])),
        ("printed", "G_B(held-out handwritten)", accuracy(judge_a, b2a, y_hand[i_test])),
    ]  # fmt: skip
    for judge, reads, acc in rows:
        print(f"| {judge} | {reads} | {acc:.1%} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--infer", type=int, nargs=3, metavar=("SIZE", "TILED", "MAX_TILES"))
    ap.add_argument("--train", type=int, nargs=2, metavar=("SIZE", "ITERS"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 4096])
    ap.add_argument("--max-tiles", type=int, default=2, help="CPU: tiles timed at 4096²")
    ap.add_argument("--train-size", type=int, default=256)
    ap.add_argument("--train-iters", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quality", action="store_true")
    ap.add_argument("--toy", action="store_true", help="toy-domain training figures")
    ap.add_argument("--digits", action="store_true", help="label preservation on digits")
    ap.add_argument("--digits-train", type=int, default=3000)
    ap.add_argument("--digits-epochs", type=int, default=2)
    ap.add_argument("--judge-steps", type=int, default=800)
    ap.add_argument("--toy-epochs", type=int, default=5)
    ap.add_argument("--parity-size", type=int, default=256)
    ap.add_argument("--tiling-size", type=int, default=2048)
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--overlap", type=int, default=128)
    ap.add_argument("--ngf", type=int, default=8)
    ap.add_argument("--stats-sizes", type=int, nargs="+", default=[2048, 1024])
    args = ap.parse_args()
    if args.infer:
        size, tiled, max_tiles = args.infer
        print(json.dumps(infer(size, bool(tiled), max_tiles, args.threads, args.device)))
    elif args.train:
        print(json.dumps(train_step(*args.train, args.threads, args.device)))
    elif args.quality:
        quality(args)
    elif args.toy:
        toy(args)
    elif args.digits:
        digits_protocol(args)
    else:
        timing(args)


if __name__ == "__main__":
    main()
