"""Small faces → emoji experiments on a tuning split of the *training* faces (docs/quality-dtn.md).

    python scripts/dtn_faces_probe.py recon --f RUN/f.pth [--joint] --out recon.png
    python scripts/dtn_faces_probe.py pretrain --out f_both.pth [--f-emoji]
    python scripts/dtn_faces_probe.py train --f RUN/f.pth --name NAME [--set KEY=VALUE ...]

The tuning split is the tenth of the GENKI training faces (parts pack + judge) that f's
pretraining holds out (seed 0): ``train`` trains g and D on the other nine tenths and reports the
protocol's figures on that tenth (the held-out part is never loaded). ``recon`` measures how well
g can rebuild emoji through f's code with L_TID alone (``--joint``: f trained with it, the
capacity bound); ``pretrain`` trains f (``--f-emoji``: on the faces and the labelled emoji) on the
nine tenths. Options of ``train`` (``--set``) are DtnOptions fields over the --f face preset.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
import torch.nn.functional as F

from backend.algorithms.nets.dtn import Encoder, build, init_weights
from backend.evaluation import faces_emoji_quality as q
from backend.training.digits import grid
from backend.training.dtn import faces
from backend.training.dtn.checkpoints import load_encoder, load_head, save_encoder
from backend.training.dtn.data import as_batch
from backend.training.dtn.options import FACE_PRESET, DtnOptions
from backend.training.dtn.pretrain import pretrain_classifier
from backend.training.dtn.trainer import DtnTrainer

EMOJI = Path.home() / ".cache/nlf/data/emoji"


def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(tuning tenth, the rest) of n training faces: pretrain_classifier's held-out tenth."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    return perm[: n // 10], perm[n // 10 :]


def recon(args: argparse.Namespace, opts: DtnOptions) -> dict:
    emo, rows = faces.load_emoji(args.emoji, opts.size)
    variant = torch.tensor([int(r["file"][-6:-4]) for r in rows])
    tr, te = (variant < 6).nonzero()[:, 0], (variant >= 6).nonzero()[:, 0]
    torch.manual_seed(0)
    if args.joint:
        f = Encoder(opts.config(18))
        init_weights(f)
    else:
        f = load_encoder(args.f).eval().requires_grad_(False)
    _, g, _ = build(dataclasses.replace(opts.config(18), channels=4))
    params = list(g.parameters()) + (list(f.parameters()) if args.joint else [])
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(0)
    for _ in range(args.steps):
        x = as_batch(emo, tr[torch.randint(0, len(tr), (32,), generator=gen)], "cpu")
        g.train()
        f.train(args.joint)
        loss = F.mse_loss(g(f(x[:, :3])), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    g.eval()
    f.eval()
    with torch.no_grad():
        xs = as_batch(emo, te, "cpu")
        mse = F.mse_loss(torch.cat([g(f(c[:, :3])) for c in xs.split(256)]), xs).item()
        pick = as_batch(emo, te[torch.linspace(0, len(te) - 1, 16).long()], "cpu")
        out = g(f(pick[:, :3]))[:, :3].clamp(-1, 1)
    if args.out:
        grid(torch.cat([(pick[:, :3] + 1) / 2, (out + 1) / 2]), 16).save(args.out)
    result = {"mode": "joint" if args.joint else "frozen f", "heldout_emoji_mse": round(mse, 4)}
    if args.judges:
        # the judge on g's rebuilt unseen emoji, and on g (which never saw a face) fed faces' codes
        from backend.algorithms.nets.dtn import DomainTransfer

        net = DomainTransfer(dataclasses.replace(f.cfg, channels=4)).eval()
        net.f.load_state_dict(f.state_dict())
        net.g.load_state_dict(g.state_dict())
        judges = q.load_judges(args.judges)
        x, y, var = q.expression_set(emo, rows)
        read = q.predict(judges.expression, q.translate_all(net, x[var >= 6])[:, :3])
        result["rebuilt_emoji_expression"] = round(float((read == y[var >= 6]).float().mean()), 3)
        src, smile, _ = faces.load_faces(args.genki, opts.size)
        val, _ = split(len(src))
        big, _, _ = faces.load_faces(args.genki, 64)
        fig = q.evaluate(net, judges, big[val], smile[val])
        result.update({f"faces_{k}": round(v, 3) for k, v in fig.items() if k != "faces"})
        if args.strip:
            pick = q.strip_indices(smile[val], big[val])
            q.strip(big[val][pick], q.translate_all(net, big[val][pick])).save(args.strip)
    return result


def _variant(rows: list[dict[str, str]]) -> torch.Tensor:
    return torch.tensor([int(r["file"][-6:-4]) for r in rows])


@torch.no_grad()
def _codes(f: Encoder, images: torch.Tensor) -> torch.Tensor:
    return torch.cat([f(c[:, :3].float() / 127.5 - 1).flatten(1) for c in images.split(256)])


def domain_gap(f: Encoder, train: tuple, test: tuple, steps: int = 400) -> float:
    """Balanced accuracy of a fresh domain classifier (faces 0 / emoji 1) on f's codes: fitted
    on the codes of ``train`` (faces, emoji), read on ``test``; 0.5 = the domains overlap."""
    from backend.training.dtn.pretrain import domain_head

    f = f.eval()
    zf, ze = _codes(f, train[0]), _codes(f, train[1])
    torch.manual_seed(0)
    critic = domain_head(zf.shape[1])
    opt = torch.optim.Adam(critic.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        a = zf[torch.randint(0, len(zf), (64,), generator=gen)]
        b = ze[torch.randint(0, len(ze), (64,), generator=gen)]
        y = torch.cat([torch.zeros(64), torch.ones(64)]).long()
        loss = F.cross_entropy(critic(torch.cat([a, b])), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        hit_f = (critic(_codes(f, test[0])).argmax(1) == 0).float().mean()
        hit_e = (critic(_codes(f, test[1])).argmax(1) == 1).float().mean()
    return float((hit_f + hit_e) / 2)


def pretrain(args: argparse.Namespace, opts: DtnOptions) -> dict:
    """f on the nine tenths (and with --f-emoji the labelled emoji of variants 0-5); reports
    its smile reading on the tuning faces and on emoji variants 6-7 it never saw, and the
    domain gap of its code (:func:`domain_gap`)."""
    src, smile, _ = faces.load_faces(args.genki, opts.size)
    val, rest = split(len(src))
    labels, _ = faces.face_labels(src, smile)
    images, y = src[rest], labels[rest]
    emo, rows = faces.load_emoji(args.emoji, opts.size)
    seen = _variant(rows) < 6
    e_img, e_y = faces.emoji_labels(emo, rows)
    e_var = _variant([r for r in rows if r["expression"] in ("smiling", "not_smiling")])
    domains = torch.zeros(len(images), dtype=torch.long)
    if args.f_emoji:
        images = torch.cat([images, e_img[e_var < 6]])
        y = torch.cat([y, e_y[e_var < 6]])
        domains = torch.cat([domains, torch.ones(int((e_var < 6).sum()), dtype=torch.long)])
    model, _ = pretrain_classifier(images, y, opts, domains=domains)
    with torch.no_grad():
        read = model(src[val].float() / 127.5 - 1).argmax(1)
        e_read = torch.cat([model(c.float() / 127.5 - 1) for c in e_img[e_var >= 6].split(256)])
    e_smile = e_y[e_var >= 6] // 9
    save_encoder(model.encoder, args.out, model.head)
    gap = domain_gap(model.encoder, (src[rest], emo[seen]), (src[val], emo[~seen]))
    return {
        "tuning_18way": round(float((read == labels[val]).float().mean()), 3),
        "tuning_smile": round(float((read // 9 == smile[val]).float().mean()), 3),
        "unseen_emoji_smile": round(float((e_read.argmax(1) // 9 == e_smile).float().mean()), 3),
        "domain_gap": round(gap, 3),
    }


def train(args: argparse.Namespace, opts: DtnOptions) -> dict:
    src, smile, _ = faces.load_faces(args.genki, opts.size)
    val, rest = split(len(src))
    emo, rows = faces.load_emoji(args.emoji, opts.size)
    trainer = DtnTrainer(load_encoder(args.f), opts, torch.device("cpu"), load_head(args.f))
    if opts.tone:
        trainer.fit_tone(src[rest], emo)
    gen = torch.Generator().manual_seed(opts.seed)
    t0 = time.process_time()
    for step in range(1, opts.iterations + 1):
        i_s = rest[torch.randint(0, len(rest), (opts.batch,), generator=gen)]
        i_t = torch.randint(0, len(emo), (opts.batch,), generator=gen)
        losses = trainer.step(as_batch(src, i_s, "cpu"), as_batch(emo, i_t, "cpu"))
        if step % 250 == 0:
            print(step, {k: round(v, 3) for k, v in losses.items()}, flush=True)
    averaged = trainer.averaged_g(src[rest], emo) if trainer.g_ema is not None else None
    if opts.expression:
        trainer.fit_expression(emo, faces.emoji_smile(rows))
    if opts.prototypes:
        trainer.fit_prototypes(emo, faces.emoji_smile(rows), averaged)
    net = trainer.transfer(averaged).eval()
    cpu = time.process_time() - t0
    if args.save:
        torch.save(net.state_dict(), args.save)
    if args.judges and Path(args.judges).is_file():
        judges = q.load_judges(args.judges)
    else:
        photos, _, _ = faces.load_faces(args.genki, opts.size, ("judge",))
        judges = q.build_judges(emo, rows, photos, 600)
        if args.judges:
            q.save_judges(judges, args.judges)
    big, _, _ = faces.load_faces(args.genki, 64)
    fig = q.evaluate(net, judges, big[val], smile[val])
    if args.out:
        pick = q.strip_indices(smile[val], big[val])
        q.strip(big[val][pick], q.translate_all(net, big[val][pick])).save(args.out)
    out = {"name": args.name, "cpu_s": round(cpu), **{k: round(v, 3) for k, v in fig.items()}}
    if net.expression is not None:  # the same G without the smile caricature
        net.expression = None
        plain = q.evaluate(net, judges, big[val], smile[val])
        out["without_expression"] = {k: round(v, 3) for k, v in plain.items() if "kept" in k}
    return out


def read(args: argparse.Namespace, opts: DtnOptions) -> dict:
    """Who reads the smile in a saved G (--save of train): f's own head and the protocol's judge,
    on G(tuning faces) against the faces' labels and on G(emoji variants 6-7) against theirs."""
    from backend.algorithms.nets.dtn import DomainTransfer, DtnConfig, infer_config

    state = torch.load(args.model, weights_only=True)
    net = DomainTransfer(DtnConfig(**infer_config(state))).eval()
    net.load_state_dict(state)
    head = load_head(args.f)
    judges = q.load_judges(args.judges)
    src, smile, _ = faces.load_faces(args.genki, opts.size)
    val, _ = split(len(src))
    emo, rows = faces.load_emoji(args.emoji, opts.size)
    x, y, variant = q.expression_set(emo, rows)
    unseen = variant >= 6
    out = {}
    for name, images, labels in (("faces", src[val], smile[val]), ("emoji", x[unseen], y[unseen])):
        with torch.no_grad():
            fake = q.translate_all(net, images)
            by_f = head(net.f(fake[:, :3].float() / 127.5 - 1).flatten(1)).argmax(1) // 9
        by_judge = q.predict(judges.expression, fake[:, :3])
        out[f"{name}_f_reads_kept"] = round(float((by_f == labels).float().mean()), 3)
        out[f"{name}_judge_reads_kept"] = round(float((by_judge == labels).float().mean()), 3)
        out[f"{name}_judge_smiling"] = round(float(by_judge.float().mean()), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=("recon", "pretrain", "train", "read"))
    ap.add_argument("--f", help="f.pth of a train dtn --f face run (recon, train)")
    ap.add_argument("--genki", help="GENKI-4K crops (default: $NLF_GENKI_DIR or ../shared/data)")
    ap.add_argument("--emoji", default=str(EMOJI), help="folder of scripts/build_emoji.py")
    ap.add_argument("--name", default="probe")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--joint", action="store_true", help="recon: train f with g")
    ap.add_argument("--f-emoji", action="store_true", help="pretrain: f also on labelled emoji")
    ap.add_argument("--judges", help="file to keep the protocol's judges in (train)")
    ap.add_argument("--strip", help="recon with --judges: strip of tuning faces through g")
    ap.add_argument("--save", help="train: write G's state dict here")
    ap.add_argument("--model", help="read: a G state dict written by train --save")
    ap.add_argument("--out", help="recon / train: PNG sheet; pretrain: the f.pth written")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    given = {}
    for item in args.set:
        key, value = item.split("=", 1)
        kind = type(getattr(DtnOptions(), key))
        given[key] = value == "True" if kind is bool else kind(value)
    preset = {**FACE_PRESET, "iterations": args.steps, "ema_start": int(args.steps * 0.6)}
    opts = DtnOptions(**{**preset, **given})
    if (args.mode == "pretrain" and not args.out) or (args.mode != "pretrain" and not args.f):
        ap.error("pretrain needs --out; recon and train need --f")
    run = {"recon": recon, "pretrain": pretrain, "train": train, "read": read}[args.mode]
    print(json.dumps(run(args, opts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
