"""Sweep the ``mrf`` filter's defaults on the TUNING pairs only (docs/quality-mrf.md, issue 18).

The tuning pairs share no photo and no painting with the protocol's six
(:data:`scripts.mrf_protocol.PAIRS`), so a default chosen here can be judged there once.
Images (kept out of the repo, in ``--dir``, default ~/.cache/nlf/tuning)::

    motorcycle.png    scikit-image ``data.stereo_motorcycle()[0]`` (saved by the peer venv)
    Freddie.jpg       photo,   alexjc/neural-doodle samples/ (commit b2fac92)
    Monet.jpg         Monet, Étretat cliffs, alexjc/neural-doodle samples/ (commit b2fac92)
    tubingen.jpg, golden_gate.jpg, hoovertowernight.jpg    photos,
    the_scream.jpg (Munch), shipwreck.jpg (Turner), starry_night.jpg (Van Gogh, not the
    protocol's self-portrait), woman-with-hat-matisse.jpg (Matisse)
                      jcjohnson/neural-style examples/inputs/ (commit 07c4b82)

Usage (from the repo root; one thread, the machine is shared)::

    OMP_NUM_THREADS=1 nice -n 10 python scripts/mrf_tune.py --configs CONFIGS.json \\
        --jsonl results.jsonl

``CONFIGS.json`` is a list of ``{"name": …, "params": {filter params}, "settings": {solver
Settings overrides}}``. For every configuration and pair it records the protocol's figures
(Lab colour distance, edge SSIM, coarse edge SSIM), the brushwork figure
(:func:`scripts.mrf_protocol.texture_distance`) and the CPU seconds; the peer's figures are
computed once per pair (its outputs cached in ``--dir``/peer). ``--summary FILE`` prints the
table and the selection rule's ranking for a finished JSONL.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from mrf_protocol import load, run_ours, run_peer  # noqa: E402

from backend.evaluation.mrf_metrics import (  # noqa: E402
    coarse_edge_ssim,
    edge_ssim,
    lab_quantiles,
    lab_swd,
    texture_distance,
)

TUNING_DIR = Path.home() / ".cache" / "nlf" / "tuning"
TUNING_PAIRS = (
    ("motorcycle.png", "Monet.jpg"),
    ("Freddie.jpg", "starry_night.jpg"),
    ("tubingen.jpg", "the_scream.jpg"),
    ("golden_gate.jpg", "shipwreck.jpg"),
    ("hoovertowernight.jpg", "Monet.jpg"),
    ("Freddie.jpg", "woman-with-hat-matisse.jpg"),
)


@functools.cache
def style_quantiles(path: Path) -> torch.Tensor:
    return lab_quantiles(load(path))


def measure(
    out: torch.Tensor, content: torch.Tensor, style: torch.Tensor, size: int, style_q: torch.Tensor
) -> dict:
    return {
        "colour": lab_swd(out, ref_q=style_q),
        "edge": edge_ssim(out, content),
        "coarse": coarse_edge_ssim(out, content),
        "texture": texture_distance(out, content, style, size),
    }


def peer_figures(folder: Path, size: int, threads: int) -> dict[str, dict]:
    cache = folder / "peer"
    cache.mkdir(exist_ok=True)
    saved = cache / f"figures-{size}.json"
    if saved.exists():
        return json.loads(saved.read_text())
    figures = {}
    for photo, painting in TUNING_PAIRS:
        key = f"{photo}:{painting}"
        out, meta = cache / f"{photo}-{painting}.png", cache / f"{photo}-{painting}.json"
        if not out.exists():
            seconds = run_peer(folder / photo, folder / painting, out, threads)
            meta.write_text(json.dumps({"seconds": seconds}))
        content, style = load(folder / photo), load(folder / painting)
        style_q = style_quantiles(folder / painting)
        figures[key] = measure(load(out), content, style, size, style_q)
        figures[key]["seconds"] = json.loads(meta.read_text())["seconds"]
        figures[key]["photo"] = lab_swd(content, ref_q=style_q)
    saved.write_text(json.dumps(figures))
    return figures


def wins(row: dict, peer: dict) -> int:
    """Pairs where the colour distance is at most the peer's and edge SSIM >= 0.8 x the peer's."""
    return sum(
        int(r["colour"] <= peer[k]["colour"] and r["edge"] >= 0.8 * peer[k]["edge"])
        for k, r in row["pairs"].items()
    )


def mean(row: dict, key: str) -> float:
    return sum(r[key] for r in row["pairs"].values()) / len(row["pairs"])


def summary(rows: list[dict], peer: dict) -> None:
    """The table and the ranking by the rule fixed before the sweep (docs/quality-mrf.md)."""
    peer_coarse = sum(p["coarse"] for p in peer.values()) / len(peer)
    print(
        f"{'config':34} {'wins':>4} {'colour':>7} {'edge':>6} {'coarse':>6} {'texture':>7} "
        f"{'cpu s':>6}   (peer: colour {sum(p['colour'] for p in peer.values()) / len(peer):.2f}"
        f" edge {sum(p['edge'] for p in peer.values()) / len(peer):.3f} coarse {peer_coarse:.3f}"
        f" texture {sum(p['texture'] for p in peer.values()) / len(peer):.2f})"
    )
    for r in rows:
        print(
            f"{r['name']:34} {wins(r, peer):4d} {mean(r, 'colour'):7.2f} {mean(r, 'edge'):6.3f} "
            f"{mean(r, 'coarse'):6.3f} {mean(r, 'texture'):7.2f} {mean(r, 'cpu'):6.1f}"
        )
    ok = [r for r in rows if mean(r, "coarse") >= peer_coarse and mean(r, "cpu") <= 20]
    ok.sort(key=lambda r: (-wins(r, peer), -mean(r, "coarse"), mean(r, "cpu")))
    print("ranking (mean coarse edge SSIM >= the peer's, mean CPU <= 20 s; most wins, then")
    print("higher coarse edge SSIM, then less CPU):")
    for i, r in enumerate(ok, 1):
        print(f"  {i}. {r['name']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=TUNING_DIR)
    parser.add_argument("--configs", type=Path)
    parser.add_argument("--jsonl", type=Path)
    parser.add_argument("--summary", type=Path, nargs="*")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--per-pair", action="store_true", help="print every pair's figures")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    peer = peer_figures(args.dir, args.size, args.threads)
    if args.summary:
        rows = [json.loads(line) for f in args.summary for line in f.read_text().splitlines()]
        if args.per_pair:
            for k, p in peer.items():
                print(f"peer {k:44} " + " ".join(f"{n} {v:.3f}" for n, v in p.items()))
            for r in rows:
                for k, p in r["pairs"].items():
                    print(
                        f"{r['name'][:20]:20} {k:44} "
                        + " ".join(f"{n} {v:.3f}" for n, v in p.items())
                    )
        summary(rows, peer)
        return 0
    from backend import dirs
    from backend.algorithms.mrf_solver import Settings
    from backend.assets.nets import load_backbone
    from backend.filters import mrf

    net = load_backbone("vgg16-hed", dirs.weights_dir())
    for config in json.loads(args.configs.read_text()):
        settings = {
            k: tuple(v) if isinstance(v, list) else v for k, v in config.get("settings", {}).items()
        }
        mrf.Settings = functools.partial(Settings, **settings)  # type: ignore[misc]
        row = {"name": config["name"], "params": config.get("params", {}), "settings": settings}
        row["pairs"] = {}
        for photo, painting in TUNING_PAIRS:
            content, style = load(args.dir / photo), load(args.dir / painting)
            cpu = time.process_time()
            out = run_ours(net, content, style, args.size, config.get("params", {}))
            seconds = time.process_time() - cpu
            style_q = style_quantiles(args.dir / painting)
            figures = {**measure(out, content, style, args.size, style_q), "cpu": seconds}
            row["pairs"][f"{photo}:{painting}"] = figures
        mrf.Settings = Settings  # type: ignore[misc]
        print(config["name"], f"wins {wins(row, peer)}/6", flush=True)
        if args.jsonl:
            with args.jsonl.open("a") as f:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
