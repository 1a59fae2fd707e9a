"""``python -m backend train dtn``: its arguments and the run (pretrain f, train g, import)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import sys
from dataclasses import asdict, fields
from pathlib import Path

import torch
from torch import nn

from backend.training.dtn.checkpoints import (
    ENCODER,
    MODEL,
    load_encoder,
    load_head,
    save_encoder,
    start_run,
)
from backend.training.dtn.data import load_folder
from backend.training.dtn.loop import train
from backend.training.dtn.options import CONSTANCY, F_ALIGN, F_KINDS, FACE_PRESET, DtnOptions
from backend.training.dtn.pretrain import pretrain_classifier
from backend.training.dtn.progress import ProgressBar

log = logging.getLogger(__name__)


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
    choices = {"constancy": CONSTANCY, "f": F_KINDS, "f_align": F_ALIGN}
    helps = {
        "size": "image side (power of two >= 32)",
        "width": "channel multiplier of f, g and D (1 = the paper's digit nets)",
        "iterations": "g/D training steps",
        "alpha": "weight of L_CONST (f-constancy)",
        "beta": "weight of L_TID (identity on the target)",
        "gamma": "weight of total variation",
        "adversarial": "weight of g's GAN loss (0: no D at all)",
        "g_steps": "g updates per D update",
        "r1": "weight γ of D's R1 penalty on real targets (0: off; steadies training)",
        "ema": "decay of a moving average of g's weights, saved as the model (0: the last g)",
        "ema_start": "step from which g's weights are averaged (with --ema)",
        "diff_augment": "show D randomly shifted and cut-out views (helps small target sets)",
        "f_iterations": "steps of f pretraining (when no --encoder is given)",
        "constancy": "L_CONST on f's codes (the paper) or its class posteriors (labelled source)",
        "f": "pretrain f on the source's class sub-folders, or (face) on GENKI-4K face crops "
        "labelled smile × skin-tone × hair/background tertiles; face also sets the faces → emoji "
        "defaults (shown in brackets) for options not given",
        "f_emoji": "with --f face: f also learns the emoji (labelled like the faces, smile from "
        "their names), so its smile means the same in both domains",
        "f_domain": "with --f-emoji: weight of a term that pulls f's face and emoji codes "
        "together (ramped up over f's pretraining; 0: off)",
        "f_align": "with --f-domain: MMD within each smile half (smile), MMD over all (mmd), or a "
        "domain classifier behind a gradient reversal (reverse)",
        "f_augment": "pretrain f on random views (mirrored, zoomed, shifted, lit, coloured, "
        "slightly blurred), so its code is steadier on photos",
        "robust_constancy": "L_CONST reads G(s) shifted and blurred, so texture that fools f "
        "cannot meet it",
        "tone": "weight of the skin-tone term (G(s)'s skin luminance follows the face's)",
        "expression": "faces → emoji: strength of the smile caricature between f and g (the "
        "code moved along the emoji's smile axis by f's own reading; 0: off)",
        "prototypes": "faces → emoji: G draws a face's code onto the mean of its 8 nearest "
        "codes of the labelled emoji g rebuilds best, this share of all (0: off)",
        "target_alpha": "RGBA targets (set by itself for an emoji folder with manifest.csv)",
    }
    for fld in fields(DtnOptions):
        flag = "--" + fld.name.replace("_", "-")
        if _has(parser, flag):
            continue
        text = helps.get(fld.name, fld.name.replace("_", " "))
        default = getattr(d, fld.name)
        preset = f" [{FACE_PRESET[fld.name]}]" if fld.name in FACE_PRESET else ""
        # SUPPRESS: an option not given is absent from args, so --f face can fill it in
        if isinstance(default, bool):
            parser.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=f"{text} (default {default}{preset})",
            )
            continue
        parser.add_argument(
            flag,
            choices=choices.get(fld.name),
            type=type(default),
            default=argparse.SUPPRESS,
            help=f"{text} (default {default}{preset})",
        )


def options_from_args(args: argparse.Namespace) -> DtnOptions:
    """The options given, else those of ``--f face`` (FACE_PRESET) when chosen, else defaults."""
    given = {f.name: getattr(args, f.name) for f in fields(DtnOptions) if hasattr(args, f.name)}
    base = dict(FACE_PRESET) if given.get("f") == "face" else {}
    return DtnOptions(**{**base, **given})


def load_domains(
    args: argparse.Namespace, opts: DtnOptions
) -> tuple[
    DtnOptions,
    torch.Tensor,
    torch.Tensor | None,
    list[str],
    torch.Tensor,
    tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None,
]:
    """(options, source images, source labels, class names, target images, f's pretraining set
    when it is not the source: faces and labelled emoji with ``--f-emoji``, as images, labels
    and domains 0 face / 1 emoji) for the run.

    ``--f face``: the source is the GENKI-4K crops folder (its training parts only) with
    face labels. An emoji folder (with manifest.csv) as target is loaded as RGBA.
    """
    from backend.training.dtn import faces

    pretrain: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
    if opts.f == "face":
        try:
            source, smile, _ = faces.load_faces(args.source, opts.size)
        except FileNotFoundError as exc:
            raise ValueError(str(exc)) from None
        labels, _ = faces.face_labels(source, smile)
        classes = [f"class{i}" for i in range(18)]
    else:
        source, labels, classes = load_folder(args.source, opts.size)
    if faces.is_emoji_folder(args.target):
        target, rows = faces.load_emoji(args.target, opts.size)
        opts = dataclasses.replace(opts, target_alpha=True)
        if opts.f == "face" and opts.f_emoji and labels is not None:
            extra, extra_labels = faces.emoji_labels(target, rows)
            domains = torch.cat([torch.zeros(len(source)), torch.ones(len(extra))]).long()
            pretrain = torch.cat([source, extra]), torch.cat([labels, extra_labels]), domains
    else:
        target, _, _ = load_folder(args.target, opts.size)
        if opts.target_alpha:
            raise ValueError(
                f"--target-alpha needs an emoji folder; '{args.target}' has no manifest"
            )
    if opts.f_emoji and pretrain is None:
        raise ValueError(
            "--f-emoji (on in the --f face preset; --no-f-emoji turns it off) needs --f face and "
            "an emoji folder (with manifest.csv) as the target"
        )
    if opts.f_domain and not opts.f_emoji:
        raise ValueError("--f-domain needs --f-emoji (f must see both domains): give --f-domain 0")
    return opts, source, labels, classes, target, pretrain


def run_dtn(args: argparse.Namespace) -> int:
    """Pretrain f if needed, train g, import the result as a ``dtn`` model; return 0 or 2."""
    from backend.assets.models import ModelError
    from backend.device import pick_device

    opts = options_from_args(args)
    started = start_run(args, "dtn")
    if started is None:
        return 2
    run_dir, store = started
    try:
        opts.config()
        device = pick_device(args.device)
        opts, source, source_labels, classes, target, pretrain = load_domains(args, opts)
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
        f_images, f_labels, domains = pretrain or (source, source_labels, None)
        model, acc = pretrain_classifier(f_images, f_labels, opts, device, bar, domains)
        f, head = model.encoder, model.head if source_labels is not None else None
        what = "classification" if source_labels is not None else "rotation"
        log.info("f pretrained: %s accuracy %.1f%% on held-out source", what, 100 * acc)
        save_encoder(f, run_dir / ENCODER, head)
    from backend.training.dtn import faces

    smile = None
    if faces.is_emoji_folder(args.target):
        smile = faces.emoji_smile(faces.manifest_rows(args.target))
    try:
        _, history = train(source, target, f, opts, run_dir, args.resume, device, bar, head, smile)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    last = history[-1] if history else {}
    meta = {
        "trainer": "backend.training.dtn",
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
