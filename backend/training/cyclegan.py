"""Train a CycleGAN on two folders of images (Zhu et al. 2017, the paper's defaults).

LSGAN losses, L1 cycle loss λ = 10, identity loss 0.5·λ, D loss halved, a 50-image history pool,
Adam 2e-4 / β1 0.5, constant learning rate for the first half of the epochs then linear decay to
zero, resize to 286/256 of the crop size, random crop and flip (``algorithms.md`` §5).

A run folder holds ``checkpoint.pth`` (everything needed to resume), ``latest_net_G_A.pth`` /
``latest_net_G_B.pth`` (the official file names) and ``samples/*.png`` grids (rows: A, G_A(A),
G_B(G_A(A)), B, G_B(B), G_A(G_B(B))). At the end the pair is imported into the models folder.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from backend.algorithms.nets.discriminator import (
    ClassAwareDiscriminator,
    NLayerDiscriminator,
    init_weights,
)
from backend.algorithms.nets.resnet_generator import ResnetGenerator
from backend.algorithms.nets.unet_generator import UnetGenerator
from backend.assets.models import ModelStore
from backend.dirs import data_home
from backend.errors import NlfError
from backend.training.cyclegan_data import (
    IMAGE_SUFFIXES,
    Domain,
    ImagePool,
    face_mask_maker,
    image_files,
    label_tensor,
    read_labels,
)
from backend.training.cyclegan_losses import (
    class_loss,
    keep_factor,
    keep_loss,
    lr_factor,
    mse_to,
)

__all__ = ["IMAGE_SUFFIXES", "CycleGanConfig", "CycleGanTrainer", "Domain", "ImagePool"]
__all__ += ["class_loss", "image_files", "keep_factor", "keep_loss", "lr_factor"]

log = logging.getLogger(__name__)


@dataclass
class CycleGanConfig:
    """Options of one training run (defaults: the paper's)."""

    domain_a: str
    domain_b: str
    name: str
    size: int = 256
    epochs: int = 200
    batch_size: int = 1
    ngf: int = 64
    n_blocks: int = 9
    preprocess: str = "resize_and_crop"
    """upstream's: ``resize_and_crop`` (short side to 286/256 of the crop) or ``crop`` (as is)."""
    net_g: str = "resnet"
    """``resnet`` (``ngf``, ``n_blocks``) or upstream's ``unet_N`` (log2 N levels, InstanceNorm)."""
    ndf: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
    checkpoint_every: int = 500
    sample_every: int = 0
    """Iterations between sample grids; 0 = once per epoch."""
    seed: int = 0
    run_dir: str = ""
    models_dir: str | None = None
    device: str = ""
    keep_masks: str = ""
    """``DIR_A[,DIR_B]``: binary keep masks per image (same file stem, white = keep)."""
    keep: str = ""
    """``faces``: keep masks made by the face finder instead of read from folders."""
    keep_weight: float = 10.0
    """λ_keep of λ_keep·mean over the kept pixels of |G(x) − x|, per direction with masks."""
    keep_warmup: int = 0
    """λ_keep is 0 for this many generator updates, then ramps up over as many (keep_factor)."""
    labels_a: str = ""
    """``file,class`` CSV labelling any subset of domain A (class-aware discriminators)."""
    labels_b: str = ""
    class_weight: float = 1.0
    """Weight of the auxiliary classification losses (D on real images, G on its outputs)."""
    extra: dict[str, Any] = field(default_factory=dict)


class ProgressBar:
    """One self-rewriting stderr line: ``epoch 3/200 [#####.....] 12.3 it/s D_A 0.21 ...``."""

    def __init__(self, total: int, stream: Any = None) -> None:
        self.total = max(1, total)
        self.stream = stream or sys.stderr
        self.start = time.monotonic()

    def update(self, done: int, prefix: str, losses: dict[str, float]) -> None:
        frac = min(1.0, done / self.total)
        bar = "#" * round(20 * frac) + "." * (20 - round(20 * frac))
        rate = done / max(1e-9, time.monotonic() - self.start)
        text = " ".join(f"{k} {v:.3f}" for k, v in losses.items())
        self.stream.write(f"\r{prefix} [{bar}] {done}/{self.total} {rate:.1f} it/s {text}  ")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def _split(pair: str) -> tuple[str, str]:
    a, _, b = pair.partition(",")
    return a.strip(), b.strip()


def make_generator(cfg: CycleGanConfig) -> ResnetGenerator | UnetGenerator:
    """The generator ``cfg.net_g`` names; ValueError for a name or crop size that cannot work."""
    if cfg.net_g == "resnet":
        return ResnetGenerator(ngf=cfg.ngf, n_blocks=cfg.n_blocks)
    side = cfg.net_g.removeprefix("unet_")
    if not (side.isdigit() and int(side) >= 32 and int(side) & (int(side) - 1) == 0):
        raise ValueError(f"--netG {cfg.net_g!r}: expected resnet or unet_N (N = 32, 64, 128, ...)")
    if cfg.size % int(side):
        raise ValueError(f"--netG {cfg.net_g} needs a --size that is a multiple of {side}")
    return UnetGenerator(num_downs=int(side).bit_length() - 1, ngf=cfg.ngf, norm="instance")


class CycleGanTrainer:
    """Networks, optimisers and one training step; ``fit`` runs the epochs with checkpoints."""

    def __init__(self, cfg: CycleGanConfig, device: torch.device | None = None) -> None:
        self.cfg = cfg
        self.device = device or torch.device(
            cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")
        )
        torch.manual_seed(cfg.seed)
        self.rng = random.Random(cfg.seed)
        if cfg.keep and cfg.keep != "faces":
            raise ValueError(f"--keep {cfg.keep!r}: the only computed masks are 'faces'")
        if cfg.keep and cfg.keep_masks:
            raise ValueError("give --keep-masks or --keep, not both")
        maker = None
        if cfg.keep == "faces":
            maker = face_mask_maker(cfg.extra.get("weights_dir"), cfg.extra.get("face_finder"))
        masks_a, masks_b = _split(cfg.keep_masks)
        resize = cfg.preprocess == "resize_and_crop"
        if not resize and cfg.preprocess != "crop":
            raise ValueError(f"--preprocess {cfg.preprocess!r}: resize_and_crop or crop")
        self.a = Domain(cfg.domain_a, cfg.size, masks_a or None, maker, resize)
        self.b = Domain(cfg.domain_b, cfg.size, masks_b or None, maker, resize)
        labels_a = read_labels(cfg.labels_a, self.a.files) if cfg.labels_a else {}
        labels_b = read_labels(cfg.labels_b, self.b.files) if cfg.labels_b else {}
        self.classes = sorted({*labels_a.values(), *labels_b.values()})
        if len(self.classes) == 1:
            raise ValueError(f"the labels name one class ({self.classes[0]}); give at least two")
        self.labels_a = label_tensor(labels_a, self.classes, len(self.a))
        self.labels_b = label_tensor(labels_b, self.classes, len(self.b))
        self.run_dir = Path(cfg.run_dir or data_home() / "runs" / cfg.name)
        self.g_a = init_weights(make_generator(cfg)).to(self.device)  # A -> B
        self.g_b = init_weights(make_generator(cfg)).to(self.device)  # B -> A
        self.d_a = init_weights(self._discriminator()).to(self.device)  # judges B
        self.d_b = init_weights(self._discriminator()).to(self.device)  # judges A
        betas = (cfg.beta1, 0.999)
        g_params = [*self.g_a.parameters(), *self.g_b.parameters()]
        d_params = [*self.d_a.parameters(), *self.d_b.parameters()]
        self.opt_g = torch.optim.Adam(g_params, lr=cfg.lr, betas=betas)
        self.opt_d = torch.optim.Adam(d_params, lr=cfg.lr, betas=betas)
        self.pool_a = ImagePool(cfg.pool_size, self.rng)
        self.pool_b = ImagePool(cfg.pool_size, self.rng)
        self.epoch, self.iteration, self.step_count = 0, 0, 0
        self.history: list[dict[str, float]] = []

    def _discriminator(self) -> NLayerDiscriminator:
        if self.classes:
            return ClassAwareDiscriminator(len(self.classes), ndf=self.cfg.ndf)
        return NLayerDiscriminator(ndf=self.cfg.ndf)

    def _judge(self, d: NLayerDiscriminator, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """(patch scores, class logits or None)."""
        if isinstance(d, ClassAwareDiscriminator):
            return d.both(x)
        return d(x), None

    @property
    def iters_per_epoch(self) -> int:
        return math.ceil(max(len(self.a), len(self.b)) / self.cfg.batch_size)

    def _batch(self, epoch: int, it: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(A crops, B crops, A labels, B labels); crops carry their mask as a 4th channel."""
        order = list(range(len(self.a)))
        random.Random(self.cfg.seed * 100003 + epoch).shuffle(order)
        bs = self.cfg.batch_size
        ia = [order[(it * bs + k) % len(order)] for k in range(bs)]
        ib = [self.rng.randrange(len(self.b)) for _ in range(bs)]
        return (
            self.a.sample(ia, self.rng).to(self.device),
            self.b.sample(ib, self.rng).to(self.device),
            self.labels_a[ia].to(self.device),
            self.labels_b[ib].to(self.device),
        )

    def step(
        self,
        real_a: Tensor,
        real_b: Tensor,
        label_a: Tensor | None = None,
        label_b: Tensor | None = None,
    ) -> dict[str, float]:
        """One generator update then one discriminator update; returns the losses.

        ``real_a`` / ``real_b`` may carry a keep mask as a 4th channel; ``label_a`` / ``label_b``
        hold class indices (-1: unlabelled) when the discriminators are class-aware.
        """
        c = self.cfg
        lam, idt = c.lambda_cycle, c.lambda_cycle * c.lambda_identity
        mask_a = real_a[:, 3:] if real_a.shape[1] == 4 else None
        mask_b = real_b[:, 3:] if real_b.shape[1] == 4 else None
        real_a, real_b = real_a[:, :3], real_b[:, :3]
        no_label = torch.full((real_a.shape[0],), -1, dtype=torch.long, device=real_a.device)
        label_a = no_label if label_a is None else label_a
        label_b = no_label[: real_b.shape[0]] if label_b is None else label_b
        self.d_a.requires_grad_(False)
        self.d_b.requires_grad_(False)
        fake_b, fake_a = self.g_a(real_a), self.g_b(real_b)
        rec_a, rec_b = self.g_b(fake_b), self.g_a(fake_a)
        (score_fb, cls_fb), (score_fa, cls_fa) = (
            self._judge(self.d_a, fake_b),
            self._judge(self.d_b, fake_a),
        )
        losses = {
            "G_A": mse_to(score_fb, 1.0),
            "G_B": mse_to(score_fa, 1.0),
            "cyc_A": F.l1_loss(rec_a, real_a) * lam,
            "cyc_B": F.l1_loss(rec_b, real_b) * lam,
        }
        if idt > 0:
            losses["idt_A"] = F.l1_loss(self.g_a(real_b), real_b) * idt
            losses["idt_B"] = F.l1_loss(self.g_b(real_a), real_a) * idt
        keep_w = c.keep_weight * keep_factor(self.step_count, c.keep_warmup)
        if mask_a is not None and keep_w > 0:
            losses["keep_A"] = keep_loss(fake_b, real_a, mask_a) * keep_w
        if mask_b is not None and keep_w > 0:
            losses["keep_B"] = keep_loss(fake_a, real_b, mask_b) * keep_w
        for key, logits, labels in (("cls_G_A", cls_fb, label_a), ("cls_G_B", cls_fa, label_b)):
            loss = class_loss(logits, labels) if logits is not None else None
            if loss is not None:
                losses[key] = loss * c.class_weight
        self.opt_g.zero_grad(set_to_none=True)
        sum(losses.values()).backward()  # type: ignore[union-attr]
        self.opt_g.step()

        self.d_a.requires_grad_(True)
        self.d_b.requires_grad_(True)
        old_b, old_a = self.pool_b.query(fake_b), self.pool_a.query(fake_a)
        (score_rb, cls_rb), (score_ra, cls_ra) = (
            self._judge(self.d_a, real_b),
            self._judge(self.d_b, real_a),
        )
        d_a = 0.5 * (mse_to(score_rb, 1.0) + mse_to(self._judge(self.d_a, old_b)[0], 0.0))
        d_b = 0.5 * (mse_to(score_ra, 1.0) + mse_to(self._judge(self.d_b, old_a)[0], 0.0))
        d_total = d_a + d_b
        for key, logits, labels in (("cls_D_A", cls_rb, label_b), ("cls_D_B", cls_ra, label_a)):
            loss = class_loss(logits, labels) if logits is not None else None
            if loss is not None:
                losses[key] = loss * c.class_weight
                d_total = d_total + losses[key]
        self.opt_d.zero_grad(set_to_none=True)
        d_total.backward()
        self.opt_d.step()
        losses["D_A"], losses["D_B"] = d_a, d_b
        return {k: float(v.detach()) for k, v in losses.items()}

    # persistence --------------------------------------------------------------------------
    def save(self) -> Path:
        """Write checkpoint.pth (resumable) and the latest_net_G_A/B.pth generators."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "g_a": self.g_a.state_dict(),
            "g_b": self.g_b.state_dict(),
            "d_a": self.d_a.state_dict(),
            "d_b": self.d_b.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "epoch": self.epoch,
            "iteration": self.iteration,
            "step_count": self.step_count,
            "config": {k: v for k, v in asdict(self.cfg).items() if k != "extra"},
        }
        tmp = self.run_dir / "checkpoint.pth.tmp"
        torch.save(state, tmp)
        tmp.replace(self.run_dir / "checkpoint.pth")
        torch.save(self.g_a.state_dict(), self.run_dir / "latest_net_G_A.pth")
        torch.save(self.g_b.state_dict(), self.run_dir / "latest_net_G_B.pth")
        return self.run_dir / "checkpoint.pth"

    def resume(self) -> bool:
        """Load checkpoint.pth from the run folder if there is one (weights_only)."""
        path = self.run_dir / "checkpoint.pth"
        if not path.is_file():
            return False
        state = torch.load(path, map_location=self.device, weights_only=True)
        for key in ("g_a", "g_b", "d_a", "d_b"):
            getattr(self, key).load_state_dict(state[key])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.epoch, self.iteration = int(state["epoch"]), int(state["iteration"])
        self.step_count = int(state["step_count"])
        return True

    @torch.no_grad()
    def write_samples(self, tag: str, count: int = 4) -> Path:
        """A PNG grid: rows A, G_A(A), G_B(G_A(A)), B, G_B(B), G_A(G_B(B))."""
        from torchvision.utils import save_image

        fixed = random.Random(1)
        ia = [i % len(self.a) for i in range(count)]
        ib = [i % len(self.b) for i in range(count)]
        real_a = self.a.sample(ia, fixed, augment=False)[:, :3].to(self.device)
        real_b = self.b.sample(ib, fixed, augment=False)[:, :3].to(self.device)
        self.g_a.eval()
        self.g_b.eval()
        fake_b, fake_a = self.g_a(real_a), self.g_b(real_b)
        rows = [real_a, fake_b, self.g_b(fake_b), real_b, fake_a, self.g_a(fake_a)]
        self.g_a.train()
        self.g_b.train()
        path = self.run_dir / "samples" / f"{tag}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image((torch.cat(rows) + 1) / 2, path, nrow=count, padding=2)
        return path

    def set_lr(self) -> None:
        lr = self.cfg.lr * lr_factor(self.epoch, self.cfg.epochs)
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] = lr

    def fit(self, on_iteration: Callable[[int, dict[str, float]], None] | None = None) -> None:
        """Train from the current epoch / iteration to the end; checkpoints and samples."""
        cfg = self.cfg
        total = cfg.epochs * self.iters_per_epoch
        bar = ProgressBar(total)
        try:
            while self.epoch < cfg.epochs:
                self.set_lr()
                while self.iteration < self.iters_per_epoch:
                    losses = self.step(*self._batch(self.epoch, self.iteration))
                    self.history.append(losses)
                    self.iteration += 1
                    self.step_count += 1
                    shown = {k: v for k, v in losses.items() if not k.startswith("idt")}
                    bar.update(self.step_count, f"epoch {self.epoch + 1}/{cfg.epochs}", shown)
                    if on_iteration is not None:
                        on_iteration(self.step_count, losses)
                    if cfg.checkpoint_every and self.step_count % cfg.checkpoint_every == 0:
                        self.save()
                    if cfg.sample_every and self.step_count % cfg.sample_every == 0:
                        self.write_samples(f"step_{self.step_count:07d}")
                self.epoch += 1
                self.iteration = 0
                if not cfg.sample_every:
                    self.write_samples(f"epoch_{self.epoch:04d}")
                self.save()
        except KeyboardInterrupt:
            bar.close()
            self.save()
            log.warning("interrupted; continue with the same command plus --resume")
            raise
        bar.close()

    def publish(self) -> None:
        """Import latest_net_G_A/B.pth as the model pair ``name`` (a_to_b / b_to_a)."""
        meta: dict[str, Any] = {
            "trained": {k: v for k, v in asdict(self.cfg).items() if k != "extra"}
        }
        if self.classes:
            meta["classes"] = list(self.classes)
        ModelStore(self.cfg.models_dir).import_model(
            self.run_dir, self.cfg.name, "cyclegan", meta=meta, replace=True
        )


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``python -m backend train cyclegan``."""
    d = CycleGanConfig("", "", "")
    p.add_argument("--domain-a", required=True, help="folder of domain A images")
    p.add_argument("--domain-b", required=True, help="folder of domain B images")
    p.add_argument("--name", required=True, help="model name (listed by `models list`)")
    p.add_argument("--size", type=int, default=d.size, help="training crop side (px)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="half constant lr, half decay")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--ngf", type=int, default=d.ngf, help="generator width")
    p.add_argument("--n-blocks", type=int, default=d.n_blocks, help="residual blocks (9 or 6)")
    p.add_argument(
        "--netG",
        dest="net_g",
        default=d.net_g,
        help="generator: resnet (--ngf, --n-blocks) or unet_N (upstream's U-Net, log2 N levels)",
    )
    p.add_argument(
        "--preprocess",
        choices=("resize_and_crop", "crop"),
        default=d.preprocess,
        help="resize_and_crop: short side to 286/256 of --size, random crop (upstream's "
        "default); crop: random crop of the images as they are (no rescaling)",
    )
    p.add_argument("--ndf", type=int, default=d.ndf, help="discriminator width")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--lambda-cycle", type=float, default=d.lambda_cycle)
    p.add_argument("--lambda-identity", type=float, default=d.lambda_identity)
    p.add_argument("--pool-size", type=int, default=d.pool_size)
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every, help="iterations")
    p.add_argument("--sample-every", type=int, default=0, help="iterations (0: every epoch)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--run-dir", default="", help="default: <data folder>/runs/NAME")
    p.add_argument("--models-dir", help="where the result is imported")
    p.add_argument("--device", default="", help="cpu or cuda (default: cuda when present)")
    p.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
    p.add_argument(
        "--keep-masks",
        default="",
        metavar="DIR_A[,DIR_B]",
        help="folders of binary masks (same file stem as the images, white = keep): the "
        "generator leaving that domain is penalised for changing the kept pixels",
    )
    p.add_argument(
        "--keep",
        choices=("faces",),
        help="compute the keep masks instead: the faces the MTCNN face finder finds "
        "(python -m backend weights fetch mtcnn)",
    )
    p.add_argument("--keep-weight", type=float, default=d.keep_weight, help="λ_keep")
    p.add_argument(
        "--keep-warmup",
        type=int,
        default=d.keep_warmup,
        metavar="N",
        help="λ_keep is 0 for the first N updates (translate first), then rises linearly to "
        "--keep-weight over the next N",
    )
    p.add_argument("--labels-a", default="", help="CSV file,class labelling any subset of A")
    p.add_argument("--labels-b", default="", help="CSV file,class labelling any subset of B")
    p.add_argument(
        "--class-weight",
        type=float,
        default=d.class_weight,
        help="weight of the class losses (discriminators' auxiliary heads, generators' outputs)",
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``python -m backend train cyclegan``."""
    known = {f.name for f in fields(CycleGanConfig)} - {"keep", "extra"}
    given = {k: v for k, v in vars(args).items() if k in known}
    cfg = CycleGanConfig(**given, keep=args.keep or "")
    try:
        trainer = CycleGanTrainer(cfg)
    except (ValueError, OSError, NlfError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.resume:
        if trainer.resume():
            log.info("resuming at epoch %d, iteration %d", trainer.epoch + 1, trainer.iteration)
        else:
            log.info("no checkpoint in %s; starting afresh", trainer.run_dir)
    elif (trainer.run_dir / "checkpoint.pth").exists():
        print(f"error: {trainer.run_dir} has a checkpoint; add --resume", file=sys.stderr)
        return 2
    log.info(
        "training '%s' on %s (%d A, %d B images, %d it/epoch) into %s",
        cfg.name,
        trainer.device,
        len(trainer.a),
        len(trainer.b),
        trainer.iters_per_epoch,
        trainer.run_dir,
    )
    try:
        trainer.fit()
    except KeyboardInterrupt:
        return 130
    trainer.publish()
    print(f"model '{cfg.name}' imported; try: python -m backend models list")
    return 0
