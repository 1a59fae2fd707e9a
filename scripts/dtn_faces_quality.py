"""The faces → emoji quality protocol on held-out GENKI-4K faces (docs/quality-dtn.md).

    python scripts/dtn_faces_quality.py --model faces-emoji [--model other] \\
        --emoji ~/.cache/nlf/data/emoji [--strip docs/images/dtn-faces-{name}.png] [--as-sticker]

Prints, per installed DTN model: expression kept (judge trained on the emoji's own labels),
skin-tone Spearman ρ, emoji-ness (domain judge). All of it lives in
``backend.evaluation.faces_emoji_quality``; this is its command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from backend.assets.models import ModelStore
from backend.dirs import models_dir
from backend.evaluation.faces_emoji_quality import (
    AsSticker,
    AtSize,
    model_from_checkpoint,
    run_protocol,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", default=[], help="installed DTN model name")
    ap.add_argument(
        "--cyclegan",
        action="append",
        default=[],
        help="installed CycleGAN model trained faces (A) → emoji (B) at --cyclegan-size px",
    )
    ap.add_argument("--cyclegan-size", type=int, default=32)
    ap.add_argument(
        "--checkpoint", action="append", default=[], help="a run's checkpoint.pth (its live g)"
    )
    ap.add_argument("--judges", help="file to keep the judges in (trained once, then reused)")
    ap.add_argument("--models-dir", help="models folder (default: $NLF_MODELS_DIR)")
    ap.add_argument("--emoji", required=True, help="emoji folder of scripts/build_emoji.py")
    ap.add_argument("--genki", help="GENKI-4K crops (default: $NLF_GENKI_DIR or ../shared/data)")
    ap.add_argument("--judge-steps", type=int, default=600)
    ap.add_argument("--strip", help="PNG path of the 16-face strip ({name}: the model's name)")
    ap.add_argument(
        "--as-sticker",
        action="store_true",
        help="also read each --model as the filter draws it (mean code of views, chroma"
        " smoothed): NAME+sticker",
    )
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    store = ModelStore(models_dir(args.models_dir))
    nets = {name: store.load(name)[1] for name in args.model}
    if args.as_sticker:
        nets.update({f"{name}+sticker": AsSticker(net) for name, net in list(nets.items())})
    for name in args.cyclegan:
        _, gen = store.load(name, "a_to_b")
        nets[name] = AtSize(gen.eval(), args.cyclegan_size)
    for path in args.checkpoint:
        nets[Path(path).parent.name] = model_from_checkpoint(path)
    if not nets:
        ap.error("give --model or --checkpoint")
    figures, judge_acc = run_protocol(
        nets, args.emoji, args.genki, args.judge_steps, args.strip, args.judges
    )
    print(f"expression judge on unseen emoji variants: {100 * judge_acc:.1f} %")
    for name, fig in figures.items():
        print(json.dumps({"model": name, **{k: round(v, 4) for k, v in fig.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
