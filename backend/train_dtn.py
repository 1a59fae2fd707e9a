"""Train a DTN: ``python -m backend train dtn --source DIR --target DIR --name NAME``.

G = g∘f (Taigman et al., ICLR 2017; ``algorithms.md`` §6). f is fixed and pretrained: given with
``--encoder`` or pretrained here by :func:`pretrain_classifier` as a classifier on the source
folder (one sub-folder per class; a folder without class sub-folders trains f on a 4-way rotation
pretext).
Only g is trained, against a ternary D, with

    L_D = CE(D(G(s)), FAKE_SOURCE) + CE(D(G(t)), FAKE_TARGET) + CE(D(t), REAL_TARGET)
          (+ r1/2 · ‖∇ₜ log D_real(t)‖², the R1 penalty of Mescheder et al. 2018, with ``--r1``)
    L_G = L_GANG + α·L_CONST + β·L_TID + γ·L_TV
    L_GANG = CE(D(G(s)), REAL_TARGET) + CE(D(G(t)), REAL_TARGET)
    L_CONST = MSE(f(G(s)), f(s)),  L_TID = MSE(G(t), t)

(digits defaults α = β = 15, γ = 0; Adam 2e-4, β1 0.5). With ``--constancy class`` (an f
pretrained as a classifier) L_CONST compares f's class posteriors instead of its codes:
CE(h(f(G(s))), softmax(h(f(s)))) with h the frozen head f was pretrained with, so G must keep
what the source image shows but may redraw its style (docs/quality-dtn.md).

With ``--ema D`` the model saved is an exponential moving average (decay D) of g's weights from
step ``--ema-start`` on, with BatchNorm statistics measured afresh for the averaged weights
(Yazıcı et al., ICLR 2019: averaging smooths the late swings of GAN training).

The run folder holds ``f.pth`` (f, and the head it was pretrained with),
``checkpoint.pth`` (every ``--checkpoint-every`` steps; ``--resume`` continues from it),
``samples/step_NNNNNN.png`` (rows: source, G(source), target, G(target)) and ``model.pth``, which
is imported into the models folder as kind ``dtn`` at the end.
"""

from __future__ import annotations

import argparse
import copy
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from backend.nets.dtn import (
    FAKE_SOURCE,
    FAKE_TARGET,
    REAL_TARGET,
    Classifier,
    Discriminator,
    DomainTransfer,
    DtnConfig,
    Encoder,
    Generator,
    build,
    diff_augment,
    init_weights,
    tv_loss,
)

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
CHECKPOINT, ENCODER, MODEL = "checkpoint.pth", "f.pth", "model.pth"
CONSTANCY = ("code", "class")
"""What L_CONST compares: f's codes (the paper) or the class posteriors of f's pretraining head."""

Progress = Callable[[str, int, int, Mapping[str, float]], None]
"""``progress(stage, step, total, losses)``, called after every training step."""


@dataclass(frozen=True)
class DtnOptions:
    """Everything a DTN run depends on (saved in its checkpoint)."""

    size: int = 32
    width: float = 1.0
    code_dim: int = 128
    batch: int = 64
    iterations: int = 2000
    lr: float = 2e-4
    beta1: float = 0.5
    alpha: float = 15.0
    beta: float = 15.0
    gamma: float = 0.0
    g_steps: int = 1
    r1: float = 0.0
    ema: float = 0.0
    ema_start: int = 1000
    diff_augment: bool = False
    constancy: str = "code"
    f_iterations: int = 1000
    f_lr: float = 1e-3
    checkpoint_every: int = 250
    sample_every: int = 250
    seed: int = 0

    def __post_init__(self) -> None:
        if self.constancy not in CONSTANCY:
            raise ValueError(
                f"constancy must be one of {', '.join(CONSTANCY)}, not {self.constancy!r}"
            )

    def config(self, classes: int = 10) -> DtnConfig:
        return DtnConfig(self.size, self.code_dim, self.width, classes)


# data ---------------------------------------------------------------------------------------


def _square(img: Image.Image, size: int) -> Image.Image:
    """Centre-crop to a square and resize to ``size``."""
    w, h = img.size
    s = min(w, h)
    img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    return img.resize((size, size), Image.Resampling.BICUBIC if s < size else Image.Resampling.BOX)


def load_folder(folder: str | Path, size: int) -> tuple[Tensor, Tensor | None, list[str]]:
    """All images under ``folder`` as uint8 (N, 3, size, size), plus labels and class names.

    Labels come from first-level sub-folders when there are at least two with images; otherwise
    they are None. Raises ValueError when the folder holds no image.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"'{root}' is not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under '{root}'")
    classes = sorted({p.relative_to(root).parts[0] for p in files if p.parent != root})
    labelled = len(classes) >= 2 and all(p.parent != root for p in files)
    images = np.empty((len(files), size, size, 3), np.uint8)
    for i, path in enumerate(files):
        with Image.open(path) as img:
            images[i] = np.asarray(_square(img.convert("RGB"), size))
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    if not labelled:
        return x, None, []
    index = {c: i for i, c in enumerate(classes)}
    labels = torch.tensor([index[p.relative_to(root).parts[0]] for p in files])
    return x, labels, classes


def _batch(images: Tensor, idx: Tensor, device: torch.device) -> Tensor:
    """uint8 images at ``idx`` → float in [-1, 1] on ``device``."""
    return images[idx].to(device).float().div_(127.5).sub_(1.0)


# f ------------------------------------------------------------------------------------------


def pretrain_classifier(
    images: Tensor,
    labels: Tensor | None,
    opts: DtnOptions,
    device: torch.device | None = None,
    progress: Progress | None = None,
) -> tuple[Classifier, float]:
    """Train f as a classifier of the (uint8) source ``images``; return (frozen f + head, accuracy).

    f is ``.encoder`` of the result, its head ``.head``. With ``labels`` None, f learns to tell
    the rotation (0/90/180/270°) of each image instead. The accuracy is measured on a held-out
    tenth (on the training data when there are < 20).
    """
    device = device or torch.device("cpu")
    gen = torch.Generator().manual_seed(opts.seed)
    torch.manual_seed(opts.seed)
    n = images.shape[0]
    perm = torch.randperm(n, generator=gen)
    n_val = n // 10 if n >= 20 else 0
    val, train = (perm[:n_val], perm[n_val:]) if n_val else (perm, perm)
    classes = int(labels.max()) + 1 if labels is not None else 4
    cfg = opts.config(max(2, classes))
    model = Classifier(Encoder(cfg)).to(device)
    init_weights(model)
    optim = torch.optim.Adam(model.parameters(), lr=opts.f_lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, max(1, opts.f_iterations))

    def inputs(idx: Tensor) -> tuple[Tensor, Tensor]:
        x = _batch(images, idx, device)
        if labels is not None:
            return x, labels[idx].to(device)
        k = torch.randint(0, 4, (len(idx),), generator=gen)
        x = torch.stack([torch.rot90(xi, int(ki), (1, 2)) for xi, ki in zip(x, k, strict=True)])
        return x, k.to(device)

    model.train()
    for step in range(1, opts.f_iterations + 1):
        idx = train[torch.randint(0, len(train), (opts.batch,), generator=gen)]
        x, y = inputs(idx)
        loss = F.cross_entropy(model(x), y)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        sched.step()
        if progress is not None:
            progress("f", step, opts.f_iterations, {"ce": loss.item()})
    model.eval()
    correct = 0
    with torch.no_grad():
        for chunk in val.split(512):
            x, y = inputs(chunk)
            correct += int((model(x).argmax(1) == y).sum())
    return model.eval().requires_grad_(False), correct / max(1, len(val))


# g and D ------------------------------------------------------------------------------------


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """R1 (Mescheder et al., ICML 2018): mean ‖∇ₓ log D_real(x)‖² over the real targets ``real``.

    Penalising the slope of D's "real" score around the real images keeps D from sharpening
    without bound, which is what makes the adversarial game swing (``real`` must require grad).
    """
    score = real_logits.log_softmax(1)[:, REAL_TARGET].sum()
    (grad,) = torch.autograd.grad(score, real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


class DtnTrainer:
    """One DTN training run's nets and optimisers; :meth:`step` does one D and one g update."""

    def __init__(
        self, f: Encoder, opts: DtnOptions, device: torch.device, head: nn.Linear | None = None
    ) -> None:
        if opts.constancy == "class" and head is None:
            raise ValueError(
                "class constancy needs the head f was pretrained with: let train dtn pretrain f "
                "on a source folder with one sub-folder per class, or use --constancy code"
            )
        self.opts = opts
        self.head = head.to(device).eval().requires_grad_(False) if head is not None else None
        self.device = device
        self.cfg = f.cfg
        torch.manual_seed(opts.seed)
        _, g, d = build(self.cfg)
        self.f = f.to(device).eval().requires_grad_(False)
        self.g: Generator = g.to(device)
        self.d: Discriminator = d.to(device)
        betas = (opts.beta1, 0.999)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=opts.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=opts.lr, betas=betas)
        self.step_no = 0
        self.g_ema: Generator | None = None
        self.aug_gen = torch.Generator().manual_seed(opts.seed + 1)

    def _d(self, x: Tensor) -> Tensor:
        """D's logits, through DiffAugment when the options ask for it."""
        if self.opts.diff_augment:
            x = diff_augment(x, self.aug_gen)
        return self.d(x)

    def step(self, xs: Tensor, xt: Tensor) -> dict[str, float]:
        """One update on a source batch ``xs`` and a target batch ``xt`` (both in [-1, 1])."""
        o = self.opts
        self.g.train()
        self.d.train()
        with torch.no_grad():
            zs, zt = self.f(xs), self.f(xt)
        n_s, n_t = xs.shape[0], xt.shape[0]
        fake = self.g(torch.cat([zs, zt]))

        def labels(n: int, c: int) -> Tensor:
            return torch.full((n,), c, dtype=torch.long, device=self.device)

        real = xt.detach().requires_grad_(True) if o.r1 else xt
        logits = self._d(torch.cat([fake.detach(), real]))
        target = torch.cat(
            [labels(n_s, FAKE_SOURCE), labels(n_t, FAKE_TARGET), labels(n_t, REAL_TARGET)]
        )
        loss_d = F.cross_entropy(logits, target) * 3
        out: dict[str, float] = {"d": loss_d.item()}
        if o.r1:
            penalty = r1_penalty(logits[n_s + n_t :], real)
            loss_d = loss_d + o.r1 / 2 * penalty
            out["r1"] = penalty.item()
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        for i in range(o.g_steps):
            if i:
                fake = self.g(torch.cat([zs, zt]))
            fake_s, fake_t = fake[:n_s], fake[n_s:]
            # D sees the same mix of fakes and real targets as in its own step: its BatchNorm
            # normalises with batch statistics, and on a batch of fakes alone those statistics
            # differ enough that D calls nearly every fake real, which leaves g no GAN signal.
            logits = self._d(torch.cat([fake, xt]))[: n_s + n_t]
            gan = F.cross_entropy(logits, labels(n_s + n_t, REAL_TARGET)) * 2
            const = self._constancy(self.f(fake_s), zs)
            tid = F.mse_loss(fake_t, xt)
            loss_g = gan + o.alpha * const + o.beta * tid
            if o.gamma:
                tv = tv_loss(torch.cat([fake_s, fake_t]))
                loss_g = loss_g + o.gamma * tv
                out["tv"] = tv.item()
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
        out.update(gang=gan.item(), const=const.item(), tid=tid.item(), g=loss_g.item())
        self.step_no += 1
        self._track_average()
        return out

    @torch.no_grad()
    def _track_average(self) -> None:
        """Fold g's weights into the moving average (from step ``ema_start`` on, if ``ema``)."""
        o = self.opts
        if not o.ema or self.step_no < o.ema_start:
            return
        if self.g_ema is None:
            self.g_ema = copy.deepcopy(self.g).requires_grad_(False)
            return
        for avg, live in zip(self.g_ema.parameters(), self.g.parameters(), strict=True):
            avg.lerp_(live, 1 - o.ema)

    @torch.no_grad()
    def averaged_g(self, source: Tensor, target: Tensor, batches: int = 100) -> Generator:
        """The weight-averaged g with BatchNorm statistics measured afresh for those weights.

        The running statistics of the live g belong to the live weights, so they are recomputed
        (a plain mean over ``batches`` mixed source + target batches of uint8 images, as in
        training). Returns a copy in eval mode; the trainer keeps training the live g.
        """
        if self.g_ema is None:
            raise ValueError("no weight average yet: set ema and train past ema_start")
        g = copy.deepcopy(self.g_ema)
        gen = torch.Generator().manual_seed(self.opts.seed + 2)
        n = self.opts.batch

        def codes() -> Iterator[Tensor]:
            for _ in range(batches):
                xs = _batch(source, torch.randint(0, len(source), (n,), generator=gen), self.device)
                xt = _batch(target, torch.randint(0, len(target), (n,), generator=gen), self.device)
                yield torch.cat([self.f(xs), self.f(xt)])

        torch.optim.swa_utils.update_bn(codes(), g)  # cumulative mean, momenta restored
        return g.eval()

    def _constancy(self, z_fake: Tensor, z_source: Tensor) -> Tensor:
        """L_CONST between f(G(s)) and f(s): code MSE, or CE to the source's class posterior."""
        if self.head is None or self.opts.constancy == "code":
            return F.mse_loss(z_fake, z_source)
        with torch.no_grad():
            want = self.head(z_source.flatten(1)).softmax(1)
        return -(want * self.head(z_fake.flatten(1)).log_softmax(1)).sum(1).mean()

    @torch.no_grad()
    def translate(self, x: Tensor) -> Tensor:
        """G(x) for images in [-1, 1] (eval mode), in [-1, 1]."""
        self.g.eval()
        return self.g(self.f(x))

    def transfer(self, g: Generator | None = None) -> DomainTransfer:
        """G = g∘f (the live g, or ``g``) as a CPU :class:`DomainTransfer` in eval mode."""
        net = DomainTransfer(self.cfg)
        net.f.load_state_dict(self.f.state_dict())
        net.g.load_state_dict((g or self.g).state_dict())
        return net.eval()

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": "nlf-dtn-checkpoint",
            "step": self.step_no,
            "options": asdict(self.opts),
            "config": self.cfg.to_dict(),
            "f": self.f.state_dict(),
            "g": self.g.state_dict(),
            "d": self.d.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            **({"g_ema": self.g_ema.state_dict()} if self.g_ema is not None else {}),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.f.load_state_dict(state["f"])
        self.g.load_state_dict(state["g"])
        self.d.load_state_dict(state["d"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.step_no = int(state["step"])
        if "g_ema" in state:
            self.g_ema = copy.deepcopy(self.g).requires_grad_(False)
            self.g_ema.load_state_dict(state["g_ema"])


def save_encoder(f: Encoder, path: Path, head: nn.Linear | None = None) -> None:
    """Save f as a flat state dict (``f.net.*``), with its pretraining head (``head.*``) if any."""
    state = {f"f.{k}": v for k, v in f.state_dict().items()}
    if head is not None:
        state.update({f"head.{k}": v for k, v in head.state_dict().items()})
    torch.save(state, path)


def load_head(path: str | Path) -> nn.Linear | None:
    """The pretraining head saved next to f by :func:`save_encoder` (None when there is none)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    weight, bias = state.get("head.weight"), state.get("head.bias")
    if not isinstance(weight, Tensor) or not isinstance(bias, Tensor) or weight.ndim != 2:
        return None
    head = nn.Linear(weight.shape[1], weight.shape[0])
    head.load_state_dict({"weight": weight, "bias": bias})
    return head.eval().requires_grad_(False)


def load_encoder(path: str | Path) -> Encoder:
    """Load an f saved by :func:`save_encoder` (or any DTN model file) with weights_only=True."""
    from backend.nets.dtn import infer_config

    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise ValueError(f"'{path}' is not a state dict")
    f_state = {k[2:]: v for k, v in state.items() if k.startswith("f.")}
    probe = {**{f"f.{k}": v for k, v in f_state.items()}, "g.net.0.weight": torch.zeros(1)}
    cfg = DtnConfig.from_dict(infer_config(probe))
    f = Encoder(cfg)
    f.load_state_dict(f_state, strict=True)
    return f.eval().requires_grad_(False)


def _save_atomic(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def sample_grid(trainer: DtnTrainer, xs: Tensor, xt: Tensor, path: Path) -> None:
    """Write rows source | G(source) | target | G(target) as one PNG."""
    from backend.digits import grid

    rows = [xs, trainer.translate(xs), xt, trainer.translate(xt)]
    images = torch.cat([(r.cpu() + 1) / 2 for r in rows])
    path.parent.mkdir(parents=True, exist_ok=True)
    grid(images, xs.shape[0]).save(path)


def train(
    source: Tensor,
    target: Tensor,
    f: Encoder,
    opts: DtnOptions,
    run_dir: Path | None = None,
    resume: bool = False,
    device: torch.device | None = None,
    progress: Progress | None = None,
    head: nn.Linear | None = None,
) -> tuple[DomainTransfer, list[dict[str, float]]]:
    """Train g (and D) on uint8 ``source`` / ``target`` images; return (G, per-step losses).

    With ``run_dir`` it writes checkpoints, sample grids and ``model.pth`` there; ``resume``
    continues from its checkpoint up to ``opts.iterations`` steps. ``head`` is f's pretraining
    head, needed for ``opts.constancy == "class"``.
    """
    device = device or torch.device("cpu")
    trainer = DtnTrainer(f, opts, device, head)
    ckpt = run_dir / CHECKPOINT if run_dir is not None else None
    if resume and ckpt is not None and ckpt.is_file():
        trainer.load_state_dict(torch.load(ckpt, map_location=device, weights_only=True))
        log.info("resuming %s at step %d", run_dir, trainer.step_no)
    gen = torch.Generator().manual_seed(opts.seed + trainer.step_no)
    show = torch.arange(min(8, len(source))), torch.arange(min(8, len(target)))
    history: list[dict[str, float]] = []
    while trainer.step_no < opts.iterations:
        i_s = torch.randint(0, len(source), (opts.batch,), generator=gen)
        i_t = torch.randint(0, len(target), (opts.batch,), generator=gen)
        losses = trainer.step(_batch(source, i_s, device), _batch(target, i_t, device))
        history.append(losses)
        step = trainer.step_no
        if progress is not None:
            progress("g", step, opts.iterations, losses)
        if run_dir is not None and (step % opts.sample_every == 0 or step == opts.iterations):
            xs, xt = _batch(source, show[0], device), _batch(target, show[1], device)
            sample_grid(trainer, xs, xt, run_dir / "samples" / f"step_{step:06d}.png")
        if ckpt is not None and (step % opts.checkpoint_every == 0 or step == opts.iterations):
            _save_atomic(trainer.state_dict(), ckpt)
    averaged = trainer.averaged_g(source, target) if trainer.g_ema is not None else None
    net = trainer.transfer(averaged)
    if run_dir is not None:
        _save_atomic(net.state_dict(), run_dir / MODEL)
    return net, history


# CLI ----------------------------------------------------------------------------------------


class ProgressBar:
    """A one-line text progress bar with the latest losses (written to a stream)."""

    def __init__(self, stream: Any = None, width: int = 24) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.start = time.monotonic()
        self.stage = ""

    def __call__(self, stage: str, step: int, total: int, losses: Mapping[str, float]) -> None:
        if stage != self.stage:
            self.stage, self.start = stage, time.monotonic()
        if step % max(1, total // 200) and step != total:
            return
        done = round(self.width * step / max(1, total))
        elapsed = time.monotonic() - self.start
        eta = elapsed / max(1, step) * (total - step)
        text = " ".join(f"{k} {v:.3f}" for k, v in losses.items())
        bar = "#" * done + "." * (self.width - done)
        line = f"\r{stage} [{bar}] {step}/{total} {text} eta {eta:4.0f}s"
        self.stream.write(line)
        if step == total:
            self.stream.write("\n")
        self.stream.flush()


def _has(parser: argparse.ArgumentParser, option: str) -> bool:
    return option in parser._option_string_actions


def add_dtn_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m backend train dtn``."""
    d = DtnOptions()
    parser.add_argument("--source", required=True, help="folder of source-domain images")
    parser.add_argument("--target", required=True, help="folder of target-domain images")
    parser.add_argument("--name", required=True, help="model name in the models folder")
    parser.add_argument(
        "--encoder", help="a pretrained f (f.pth of an earlier run); default: pretrain f here"
    )
    parser.add_argument("--run-dir", help="run folder (default: DATA_HOME/runs/dtn/NAME)")
    if not _has(parser, "--models-dir"):
        parser.add_argument("--models-dir", help="models folder (default: $NLF_MODELS_DIR)")
    if not _has(parser, "--resume"):
        parser.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    if not _has(parser, "--device"):
        parser.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    choices = {"constancy": CONSTANCY}
    helps = {
        "size": "image side (power of two >= 32)",
        "width": "channel multiplier of f, g and D (1 = the paper's digit nets)",
        "iterations": "g/D training steps",
        "alpha": "weight of L_CONST (f-constancy)",
        "beta": "weight of L_TID (identity on the target)",
        "gamma": "weight of total variation",
        "g_steps": "g updates per D update",
        "r1": "weight γ of D's R1 penalty on real targets (0: off; steadies training)",
        "ema": "decay of a moving average of g's weights, saved as the model (0: the last g)",
        "ema_start": "step from which g's weights are averaged (with --ema)",
        "diff_augment": "show D randomly shifted and cut-out views (helps small target sets)",
        "f_iterations": "steps of f pretraining (when no --encoder is given)",
        "constancy": "L_CONST on f's codes (the paper) or its class posteriors (labelled source)",
    }
    for fld in fields(DtnOptions):
        flag = "--" + fld.name.replace("_", "-")
        if _has(parser, flag):
            continue
        if isinstance(getattr(d, fld.name), bool):
            parser.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=getattr(d, fld.name),
                help=helps.get(fld.name, fld.name.replace("_", " ")),
            )
            continue
        parser.add_argument(
            flag,
            choices=choices.get(fld.name),
            type=type(getattr(d, fld.name)),
            default=getattr(d, fld.name),
            help=f"{helps.get(fld.name, fld.name.replace('_', ' '))} (default %(default)s)",
        )


def options_from_args(args: argparse.Namespace) -> DtnOptions:
    return DtnOptions(**{f.name: getattr(args, f.name) for f in fields(DtnOptions)})


def run_dtn(args: argparse.Namespace) -> int:
    """Pretrain f if needed, train g, import the result as a ``dtn`` model; return 0 or 2."""
    from backend.device import pick_device
    from backend.dirs import data_home, models_dir
    from backend.models import ModelError, ModelStore

    opts = options_from_args(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    run_dir = Path(args.run_dir) if args.run_dir else data_home() / "runs" / "dtn" / args.name
    store = ModelStore(models_dir(getattr(args, "models_dir", None)))
    if not args.resume and args.name in [e.name for e in store.entries()]:
        print(f"error: a model named '{args.name}' exists already", file=sys.stderr)
        return 2
    if not args.resume and (run_dir / CHECKPOINT).is_file():
        print(
            f"error: {run_dir} holds a checkpoint; add --resume or choose --run-dir",
            file=sys.stderr,
        )
        return 2
    try:
        opts.config()
        device = pick_device(args.device)
        source, source_labels, classes = load_folder(args.source, opts.size)
        target, _, _ = load_folder(args.target, opts.size)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run_dir.mkdir(parents=True, exist_ok=True)
    log.info(
        "source %d images (%s), target %d images, device %s",
        len(source),
        f"{len(classes)} classes" if classes else "no classes",
        len(target),
        device,
    )
    bar = ProgressBar()
    head: nn.Linear | None = None
    if args.encoder or (args.resume and (run_dir / ENCODER).is_file()):
        f = load_encoder(args.encoder or run_dir / ENCODER)
        head = load_head(args.encoder or run_dir / ENCODER)
        if f.cfg.size != opts.size:
            print(f"error: the encoder is for {f.cfg.size}px, not {opts.size}", file=sys.stderr)
            return 2
    else:
        if opts.constancy == "class" and source_labels is None:
            print(
                "error: --constancy class needs a labelled source (one sub-folder per class)",
                file=sys.stderr,
            )
            return 2
        model, acc = pretrain_classifier(source, source_labels, opts, device, bar)
        f, head = model.encoder, model.head if source_labels is not None else None
        what = "classification" if source_labels is not None else "rotation"
        log.info("f pretrained: %s accuracy %.1f%% on held-out source", what, 100 * acc)
        save_encoder(f, run_dir / ENCODER, head)
    try:
        _, history = train(source, target, f, opts, run_dir, args.resume, device, bar, head)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    last = history[-1] if history else {}
    meta = {
        "trainer": "backend.train_dtn",
        "source": str(Path(args.source).resolve()),
        "target": str(Path(args.target).resolve()),
        "options": asdict(opts),
        "final_losses": {k: round(v, 5) for k, v in last.items() if math.isfinite(v)},
    }
    try:
        store.import_model(run_dir / MODEL, args.name, "dtn", meta=meta, replace=args.resume)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"model '{args.name}' installed in {store.root} (run folder {run_dir})")
    return 0
