"""Side-by-side DFI experiments on pre-aligned GENKI-4K crops (docs/quality-dfi.md, "Ideas").

    python scripts/dfi_experiments.py --configs base r128 knn --faces 6 --out /tmp/dfi-exp

Every config edits the same tuning faces (never held-out ones); the script writes one PNG sheet
(rows = configs, first row the inputs) and prints a table with the judge's P(smile) when a judge
is given (``--judge deep`` = scripts/smile_judge.py when present). Packs and per-example features
are cached under ``--cache``. GENKI-4K: "http://mplab.ucsd.edu, The MPLab GENKI-4K Dataset."
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from backend import dirs  # noqa: E402
from backend.assets import attributes  # noqa: E402
from backend.assets.nets import load_backbone  # noqa: E402
from backend.filters import dfi, dfi_direction  # noqa: E402

GENKI = REPO.parent / "shared" / "data" / "genki4k-train"
LAYERS = ("relu3_1", "relu4_1", "relu5_1")


@dataclass(frozen=True)
class Config:
    """One way of running DFI."""

    res: int = 64
    layers: tuple[str, ...] = LAYERS
    knn: int = 0
    """0: global means; k: mean of the k nearest "with" minus the k nearest "without"."""
    tv: float = 400.0
    iters: int = 20
    lr: float = 0.01
    alpha: float = 0.6
    lowfreq: int = 1
    """The change is optimised at res / lowfreq and upsampled (1 = full resolution)."""
    face_mask: bool = False
    """Only an ellipse over the face may change (feathered)."""
    layer_weights: tuple[float, ...] = field(default=())


CONFIGS: dict[str, Config] = {
    "base": Config(),
    "base-a1": Config(alpha=1.0),
    "r128": Config(res=128),
    "r128-a1": Config(res=128, alpha=1.0),
    "knn": Config(knn=50),
    "knn-a1": Config(knn=50, alpha=1.0),
    "r128-knn": Config(res=128, knn=50),
    "l45": Config(layers=("relu4_1", "relu5_1")),
    "l45-a1": Config(layers=("relu4_1", "relu5_1"), alpha=1.0),
    "l345-3": Config(layers=("relu3_3", "relu4_3", "relu5_3")),
    "low2": Config(res=128, lowfreq=2),
    "low2-a1": Config(res=128, lowfreq=2, alpha=1.0),
    "low4-a1": Config(res=128, lowfreq=4, alpha=1.0),
    "low4-a15": Config(res=128, lowfreq=4, alpha=1.5),
    "low2-64-a1": Config(lowfreq=2, alpha=1.0),
    "mask": Config(face_mask=True),
    "tv100": Config(tv=100.0),
    "lr03": Config(lr=0.03),
    "it60": Config(iters=60),
}


def tuning_faces(label: str, n: int, offset: int = 0) -> list[Path]:
    """Tuning faces: every 7th file from the end of the folder (far from the pack slice)."""
    files = sorted((GENKI / label).glob("*.jpg"))
    return files[::-1][offset::7][:n]


def pack_files(label: str, n: int, exclude: set[Path]) -> list[Path]:
    files = [p for p in sorted((GENKI / label).glob("*.jpg")) if p not in exclude]
    return files[:n]


def read(path: Path, res: int) -> torch.Tensor:
    return attributes.resize_square(attributes.read_image(path), res)


@torch.no_grad()
def example_features(
    backbone, files, res, layers, cache: Path, tag: str
) -> dict[str, torch.Tensor]:
    """Per-example features {layer: (N, C, h, w) fp16}, cached."""
    path = cache / f"feats-{tag}-{res}-{'-'.join(layers)}-{len(files)}.pt"
    if path.exists():
        return torch.load(path, weights_only=True)
    out: dict[str, list[torch.Tensor]] = {k: [] for k in layers}
    for i in range(0, len(files), 16):
        x = torch.cat([read(p, res) for p in files[i : i + 16]])
        f = backbone(x, list(layers))
        for k in layers:
            out[k].append(f[k].half())
    feats = {k: torch.cat(v) for k, v in out.items()}
    torch.save(feats, path)
    return feats


def face_ellipse(res: int) -> torch.Tensor:
    """A feathered ellipse covering a GENKI-framed face, (1, 1, res, res)."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, res), torch.linspace(-1, 1, res), indexing="ij")
    r = (x / 0.85) ** 2 + ((y - 0.05) / 0.98) ** 2
    return (1 - ((r - 0.75) / 0.25).clamp(0, 1))[None, None]


def directions(cfg: Config, x_feats, with_f, without_f) -> dict[str, torch.Tensor]:
    """The attribute vector per layer, (C, h, w)."""
    if not cfg.knn:
        return {k: with_f[k].float().mean(0) - without_f[k].float().mean(0) for k in cfg.layers}

    def nearest(bank):
        d = 0
        for k in cfg.layers:
            b = bank[k].float().flatten(1)
            q = x_feats[k].flatten(1)
            d = d + ((b - q) ** 2).sum(1) / q.pow(2).sum()
        return d.topk(cfg.knn, largest=False).indices

    iw, io = nearest(with_f), nearest(without_f)
    return {k: with_f[k][iw].float().mean(0) - without_f[k][io].float().mean(0) for k in cfg.layers}


def edit(backbone, cfg: Config, x: torch.Tensor, with_f, without_f) -> torch.Tensor:
    """DFI of one (1, 3, res, res) face; returns z."""
    layers = list(cfg.layers)
    with torch.no_grad():
        feats = backbone(x, layers)
        w = directions(cfg, feats, with_f, without_f)
        targets = {k: feats[k] + cfg.alpha * dfi.scaled_direction(w[k], feats[k]) for k in layers}
        scale = {k: 1.0 / feats[k].pow(2).sum() for k in layers}
    low = cfg.res // cfg.lowfreq
    d = torch.zeros(1, 3, low, low, requires_grad=True)
    mask = face_ellipse(cfg.res) if cfg.face_mask else None
    opt = torch.optim.Adam([d], lr=cfg.lr)
    lw = cfg.layer_weights or (1.0,) * len(layers)
    for _ in range(cfg.iters):
        opt.zero_grad()
        delta = d if cfg.lowfreq == 1 else F.interpolate(d, size=x.shape[-2:], mode="bilinear")
        if mask is not None:
            delta = delta * mask
        z = (x + delta).clamp(0, 1)
        f = backbone(z, layers)
        loss = sum(
            c * (f[k] - targets[k]).pow(2).sum() * scale[k] for c, k in zip(lw, layers, strict=True)
        )
        loss = loss + cfg.tv * dfi.total_variation(delta)
        loss.backward()
        opt.step()
    with torch.no_grad():
        delta = d if cfg.lowfreq == 1 else F.interpolate(d, size=x.shape[-2:], mode="bilinear")
        if mask is not None:
            delta = delta * mask
        luma = torch.tensor(dfi_direction.LUMA).view(1, 3, 1, 1)
        delta = (delta * luma).sum(1, keepdim=True).expand_as(delta)
        return (x + delta).clamp(0, 1)


def to_u8(t: torch.Tensor) -> np.ndarray:
    return (t[0].permute(1, 2, 0).clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()


def load_judge(name: str):
    if name == "none":
        return None
    if name == "hog":
        from backend.evaluation.hog_smile import default_classifier

        return default_classifier().score
    from scripts.smile_judge import load_judge as deep  # the branch `judge` provides it

    return deep()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", nargs="+", default=["base"])
    ap.add_argument("--faces", type=int, default=6)
    ap.add_argument("--label", default="non_smile", choices=("non_smile", "smile"))
    ap.add_argument("--alpha", type=float, default=None, help="override every config's α")
    ap.add_argument("--pack-size", type=int, default=300)
    ap.add_argument("--judge", default="none")
    ap.add_argument("--show", type=int, default=128, help="sheet cell size")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/dfi-exp"))
    ap.add_argument("--out", type=Path, default=Path("/tmp/dfi-exp/sheet.png"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    args.cache.mkdir(parents=True, exist_ok=True)
    backbone = load_backbone("vgg16-hed", dirs.weights_dir())
    faces = tuning_faces(args.label, args.faces)
    exclude = set(tuning_faces("smile", 64)) | set(tuning_faces("non_smile", 64))
    pw, po = (
        pack_files("smile", args.pack_size, exclude),
        pack_files("non_smile", args.pack_size, exclude),
    )
    judge = load_judge(args.judge)
    show = args.show
    rows = [np.concatenate([to_u8(read(p, show)) for p in faces], axis=1)]
    if judge:
        before = [judge(to_u8(read(p, show))) for p in faces]
        called = np.mean(np.array(before) > 0.5)
        print(f"before: mean P {np.mean(before):.3f}, called smiling {called:.0%}")
    print("| config | called smiling | mean P(smile) | mean |change| | s/face |")
    print("|---|---|---|---|---|")
    for name in args.configs:
        cfg = CONFIGS[name]
        if args.alpha is not None:
            cfg = replace(cfg, alpha=args.alpha)
        with_f = example_features(backbone, pw, cfg.res, cfg.layers, args.cache, "with")
        without_f = example_features(backbone, po, cfg.res, cfg.layers, args.cache, "without")
        t = time.time()
        cells, scores, changes = [], [], []
        for p in faces:
            x = read(p, cfg.res)
            z = edit(backbone, cfg, x, with_f, without_f)
            big = attributes.resize_square(read(p, 64), show)
            dz = F.interpolate(z - x, size=(show, show), mode="bilinear", align_corners=False)
            shown = (attributes.resize_square(read(p, show), show) + dz).clamp(0, 1)
            del big
            cells.append(to_u8(shown))
            changes.append(float((z - x).abs().mean()) * 255)
            if judge:
                scores.append(judge(cells[-1]))
        dt = (time.time() - t) / len(faces)
        rows.append(np.concatenate(cells, axis=1))
        s = np.array(scores) if scores else np.array([np.nan])
        print(f"| {name} α={cfg.alpha:g} | {np.mean(s > 0.5):.0%} | {s.mean():.3f} | "
              f"{np.mean(changes):.2f} | {dt:.1f} |", flush=True)  # fmt: skip
    from PIL import Image

    Image.fromarray(np.concatenate(rows, axis=0)).save(args.out)
    print(f"wrote {args.out}: rows = input, {', '.join(args.configs)}")


if __name__ == "__main__":
    main()
