"""Demonstration of ``train cyclegan --keep-masks`` and ``--labels-a/-b`` on data built here.

Domains (64x64, deterministic): GENKI-4K faces (../shared/data/genki4k-train, 32x32, top centre)
pasted onto

- A "casual": a background of diagonal stripes in two random colours and a T-shirt of random
  colours whose pattern follows the person's class, as clothes do in the seed's selfies:
  smiling -> horizontal stripes, non-smiling -> dots;
- B "business": a plain grey background and a jacket whose style follows the face's class:
  smiling -> navy suit with a red tie, non-smiling -> brown jacket without a tie.

Nothing but the labels tells CycleGAN which casual pattern becomes which jacket.

Three runs with the same seed, data and steps: ``plain`` (no guidance), ``keep``
(``--keep-masks`` with the face boxes of both domains, ``--keep-warmup``) and ``keep+labels``
(plus ``--labels-a/-b`` labelling half of each domain smile / non_smile); all with
``--preprocess crop``. Judged on ``--n-test`` held-out A images made from other faces (never
trained on), each figure with its standard error:

- PSNR of the face box between G_A(x) and x, and the mean change of everything else;
- class match: an independent judge (a small CNN trained here on the outfit region of real B
  images, never on generated ones, not the discriminators' heads) reads the outfit of G_A(x);
  its class should be the class of x; the labels' lead over ``keep`` with its paired error;
- business rate: a second judge, trained on real A against real B training images with the
  face box blanked, reads G_A(x) as casual or business: did the rest translate?

Writes ``OUT/report.json``, ``OUT/strip.png`` (rows: input, plain, keep, keep+labels) and the
commands run. ``python scripts/cyclegan_guided_demo.py --out /tmp/demo`` (three runs of
``--steps`` generator updates; ``--only NAME`` trains one, to run them in parallel;
``--resume --steps N`` continues existing runs to N updates).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.assets.models import ModelStore  # noqa: E402
from backend.cli import main as cli  # noqa: E402

GENKI = ROOT.parent / "shared" / "data" / "genki4k-train"
SIZE, FACE, FACE_AT = 64, 32, (16, 2)
OUTFIT_ROWS = (36, 64)
CLASSES = ("non_smile", "smile")
JudgeT = TypeVar("JudgeT", bound="Judge")


def _faces(cls: str, start: int, n: int) -> list[Path]:
    return sorted((GENKI / cls).iterdir())[start : start + n]


def _outfit_polygon() -> list[tuple[int, int]]:
    return [(22, 34), (42, 34), (58, 64), (6, 64)]


def casual(face: Image.Image, cls: str, rng: random.Random) -> Image.Image:
    """Stripes of two random colours behind a T-shirt of random colours whose pattern shows the
    class, as clothes and hair do in the selfies of the seed: smiling people wear horizontal
    stripes, the others dots."""
    c1 = tuple(rng.randint(60, 255) for _ in range(3))
    c2 = tuple(rng.randint(60, 255) for _ in range(3))
    im = Image.new("RGB", (SIZE, SIZE), c1)
    draw = ImageDraw.Draw(im)
    step = rng.randint(5, 9)
    for x in range(-SIZE, SIZE, step * 2):
        draw.polygon([(x, 0), (x + step, 0), (x + step + SIZE, SIZE), (x + SIZE, SIZE)], c2)
    shirt = tuple(rng.randint(40, 255) for _ in range(3))
    pattern = tuple(rng.randint(40, 255) for _ in range(3))
    draw.polygon(_outfit_polygon(), shirt)
    if cls == "smile":
        for y in range(37, SIZE, 6):
            draw.line([(6, y), (58, y)], pattern, 2)
    else:
        for y in range(39, SIZE, 7):
            for x in range(8 + (y % 2) * 3, 57, 7):
                draw.ellipse((x - 2, y - 2, x + 1, y + 1), pattern)
    im.paste(face, FACE_AT)
    return im


def business(face: Image.Image, cls: str, rng: random.Random) -> Image.Image:
    grey = rng.randint(185, 215)
    im = Image.new("RGB", (SIZE, SIZE), (grey, grey, grey + rng.randint(-6, 6)))
    draw = ImageDraw.Draw(im)
    jacket = (30, 40, 95) if cls == "smile" else (115, 72, 38)
    draw.polygon(_outfit_polygon(), jacket)
    draw.polygon([(26, 34), (38, 34), (32, 50)], (245, 245, 245))  # shirt
    if cls == "smile":
        draw.polygon([(31, 36), (33, 36), (34, 48), (32, 51), (30, 48)], (200, 20, 30))  # tie
    im.paste(face, FACE_AT)
    return im


def face_image(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB").resize((FACE, FACE), Image.Resampling.BICUBIC)


def build(out: Path, n_train: int, n_test: int) -> dict[str, Path]:
    """The folders: A, B (train), masks of A and B, label CSVs (half labelled), A-test, B-test."""
    rng = random.Random(0)
    d = {k: out / "data" / k for k in ("a", "b", "mask_a", "mask_b", "test_a", "test_b")}
    if (out / "data" / "test_b.csv").is_file():
        return d
    for p in d.values():
        p.mkdir(parents=True, exist_ok=True)
    mask = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(mask).rectangle((*FACE_AT, FACE_AT[0] + FACE - 1, FACE_AT[1] + FACE - 1), 255)
    rows: dict[str, list[list[str]]] = {"a": [], "b": [], "test_a": [], "test_b": []}
    half = n_train // 2
    plan = [("a", 0, half, True), ("b", half, half, True)]
    plan += [
        ("test_a", 2 * half, n_test // 2, False),
        ("test_b", 2 * half + n_test // 2, n_test // 2, False),
    ]
    for split, start, n, train in plan:
        for cls in CLASSES:
            for j, path in enumerate(_faces(cls, start, n)):
                name = f"{cls}_{j:03d}.png"
                face = face_image(path)
                kind = "a" if split in ("a", "test_a") else "b"
                im = casual(face, cls, rng) if kind == "a" else business(face, cls, rng)
                im.save(d[split] / name)
                if train:
                    mask.save(d[f"mask_{split}"] / name)
                rows[split].append([name, cls, "1" if j % 2 == 0 else "0"])
    for split in ("a", "b"):
        with open(out / "data" / f"labels_{split}.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["file", "class"])
            w.writerows([r[0], r[1]] for r in rows[split] if r[2] == "1")
    for split in ("test_a", "test_b"):
        with open(out / "data" / f"{split}.csv", "w", newline="") as fh:
            csv.writer(fh).writerows([r[0], r[1]] for r in rows[split])
    return d


def load(folder: Path, csv_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    with open(csv_path) as fh:
        rows = list(csv.reader(fh))
    x = np.stack([np.asarray(Image.open(folder / r[0]).convert("RGB")) for r in rows])
    y = torch.tensor([CLASSES.index(r[1]) for r in rows])
    return torch.from_numpy(x).permute(0, 3, 1, 2).float() / 127.5 - 1, y


class Judge(nn.Module):
    """Reads the outfit style from rows 36..64 only (the face is not shown to it)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 2),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x[..., OUTFIT_ROWS[0] : OUTFIT_ROWS[1], :])


def fit(kind: type[JudgeT], x: torch.Tensor, y: torch.Tensor, steps: int, seed: int) -> JudgeT:
    """A fresh ``kind`` judge fitted to (x, y): Adam 3e-3, batches of 32, ``steps`` steps."""
    torch.manual_seed(seed)
    judge = kind()
    opt = torch.optim.Adam(judge.parameters(), 3e-3)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (32,))
        loss = F.cross_entropy(judge(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return judge


def train_judge(d: dict[str, Path], out: Path, steps: int = 300) -> tuple[Judge, float]:
    """The judge trained on real B images (train folder), scored on held-out real B images."""
    names = {p.name for p in d["b"].iterdir()}
    all_rows = [[n, "smile" if n.startswith("smile") else "non_smile"] for n in sorted(names)]
    tmp = out / "data" / "b_all.csv"
    with open(tmp, "w", newline="") as fh:
        csv.writer(fh).writerows(all_rows)
    x, y = load(d["b"], tmp)  # every real B image's class (the outfit shows it)
    judge = fit(Judge, x, y, steps, seed=0)
    xt, yt = load(d["test_b"], out / "data" / "test_b.csv")
    with torch.no_grad():
        acc = float((judge.eval()(xt).argmax(1) == yt).float().mean())
    return judge, acc


class DomainJudge(Judge):
    """Reads whether a picture is casual (0) or business (1) from everything but the face box
    (blanked), i.e. from the background and the outfit: did the rest translate?"""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(blank_face(x))


def blank_face(x: torch.Tensor) -> torch.Tensor:
    x = x.clone()
    x[..., FACE_AT[1] : FACE_AT[1] + FACE, FACE_AT[0] : FACE_AT[0] + FACE] = 0
    return x


def train_domain_judge(d: dict[str, Path], steps: int = 300) -> tuple[DomainJudge, float]:
    """Real A (0) against real B (1) training images; accuracy on the held-out real A and B."""
    xa = torch.stack([_read(p) for p in sorted(d["a"].iterdir())])
    xb = torch.stack([_read(p) for p in sorted(d["b"].iterdir())])
    x, y = torch.cat([xa, xb]), torch.cat([torch.zeros(len(xa)), torch.ones(len(xb))]).long()
    judge = fit(DomainJudge, x, y, steps, seed=1)
    ta = torch.stack([_read(p) for p in sorted(d["test_a"].iterdir())])
    tb = torch.stack([_read(p) for p in sorted(d["test_b"].iterdir())])
    with torch.no_grad():
        right = torch.cat([judge.eval()(ta).argmax(1) == 0, judge(tb).argmax(1) == 1])
    return judge, float(right.float().mean())


def _read(path: Path) -> torch.Tensor:
    im = np.asarray(Image.open(path).convert("RGB"))
    return torch.from_numpy(im.copy()).permute(2, 0, 1).float() / 127.5 - 1


def _se(v: torch.Tensor) -> float:
    """Standard error of the mean of per-image values."""
    return float(v.float().std() / math.sqrt(len(v)))


def train(
    d: dict[str, Path], out: Path, name: str, a: argparse.Namespace, extra: list[str]
) -> list[str]:
    iters = math.ceil(len(list(d["a"].iterdir())) / a.batch_size)
    epochs = max(2, round(a.steps / iters))
    args = ["train", "cyclegan", "--domain-a", str(d["a"]), "--domain-b", str(d["b"])]
    args += ["--name", name, "--size", str(SIZE), "--epochs", str(epochs)]
    args += ["--batch-size", str(a.batch_size), "--netG", a.netG, "--ngf", str(a.ngf)]
    args += ["--n-blocks", "3", "--ndf", "16", "--lr", str(a.lr), "--preprocess", a.preprocess]
    args += ["--lambda-identity", "0", "--checkpoint-every", "0", "--seed", str(a.seed)]
    args += ["--device", "cpu", "--run-dir", str(out / "runs" / name)]
    args += ["--models-dir", str(out / "models"), *extra]
    if a.resume:
        args.append("--resume")
    if a.resume or not (out / "models" / f"{name}.a_to_b.pth").exists():
        t = time.time()
        if cli(args) != 0:
            raise SystemExit(f"training {name} failed")
        print(f"{name}: {time.time() - t:.0f} s", file=sys.stderr)
    return args


def evaluate(
    g: nn.Module, judges: tuple[Judge, DomainJudge], x: torch.Tensor, y: torch.Tensor
) -> dict[str, Any]:
    """Face PSNR, change elsewhere, class match, business rate (each with its standard error),
    the per-image matches (for paired differences) and the outputs."""
    with torch.no_grad():
        out = g.eval()(x).clamp(-1, 1)
        match = judges[0].eval()(out).argmax(1) == y
        business = judges[1].eval()(out).argmax(1) == 1
    x0, y0 = FACE_AT
    face = (slice(None), slice(None), slice(y0, y0 + FACE), slice(x0, x0 + FACE))
    mse = ((out[face] - x[face]) / 2).pow(2).mean((1, 2, 3))
    psnr = 10 * torch.log10(1 / mse.clamp_min(1e-10))
    rest = torch.ones_like(x[:, :1])
    rest[face] = 0
    change = ((out - x).abs() * rest).sum((1, 2, 3)) / (rest.sum((1, 2, 3)) * 3) * 127.5
    return {
        "face_psnr_db": float(psnr.mean()),
        "face_psnr_se": _se(psnr),
        "rest_mean_abs_change_u8": float(change.mean()),
        "rest_change_se": _se(change),
        "class_match": float(match.float().mean()),
        "class_match_se": _se(match),
        "business_rate": float(business.float().mean()),
        "business_rate_se": _se(business),
        "matches": match,
        "outputs": out,
    }


def strip(rows: list[torch.Tensor], path: Path) -> None:
    from torchvision.utils import save_image

    save_image((torch.cat(rows) + 1) / 2, path, nrow=len(rows[0]), padding=2, pad_value=1.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="/tmp/nlf-cyclegan-guided")
    p.add_argument("--steps", type=int, default=2500, help="generator updates per run")
    p.add_argument("--n-train", type=int, default=400, help="images per training domain")
    p.add_argument("--n-test", type=int, default=400, help="held-out A (and B) images")
    p.add_argument("--judge-steps", type=int, default=300)
    p.add_argument("--netG", default="unet_32", help="generator (resnet: ngf and 3 blocks)")
    p.add_argument("--ngf", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--keep-weight", type=float, default=200.0)
    p.add_argument("--keep-warmup", type=int, default=400, help="updates without λ_keep")
    p.add_argument("--class-weight", type=float, default=2.0)
    p.add_argument("--preprocess", default="crop", help="resize_and_crop or crop")
    p.add_argument("--seed", type=int, default=0, help="training seed (the data are always seed 0)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoints to --steps updates (lr schedule of the new total)",
    )
    p.add_argument("--strip", default="", help="also copy the strip PNG here")
    p.add_argument(
        "--only",
        choices=("plain", "keep", "keep+labels"),
        help="train this run and stop (run three in parallel, then once more to judge)",
    )
    a = p.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    out = Path(a.out)
    d = build(out, a.n_train, a.n_test)
    keep = ["--keep-masks", f"{d['mask_a']},{d['mask_b']}", "--keep-weight", str(a.keep_weight)]
    keep += ["--keep-warmup", str(a.keep_warmup)]
    labels = ["--labels-a", str(out / "data" / "labels_a.csv")]
    labels += ["--labels-b", str(out / "data" / "labels_b.csv"), "--class-weight"]
    labels += [str(a.class_weight)]
    runs = {"plain": [], "keep": keep, "keep+labels": keep + labels}
    commands, results = {}, {}
    x, y = load(d["test_a"], out / "data" / "test_a.csv")
    order = torch.cat([torch.arange(0, 4), torch.arange(len(x) - 4, len(x))])
    rows = [x[order]]
    store = ModelStore(out / "models")
    if a.only:
        train(d, out, a.only.replace("+", "_"), a, runs[a.only])
        return 0
    judge, judge_acc = train_judge(d, out, a.judge_steps)
    domain_judge, domain_acc = train_domain_judge(d, a.judge_steps)
    matches = {}
    for name, extra in runs.items():
        slug = name.replace("+", "_")
        commands[name] = "python -m backend " + " ".join(train(d, out, slug, a, extra))
        _, g = store.load(slug, "a_to_b")
        r = evaluate(g, (judge, domain_judge), x, y)
        rows.append(r.pop("outputs")[order])
        matches[name] = r.pop("matches").float()
        results[name] = r
        results[name]["trained_with"] = store.entry(slug).meta.get("trained", {})  # as it was
        print(name, json.dumps(r), file=sys.stderr)
    strip(rows, out / "strip.png")
    if a.strip:
        strip(rows, Path(a.strip))
    lead = matches["keep+labels"] - matches["keep"]  # paired: the same test images
    report = {
        "judge_accuracy_on_real_b": judge_acc,
        "domain_judge_accuracy_on_real_a_b": domain_acc,
        "labels_lead": {"class_match_diff": float(lead.mean()), "paired_se": _se(lead)},
        "test_a_images": len(x),
        "runs": results,
        "commands": commands,
        "steps": a.steps,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
