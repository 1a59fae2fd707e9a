"""Fit the prototypes (``nets.dtn.Prototypes``) into a saved faces → emoji model, post hoc.

    python scripts/dtn_fit_prototypes.py --emoji ~/.cache/nlf/data/emoji \\
        [--model PATH] [--share 0.25] --out backend/assets/packs/dtn/faces-emoji.pt

``train dtn --f face`` fits them at the end of training (``--prototypes``, the preset's 0.25);
this does the same for a model trained before they existed (default: the built-in
``faces-emoji``, whose current file was made this way): f's codes of the labelled emoji whose
rebuilding by the model's g is within the lowest ``--share`` of all the emoji's errors
(``DtnTrainer.fit_prototypes``). The output is an fp16 state dict like the built-in's; f, g and
the smile caricature are copied unchanged.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from backend.algorithms.nets import dtn as nets
from backend.filters.dtn import load_builtin
from backend.training.dtn import DtnTrainer, faces
from backend.training.dtn.options import FACE_PRESET, DtnOptions


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--emoji", required=True, help="the emoji folder (scripts/build_emoji.py)")
    ap.add_argument("--model", help="a faces → emoji state dict (default: the built-in)")
    ap.add_argument("--share", type=float, default=float(FACE_PRESET["prototypes"]))  # type: ignore[arg-type]
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.model:
        state = torch.load(args.model, map_location="cpu", weights_only=True)
        state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        net = nets.build_transfer(nets.infer_config(state))
        net.load_state_dict(state)
    else:
        net = load_builtin()
    net = net.eval().requires_grad_(False)
    emoji, rows = faces.load_emoji(args.emoji, net.cfg.size)
    opts = DtnOptions(**{**FACE_PRESET, "prototypes": args.share})  # type: ignore[arg-type]
    trainer = DtnTrainer(net.f, opts, torch.device("cpu"))
    trainer.fit_prototypes(emoji, faces.emoji_smile(rows), net.g)
    codes = trainer.prototype_codes
    assert codes is not None
    out = nets.DomainTransfer(dataclasses.replace(net.cfg, prototypes=len(codes)))
    keep = {k: v for k, v in net.state_dict().items() if not k.startswith("prototypes.")}
    out.load_state_dict({**out.state_dict(), **keep})
    assert out.prototypes is not None
    out.prototypes.codes.copy_(codes)
    state = {k: v.half() if v.is_floating_point() else v for k, v in out.state_dict().items()}
    torch.save(state, args.out)
    print(f"{len(codes)} emoji codes of {len(emoji)} kept; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
