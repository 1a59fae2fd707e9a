"""Train the NPE face model: ``python -m backend train npe --images DIR --name NAME``.

An IAN_simple-like introspective autoencoder (:mod:`backend.algorithms.nets.npe`; Brock et al., ICLR
2017):
the encoder is the discriminator's body, so one optimiser steps body + heads on

    L_ED = |x̃ − x|₁ + kl·KL(q(z|x) ‖ N(0, I)) + adv·(BCE(D(x), 1) + BCE(D(x̃), 0) + BCE(D(x_p), 0))

and the decoder's optimiser steps on

    L_G = |x̃ − x|₁ + fm·Σ_l |φ_l(x̃) − φ_l(x)|₁ + adv·(BCE(D(x̃), 1) + BCE(D(x_p), 1))

with x̃ = G(E(x)) (reparametrised), x_p = G(z ~ N(0, I)) and φ_l the body's activations
(feature matching). Adam 3e-4, β1 0.5, batch 32, random horizontal flips.

Images are taken as given crops (GENKI-4K's 64 px faces are already framed like
``backend.algorithms.faces.DEFAULT_TEMPLATE``) or, with ``--align``, each image's main face is found
by the
face finder (``mtcnn`` weights) and warped to that template, as the filter does at edit time.

The run folder (default DATA_HOME/runs/npe/NAME) holds ``checkpoint.pth`` (every
``--checkpoint-every`` steps; ``--resume`` continues from it), ``samples/step_NNNNNN.png`` (rows:
input, reconstruction, random samples) and ``model.pth`` (the painting net, float32), imported
into the models folder as kind ``npe`` at the end. ``--half FILE`` also writes an fp16 copy.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from backend.algorithms.nets.npe import NpeConfig, NpeNet, NpeTrainNets
from backend.errors import NlfError
from backend.training.dtn.checkpoints import save_atomic, start_run
from backend.training.dtn.data import as_batch, load_folder
from backend.training.dtn.options import Progress
from backend.training.dtn.progress import ProgressBar

log = logging.getLogger(__name__)

CHECKPOINT, MODEL = "checkpoint.pth", "model.pth"


@dataclass(frozen=True)
class NpeOptions:
    """Everything an NPE run depends on (saved in its checkpoint)."""

    size: int = 64
    zdim: int = 64
    width: int = 32
    batch: int = 32
    iterations: int = 3000
    lr: float = 3e-4
    beta1: float = 0.5
    kl: float = 0.02
    fm: float = 1.0
    adv: float = 0.05
    checkpoint_every: int = 250
    sample_every: int = 250
    seed: int = 0

    def config(self) -> NpeConfig:
        cfg = NpeConfig(self.size, self.zdim, self.width)
        cfg.levels  # noqa: B018  (validates the size)
        return cfg


class NpeTrainer:
    """The nets, their two optimisers and one training step."""

    def __init__(self, opts: NpeOptions, device: torch.device) -> None:
        torch.manual_seed(opts.seed)
        self.opts, self.device = opts, device
        self.nets = NpeTrainNets(opts.config()).to(device)
        net = self.nets.net
        self.enc_params = [
            *net.body.parameters(),
            *net.mu.parameters(),
            *self.nets.logvar.parameters(),
            *self.nets.logit.parameters(),
        ]
        self.dec_params = list(net.dec.parameters())
        betas = (opts.beta1, 0.999)
        self.opt_e = torch.optim.Adam(self.enc_params, lr=opts.lr, betas=betas)
        self.opt_g = torch.optim.Adam(self.dec_params, lr=opts.lr, betas=betas)
        self.step_no = 0

    def _logit(self, x: Tensor) -> Tensor:
        return self.nets.logit(self.nets.net.body(x).flatten(1)).squeeze(1)

    def step(self, x: Tensor) -> dict[str, float]:
        o, nets, net = self.opts, self.nets, self.nets.net
        nets.train()
        flip = torch.rand(x.shape[0], device=x.device) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        feats = nets.features(x)
        h = feats[-1].flatten(1)
        mu, logvar = net.mu(h), nets.logvar(h).clamp(-8, 8)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = net.decode(z)
        prior = net.decode(torch.randn_like(mu))
        pixel = (recon - x).abs().mean()
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean() / o.zdim
        ones, zeros = (
            torch.ones(x.shape[0], device=x.device),
            torch.zeros(x.shape[0], device=x.device),
        )
        bce = F.binary_cross_entropy_with_logits
        d_real = self._logit(x)
        d_fake = self._logit(torch.cat([recon.detach(), prior.detach()]))
        d_loss = bce(d_real, ones) + bce(d_fake, torch.cat([zeros, zeros]))
        loss_e = pixel + o.kl * kl + o.adv * d_loss
        fake_feats = nets.features(torch.cat([recon, prior]))
        fm = sum(
            (f[: x.shape[0]] - r.detach()).abs().mean()
            for f, r in zip(fake_feats, feats, strict=True)
        )
        g_adv = bce(nets.logit(fake_feats[-1].flatten(1)).squeeze(1), torch.cat([ones, ones]))
        loss_g = pixel + o.fm * fm + o.adv * g_adv
        grads_g = torch.autograd.grad(loss_g, self.dec_params, retain_graph=True)
        grads_e = torch.autograd.grad(loss_e, self.enc_params)
        for p, g in zip(self.dec_params, grads_g, strict=True):
            p.grad = g
        for p, g in zip(self.enc_params, grads_e, strict=True):
            p.grad = g
        self.opt_g.step()
        self.opt_e.step()
        self.step_no += 1
        named = {"pixel": pixel, "kl": kl, "fm": fm, "d": d_loss, "g_adv": g_adv}
        return {k: float(v.detach()) for k, v in named.items()}

    def state_dict(self) -> dict[str, Any]:
        return {
            "nets": self.nets.state_dict(),
            "opt_e": self.opt_e.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "step": self.step_no,
            "options": asdict(self.opts),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        saved = dict(state.get("options", {}))
        mine = asdict(self.opts)
        arch = ("size", "zdim", "width")
        if any(saved.get(k) != mine[k] for k in arch):
            raise ValueError(
                "the checkpoint is for "
                + ", ".join(f"{k} {saved.get(k)}" for k in arch)
                + "; resume with the same options"
            )
        self.nets.load_state_dict(state["nets"])
        self.opt_e.load_state_dict(state["opt_e"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.step_no = int(state["step"])


def sample_grid(net: NpeNet, x: Tensor, z: Tensor, path: Path) -> None:
    """Rows: input, reconstruction, decoded random latents (one PNG)."""
    from backend.training.digits import grid

    net.eval()
    with torch.no_grad():
        rows = [x, net(x), net.decode(z)]
    images = torch.cat([(r.cpu() + 1) / 2 for r in rows]).clamp(0, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid(images, x.shape[0]).save(path)


def train(
    images: Tensor,
    opts: NpeOptions,
    run_dir: Path | None = None,
    resume: bool = False,
    device: torch.device | None = None,
    progress: Progress | None = None,
) -> tuple[NpeNet, list[dict[str, float]]]:
    """Train on uint8 (N, 3, S, S) ``images``; return (the painting net in eval mode, losses)."""
    device = device or torch.device("cpu")
    trainer = NpeTrainer(opts, device)
    ckpt = run_dir / CHECKPOINT if run_dir is not None else None
    if resume and ckpt is not None and ckpt.is_file():
        trainer.load_state_dict(torch.load(ckpt, map_location=device, weights_only=True))
        log.info("resuming %s at step %d", run_dir, trainer.step_no)
    gen = torch.Generator().manual_seed(opts.seed + trainer.step_no)
    show = as_batch(images, torch.arange(min(8, len(images))), device)
    fixed_z = torch.randn(show.shape[0], opts.zdim, generator=torch.Generator().manual_seed(1))
    history: list[dict[str, float]] = []
    while trainer.step_no < opts.iterations:
        idx = torch.randint(0, len(images), (min(opts.batch, len(images)),), generator=gen)
        losses = trainer.step(as_batch(images, idx, device))
        history.append(losses)
        step = trainer.step_no
        if progress is not None:
            progress("npe", step, opts.iterations, losses)
        last = step == opts.iterations
        if run_dir is not None and (step % opts.sample_every == 0 or last):
            path = run_dir / "samples" / f"step_{step:06d}.png"
            sample_grid(trainer.nets.net, show, fixed_z.to(device), path)
        if ckpt is not None and (step % opts.checkpoint_every == 0 or last):
            save_atomic(trainer.state_dict(), ckpt)
    net = trainer.nets.net.eval()
    if run_dir is not None:
        save_atomic({k: v.cpu() for k, v in net.state_dict().items()}, run_dir / MODEL)
    return net, history


def aligned_folder(folder: str | Path, size: int, weights_dir: Path) -> Tensor:
    """Every image's main face warped to ``DEFAULT_TEMPLATE`` at ``size`` (uint8 N×3×S×S)."""
    from backend.algorithms.faces import DEFAULT_TEMPLATE
    from backend.algorithms.faces.frame import to_frame
    from backend.assets import attributes
    from backend.assets.nets import load_face_finder
    from backend.assets.pack_faces import landmarks_in
    from backend.training.dtn.data import IMAGE_SUFFIXES

    finder = load_face_finder(weights_dir)
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    faces, skipped = [], 0
    for path in files:
        image = attributes.read_image(path)
        points = landmarks_in(finder, image)
        if points is None:
            skipped += 1
            continue
        face, _ = to_frame(image, points, DEFAULT_TEMPLATE, size)
        faces.append(face.mul(255).round().to(torch.uint8))
    log.info("faces found in %d of %d images", len(faces), len(files))
    if not faces:
        raise ValueError(f"no face found in any image under '{folder}'")
    return torch.cat(faces)


def half_state(net: NpeNet) -> dict[str, Tensor]:
    """The net's state dict with float tensors as float16 (counters stay integers)."""
    return {
        k: (v.half() if v.is_floating_point() else v).cpu() for k, v in net.state_dict().items()
    }


_HELP = {
    "size": "image side (4·2^n: 64, 128)",
    "zdim": "latent size",
    "width": "channels of the first conv",
    "kl": "weight of the KL term",
    "fm": "weight of feature matching",
    "adv": "weight of the adversarial terms",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m backend train npe``."""
    parser.add_argument("--images", required=True, help="folder of face photos or face crops")
    parser.add_argument("--name", required=True, help="model name in the models folder")
    parser.add_argument(
        "--align", action="store_true", help="find and align each face (mtcnn weights needed)"
    )
    parser.add_argument("--run-dir", help="run folder (default: DATA_HOME/runs/npe/NAME)")
    parser.add_argument("--models-dir", help="models folder (default: $NLF_MODELS_DIR)")
    parser.add_argument("--weights-dir", help="weights folder (for --align)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    parser.add_argument("--half", help="also write the model as float16 to this file")
    d = NpeOptions()
    for fld in fields(NpeOptions):
        flag = "--" + fld.name.replace("_", "-")
        parser.add_argument(
            flag,
            type=type(getattr(d, fld.name)),
            default=getattr(d, fld.name),
            help=f"{_HELP.get(fld.name, fld.name.replace('_', ' '))} (default %(default)s)",
        )


def run(args: argparse.Namespace) -> int:
    """Train, then import the result as an ``npe`` model; return 0 or 2."""
    from backend.assets.models import ModelError
    from backend.device import pick_device
    from backend.dirs import weights_dir

    opts = NpeOptions(**{f.name: getattr(args, f.name) for f in fields(NpeOptions)})
    started = start_run(args, "npe")
    if started is None:
        return 2
    run_dir, store = started
    try:
        opts.config()
        device = pick_device(args.device)
        if args.align:
            images = aligned_folder(args.images, opts.size, weights_dir(args.weights_dir))
        else:
            images, _, _ = load_folder(args.images, opts.size)
    except (ValueError, FileNotFoundError, NlfError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run_dir.mkdir(parents=True, exist_ok=True)
    log.info("%d images, device %s, run folder %s", len(images), device, run_dir)
    try:
        net, history = train(images, opts, run_dir, args.resume, device, ProgressBar())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    last = history[-1] if history else {}
    meta = {
        "trainer": "backend.training.npe",
        "images": str(Path(args.images).resolve()),
        "count": len(images),
        "aligned": bool(args.align),
        "options": asdict(opts),
        "final_losses": {k: round(v, 5) for k, v in last.items() if math.isfinite(v)},
    }
    if args.half:
        save_atomic(half_state(net), Path(args.half))
    try:
        store.import_model(run_dir / MODEL, args.name, "npe", meta=meta, replace=args.resume)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"model '{args.name}' installed in {store.root} (run folder {run_dir})")
    return 0
