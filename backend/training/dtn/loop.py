"""The training loop: steps, sample grids, checkpoints and resuming, then the final G."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import Tensor, nn

from backend.algorithms.nets.dtn import (
    DomainTransfer,
    Encoder,
)
from backend.training.dtn.checkpoints import CHECKPOINT, MODEL, save_atomic
from backend.training.dtn.data import as_batch
from backend.training.dtn.options import DtnOptions, Progress
from backend.training.dtn.trainer import DtnTrainer

log = logging.getLogger(__name__)


def sample_grid(trainer: DtnTrainer, xs: Tensor, xt: Tensor, path: Path) -> None:
    """Write rows source | G(source) | target | G(target) as one PNG."""
    from backend.training.digits import grid

    rows = [xs, trainer.translate(xs), xt, trainer.translate(xt)]
    images = torch.cat([(r[:, :3].cpu() + 1) / 2 for r in rows])
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
    target_smile: Tensor | None = None,
) -> tuple[DomainTransfer, list[dict[str, float]]]:
    """Train g (and D) on uint8 ``source`` / ``target`` images; return (G, per-step losses).

    With ``run_dir`` it writes checkpoints, sample grids and ``model.pth`` there; ``resume``
    continues from its checkpoint up to ``opts.iterations`` steps. ``head`` is f's pretraining
    head, needed for ``opts.constancy == "class"`` and ``opts.expression``; the latter also needs
    ``target_smile``, the targets' smile labels (1 / 0 / -1 neither), for the model's smile axis.
    """
    device = device or torch.device("cpu")
    if opts.expression and (head is None or target_smile is None or opts.f != "face"):
        raise ValueError(
            "--expression needs --f face and an emoji folder as the target (its smile labels); "
            "give --expression 0"
        )
    if opts.prototypes and (target_smile is None or opts.f != "face"):
        raise ValueError(
            "--prototypes needs --f face and an emoji folder as the target (its smile labels); "
            "give --prototypes 0"
        )
    trainer = DtnTrainer(f, opts, device, head)
    if opts.tone:
        trainer.fit_tone(source, target)
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
        losses = trainer.step(as_batch(source, i_s, device), as_batch(target, i_t, device))
        history.append(losses)
        step = trainer.step_no
        if progress is not None:
            progress("g", step, opts.iterations, losses)
        if run_dir is not None and (step % opts.sample_every == 0 or step == opts.iterations):
            xs, xt = as_batch(source, show[0], device), as_batch(target, show[1], device)
            sample_grid(trainer, xs, xt, run_dir / "samples" / f"step_{step:06d}.png")
        if ckpt is not None and (step % opts.checkpoint_every == 0 or step == opts.iterations):
            save_atomic(trainer.state_dict(), ckpt)
    averaged = trainer.averaged_g(source, target) if trainer.g_ema is not None else None
    if opts.expression:
        trainer.fit_expression(target, target_smile)  # type: ignore[arg-type]
    if opts.prototypes:
        trainer.fit_prototypes(target, target_smile, averaged)  # type: ignore[arg-type]
    net = trainer.transfer(averaged)
    if run_dir is not None:
        save_atomic(net.state_dict(), run_dir / MODEL)
    return net, history
