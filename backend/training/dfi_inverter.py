"""Train DFI's feed-forward inverter: ``python -m backend train dfi-inverter --images DIR --out F``.

Every image under ``--images`` has its main face found (``mtcnn`` weights) and warped to the
attribute pack's face frame at the pack's resolution, exactly as ``attributes build`` and the
``dfi`` filter do (``backend.assets.pack_faces``); the face and its mirror image are run once
through the backbone and their maps (the pack's layers) kept in memory as float16. The decoder
(``backend.algorithms.nets.dfi_inverter``) then learns to map the maps back to the face with

    L = |D(φ(x)) − x|₁ + grad·|∇D(φ(x)) − ∇x|₁ + feat·‖ψ(D(φ(x))) − ψ(x)‖² / ‖ψ(x)‖²

where ψ is the backbone's relu2_2 at half the resolution (a cheap perceptual term) and ∇ the
image's neighbour differences. With probability ``drop`` a sample's shallowest map is zeroed, so
the decoder also learns to draw from the deeper maps. Adam, batch ``--batch``, fixed seed.

The run folder (``--run-dir``, default DATA_HOME/runs/dfi-inverter/NAME) holds ``features.pt``
(the cached faces' maps), ``checkpoint.pth`` (every ``--checkpoint-every`` steps; ``--resume``
continues from it); ``--out`` receives the fp16 inverter
file the filter loads (``backend.filters.dfi_inverter``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from backend.algorithms.nets.dfi_inverter import DfiInverter, InverterConfig
from backend.training.dtn.checkpoints import save_atomic
from backend.training.dtn.progress import ProgressBar

log = logging.getLogger(__name__)

CHECKPOINT, FEATURES = "checkpoint.pth", "features.pt"
PERCEPTUAL = "relu2_2"


@dataclass(frozen=True)
class InverterOptions:
    """Everything an inverter run depends on (saved in its checkpoint and the output file)."""

    iterations: int = 1200
    batch: int = 16
    lr: float = 1e-3
    width: int = 128
    grad: float = 1.0
    feat: float = 0.05
    drop: float = 0.2
    checkpoint_every: int = 100
    seed: int = 0


def aligned_faces(folder: Path, frame: Any, size: int, weights_dir: Path) -> Tensor:
    """Every image's main face under ``folder`` warped to ``frame`` at ``size`` (N×3×S×S uint8)."""
    from backend.algorithms.faces.frame import to_frame
    from backend.assets import attributes
    from backend.assets.nets import load_face_finder
    from backend.assets.pack_faces import landmarks_in
    from backend.training.dtn.data import IMAGE_SUFFIXES

    finder = load_face_finder(weights_dir)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    faces = []
    for path in files:
        image = attributes.read_image(path)
        points = landmarks_in(finder, image)
        if points is not None:
            face, _ = to_frame(image, points, frame, size)
            faces.append(face.mul(255).round().to(torch.uint8))
    log.info("faces found in %d of %d images", len(faces), len(files))
    if not faces:
        raise ValueError(f"no face found in any image under '{folder}'")
    return torch.cat(faces)


@torch.no_grad()
def feature_cache(backbone: Any, faces: Tensor, layers: tuple[str, ...]) -> dict[str, Tensor]:
    """{"faces": uint8 (2N, 3, S, S) faces and mirrors, layer: float16 maps}."""
    both = torch.cat([faces, faces.flip(-1)])
    maps: dict[str, list[Tensor]] = {k: [] for k in layers}
    for i in range(0, len(both), 16):
        feats = backbone(both[i : i + 16].float() / 255, list(layers))
        for k in layers:
            maps[k].append(feats[k].half())
    return {"faces": both, **{k: torch.cat(v) for k, v in maps.items()}}


def loss_terms(
    net: DfiInverter, backbone: Any, batch: dict[str, Tensor], opts: InverterOptions
) -> dict[str, Tensor]:
    x = batch["faces"].float() / 255
    feats = {k: batch[k].float() for k in net.cfg.layers}
    if opts.drop > 0:
        first = net.cfg.layers[0]
        keep = (torch.rand(len(x), 1, 1, 1) >= opts.drop).float()
        feats[first] = feats[first] * keep
    y = net(feats)
    terms = {"l1": (y - x).abs().mean()}
    if opts.grad:
        gy = [y[..., 1:, :] - y[..., :-1, :], y[..., 1:] - y[..., :-1]]
        gx = [x[..., 1:, :] - x[..., :-1, :], x[..., 1:] - x[..., :-1]]
        terms["grad"] = sum((a - b).abs().mean() for a, b in zip(gy, gx, strict=True))
    if opts.feat:
        half = x.shape[-1] // 2
        py = backbone(F.interpolate(y, size=half, mode="bilinear", antialias=True), [PERCEPTUAL])
        with torch.no_grad():
            px = backbone(
                F.interpolate(x, size=half, mode="bilinear", antialias=True), [PERCEPTUAL]
            )
        a, b = py[PERCEPTUAL], px[PERCEPTUAL]
        terms["feat"] = (a - b).pow(2).sum((1, 2, 3)).div(b.pow(2).sum((1, 2, 3)) + 1e-6).mean()
    return terms


def train(
    cache: dict[str, Tensor],
    backbone: Any,
    cfg: InverterConfig,
    opts: InverterOptions,
    run_dir: Path,
    resume: bool,
    progress: Any = None,
) -> tuple[DfiInverter, list[dict[str, float]]]:
    """Train (or continue) an inverter on ``cache`` (``feature_cache``'s dict)."""
    torch.manual_seed(opts.seed)
    net = DfiInverter(cfg)
    optim = torch.optim.Adam(net.parameters(), lr=opts.lr)
    gen = torch.Generator().manual_seed(opts.seed)
    start, history = 0, []
    ckpt = run_dir / CHECKPOINT
    if resume and ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        net.load_state_dict(state["net"])
        optim.load_state_dict(state["optim"])
        gen.set_state(state["gen"])
        if "rng" in state:  # the feature dropout's draws
            torch.set_rng_state(state["rng"])
        start, history = int(state["step"]), list(state["history"])
    n = len(cache["faces"])
    weights = {"l1": 1.0, "grad": opts.grad, "feat": opts.feat}
    for step in range(start + 1, opts.iterations + 1):
        idx = torch.randint(n, (min(opts.batch, n),), generator=gen)
        terms = loss_terms(net, backbone, {k: v[idx] for k, v in cache.items()}, opts)
        loss = sum(weights[k] * v for k, v in terms.items())
        optim.zero_grad()
        loss.backward()
        optim.step()
        history.append({k: float(v.detach()) for k, v in terms.items()})
        if progress is not None:
            progress("training", step, opts.iterations, history[-1])
        if step % opts.checkpoint_every == 0 or step == opts.iterations:
            gen_state = gen.get_state()
            state = {"net": net.state_dict(), "optim": optim.state_dict(), "gen": gen_state}
            state["rng"] = torch.get_rng_state()
            save_atomic({**state, "step": step, "history": history}, ckpt)
    return net.eval(), history


def inverter_file(net: DfiInverter, meta: dict[str, Any]) -> dict[str, Any]:
    """What the filter loads: fp16 state, the net's config and where it came from."""
    state = {k: v.detach().half().cpu() for k, v in net.state_dict().items()}
    return {"state": state, "config": net.cfg.to_dict(), **meta}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m backend train dfi-inverter``."""
    parser.add_argument("--images", required=True, help="folder of face photos or face crops")
    parser.add_argument("--out", required=True, help="the inverter file to write (fp16)")
    parser.add_argument("--pack", default="smiling", help="attribute pack whose frame and layers")
    parser.add_argument("--name", default="default", help="names the run folder")
    parser.add_argument("--run-dir", help="run folder (default: DATA_HOME/runs/dfi-inverter/NAME)")
    parser.add_argument("--weights-dir", help="weights folder (vgg16-hed, mtcnn)")
    parser.add_argument("--attributes-dir", help="attribute packs folder")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    d = InverterOptions()
    for fld in fields(InverterOptions):
        flag = "--" + fld.name.replace("_", "-")
        default = getattr(d, fld.name)
        parser.add_argument(flag, type=type(default), default=default, help=f"(default {default})")


def run(args: argparse.Namespace) -> int:
    """Align, cache features, train, write ``--out``; return 0 or 2."""
    from backend.assets import attributes, weights
    from backend.assets.nets import BACKBONES, load_backbone
    from backend.dirs import attributes_dir, data_home, weights_dir
    from backend.errors import NlfError

    opts = InverterOptions(**{f.name: getattr(args, f.name) for f in fields(InverterOptions)})
    if args.threads:
        torch.set_num_threads(args.threads)
    run_dir = Path(args.run_dir) if args.run_dir else data_home() / "runs" / "dfi-inverter"
    run_dir = run_dir if args.run_dir else run_dir / args.name
    if (run_dir / CHECKPOINT).is_file() and not args.resume:
        print(
            f"error: {run_dir} holds a checkpoint; add --resume or choose --run-dir",
            file=sys.stderr,
        )
        return 2
    try:
        wdir = weights_dir(args.weights_dir)
        name = next((b for b in BACKBONES if weights.find(b, wdir) is not None), None)
        if name is None:
            raise ValueError("no backbone weights: python -m backend weights fetch vgg16-hed")
        info = attributes.find_pack(args.pack, name, attributes_dir(args.attributes_dir))
        if info is None:
            raise ValueError(f"no attribute pack '{args.pack}' for '{name}'")
        pack = attributes.load_pack(info.path)
        if pack.frame is None:
            raise ValueError(f"the '{args.pack}' pack records no face frame")
        backbone = load_backbone(name, wdir)
        run_dir.mkdir(parents=True, exist_ok=True)
        cached = run_dir / FEATURES
        if cached.is_file():
            cache = torch.load(cached, map_location="cpu", weights_only=True)
        else:
            faces = aligned_faces(Path(args.images), pack.frame, pack.resolution, wdir)
            cache = feature_cache(backbone, faces, tuple(pack.layers))
            save_atomic(cache, cached)
    except (ValueError, FileNotFoundError, NlfError, attributes.PackError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    layers = tuple(pack.layers)
    channels = tuple(int(cache[k].shape[1]) for k in layers)
    up = (pack.resolution // cache[layers[0]].shape[-1]).bit_length() - 1
    cfg = InverterConfig(layers, channels, up, opts.width)
    log.info("%d faces (with mirrors), run folder %s", len(cache["faces"]), run_dir)
    net, history = train(cache, backbone, cfg, opts, run_dir, args.resume, ProgressBar())
    meta = {
        "backbone": name,
        "resolution": pack.resolution,
        "frame": [list(p) for p in pack.frame],
        "options": asdict(opts),
        "faces": len(cache["faces"]) // 2,
        "final_losses": {k: round(v, 5) for k, v in (history[-1] if history else {}).items()},
    }
    save_atomic(inverter_file(net, meta), Path(args.out))
    print(f"inverter written to {args.out} (run folder {run_dir})")
    return 0
