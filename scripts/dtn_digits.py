"""The DTN digits protocol (docs/quality-dtn.md): printed → handwritten, scored independently.

    /root/.cache/nlf/venv/bin/python scripts/dtn_digits.py --out /tmp/dtn-digits

1. Source: printed digits rendered with the installed fonts
(``backend.training.digits.render_printed``):
   a training set and a test set drawn with different seeds.
2. Target: scikit-learn's handwritten digits at 32×32, split into train (used unlabelled by the
   DTN and labelled by the independent classifier) and held-out test.
3. f: a classifier of printed digits (``backend.training.dtn.pretrain_classifier``), then frozen;
   L_CONST compares f's class posteriors (``--constancy class``, the default) or its codes.
4. DTN: g and the ternary D trained with f fixed (``backend.training.dtn.train``), with D's R1
   penalty (``--r1 1``, the default here; 0 turns it off); the model is a moving average of g's
   weights from step 1,000 on (``--ema 0.995``; 0 keeps the last g).
5. Independent judge C: a small CNN trained only on the handwritten training split. We report
   C's accuracy on held-out handwritten digits, on raw printed test digits (baseline) and on
   G(printed test digits): the paper's metric (90.66 % on SVHN → MNIST).

Prints a table, writes ``results.json`` and sample grids to ``--out``, and ``--grid`` (default
docs/dtn-digits.png). ``--import-as NAME`` installs the trained G as a ``dtn`` model.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.evaluation.digits_judge import accuracy, confusion, train_judge
from backend.training import digits
from backend.training.dtn import CONSTANCY, DtnOptions, ProgressBar, pretrain_classifier, train


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="/tmp/dtn-digits", help="run folder")
    p.add_argument("--grid", default="docs/dtn-digits.png", help="sample grid to write")
    p.add_argument("--train-source", type=int, default=10000, help="printed training digits")
    p.add_argument("--test-source", type=int, default=2000, help="printed test digits")
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--f-iterations", type=int, default=3000)
    p.add_argument("--judge-steps", type=int, default=3000)
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--alpha", type=float, default=15.0)
    p.add_argument("--beta", type=float, default=15.0)
    p.add_argument("--gamma", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--r1", type=float, default=1.0, help="D's R1 penalty weight (0: off)")
    p.add_argument("--ema", type=float, default=0.995, help="g weight-average decay (0: last g)")
    p.add_argument("--ema-start", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0, help="seeds f, g and D (not the judge)")
    p.add_argument("--constancy", choices=CONSTANCY, default="class")
    p.add_argument("--diff-augment", action="store_true", help="DiffAugment for D")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--import-as", help="install the trained G as a dtn model under this name")
    p.add_argument("--models-dir", help="models folder for --import-as")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()

    fonts = digits.font_paths()
    src_train, y_src_train = digits.render_printed(args.train_source, seed=1, fonts=fonts)
    src_test, y_src_test = digits.render_printed(args.test_source, seed=2, fonts=fonts)
    hand, y_hand = digits.handwritten()
    i_train, i_test = digits.split(len(hand), 0.25, seed=0)  # the protocol's fixed split
    tgt_train, y_tgt_train = hand[i_train], y_hand[i_train]
    tgt_test, y_tgt_test = hand[i_test], y_hand[i_test]
    print(
        f"fonts {len(fonts)}; printed train {len(src_train)} / test {len(src_test)}; "
        f"handwritten train {len(tgt_train)} / test {len(tgt_test)}"
    )

    opts = DtnOptions(
        width=args.width,
        batch=args.batch,
        iterations=args.iterations,
        f_iterations=args.f_iterations,
        alpha=args.alpha,
        beta=args.beta,
        gamma=args.gamma,
        lr=args.lr,
        r1=args.r1,
        ema=args.ema,
        ema_start=args.ema_start,
        seed=args.seed,
        diff_augment=args.diff_augment,
        constancy=args.constancy,
        checkpoint_every=max(1, args.iterations // 4),
        sample_every=max(1, args.iterations // 6),
    )
    bar = ProgressBar()
    t = time.monotonic()
    classifier, f_val = pretrain_classifier(src_train, y_src_train, opts, progress=bar)
    t_f = time.monotonic() - t

    t = time.monotonic()
    judge = train_judge(tgt_train, y_tgt_train, args.judge_steps, seed=1)  # fixed: one judge
    t_judge = time.monotonic() - t
    to_pm1 = lambda u8: u8.float() / 127.5 - 1  # noqa: E731

    t = time.monotonic()
    net, history = train(
        src_train, tgt_train, classifier.encoder, opts, out, progress=bar, head=classifier.head
    )
    t_dtn = time.monotonic() - t
    with torch.no_grad():
        g_src = torch.cat([net(c) for c in digits.to_float(src_test).split(500)])
        g_tgt = torch.cat([net(c) for c in digits.to_float(tgt_test).split(500)])
    results = {
        "judge_on_handwritten_test": accuracy(judge, to_pm1(tgt_test), y_tgt_test),
        "judge_on_raw_printed_test": accuracy(judge, to_pm1(src_test), y_src_test),
        "judge_on_G_printed_test": accuracy(judge, g_src * 2 - 1, y_src_test),
        "judge_on_G_handwritten_test": accuracy(judge, g_tgt * 2 - 1, y_tgt_test),
        "confusion_G_printed_test": confusion(judge, g_src * 2 - 1, y_src_test),
        "f_rotation_or_class_val_accuracy": f_val,
        "seconds": {"f": t_f, "judge": t_judge, "dtn": t_dtn, "total": time.monotonic() - t0},
        "options": asdict(opts),
        "fonts": len(fonts),
        "first_losses": history[0],
        "last_losses": {k: sum(h[k] for h in history[-50:]) / 50 for k in history[-1]},
        "command": " ".join(sys.argv),
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print("\n| measure | accuracy |\n|---|---|")
    for key in (
        "judge_on_handwritten_test",
        "judge_on_raw_printed_test",
        "judge_on_G_printed_test",
        "judge_on_G_handwritten_test",
    ):
        print(f"| {key} | {100 * results[key]:.2f} % |")
    print(f"| f (printed, held-out tenth of train) | {100 * f_val:.2f} % |")
    print("\njudge on G(printed test), rows = true digit, columns = read as\n")
    print("| digit | " + " | ".join(map(str, range(10))) + " | recall |")
    print("|---" * 12 + "|")
    for d, row in enumerate(results["confusion_G_printed_test"]):
        recall = 100 * row[d] / max(1, sum(row))
        print(f"| {d} | " + " | ".join(map(str, row)) + f" | {recall:.0f} % |")
    print(f"seconds: {json.dumps({k: round(v) for k, v in results['seconds'].items()})}")

    rows = []
    for d in range(10):
        idx = (y_src_test == d).nonzero().flatten()[:8]
        rows += [digits.to_float(src_test[idx]), g_src[idx]]
    grid = digits.grid(
        torch.cat([torch.cat([a, b]) for a, b in zip(rows[::2], rows[1::2], strict=True)]), 16
    )
    Path(args.grid).parent.mkdir(parents=True, exist_ok=True)
    grid.resize((grid.width * 2, grid.height * 2), 0).save(args.grid)
    if args.import_as:
        from backend.assets.models import ModelStore

        ModelStore(args.models_dir).import_model(
            out / "model.pth", args.import_as, "dtn", meta={"trainer": "scripts/dtn_digits.py"}
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
