"""An independent deep smile judge for measuring DFI: a small CNN trained from scratch.

It shares nothing with what DFI edits with (no VGG, no pretrained weights, no HOG): a 7-layer
convolutional net trained on the GENKI-4K ``judge`` part only
(``backend/evaluation/genki_split.py``), never
on the pack's images, and scored once on the ``heldout`` part. Augmented (flips, small
scale/shift/rotation, colour jitter, blur and down-up resampling, noise) so it judges faces
cropped back out of 512² canvases, where they were upscaled from 64 px.

    python scripts/smile_judge.py train          # ~/.cache/nlf/judge/smile_judge.pt + sha256
    python scripts/smile_judge.py train --dev    # tune on a dev slice of the judge part instead
    python scripts/smile_judge.py eval           # held-out accuracy (raw crops and canvas crops)

    from scripts.smile_judge import load_judge
    p = load_judge().p_smile([rgb_uint8_face, ...])   # (H, W, 3) uint8 crops -> P(smiling)

GENKI-4K: "http://mplab.ucsd.edu, The MPLab GENKI-4K Dataset."
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn
from torch.nn import functional as F

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from backend.evaluation import genki_split  # noqa: E402

SIZE = 64
"""The judge's input side; crops of any size are resized to it (PIL bicubic, antialiased)."""
DEFAULT_PATH = Path.home() / ".cache" / "nlf" / "judge" / "smile_judge.pt"
SEED = 0


class SmileNet(nn.Module):
    """Seven 3x3 conv layers (16-32-32-64-64-128-128) with BatchNorm, global pooling, one logit."""

    def __init__(self) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        self.body = nn.Sequential(
            *block(3, 16), nn.MaxPool2d(2),
            *block(16, 32), *block(32, 32), nn.MaxPool2d(2),
            *block(32, 64), *block(64, 64), nn.MaxPool2d(2),
            *block(64, 128), *block(128, 128),
        )  # fmt: skip
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(128, 1))

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, 64, 64) standardised images -> (B,) logits of "smiling"."""
        return self.head(self.body(x).mean((2, 3)))[:, 0]


def standardise(x: Tensor) -> Tensor:
    """Per-image zero mean, unit variance of (B, 3, H, W) [0, 1] images (ignores exposure)."""
    mean = x.mean((1, 2, 3), keepdim=True)
    std = x.std((1, 2, 3), keepdim=True).clamp_min(1e-3)
    return (x - mean) / std


def to_input(faces: Sequence[np.ndarray]) -> Tensor:
    """(H, W, 3) uint8 crops -> (B, 3, 64, 64) float in [0, 1]."""
    out = []
    for face in faces:
        im = Image.fromarray(np.asarray(face, dtype=np.uint8)).convert("RGB")
        if im.size != (SIZE, SIZE):
            im = im.resize((SIZE, SIZE), Image.Resampling.BICUBIC)
        out.append(torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()))
    return torch.stack(out).permute(0, 3, 1, 2).float() / 255.0


class SmileJudge:
    """A trained :class:`SmileNet`; ``p_smile`` averages the face and its mirror image."""

    def __init__(self, net: SmileNet, sha256: str = "") -> None:
        self.net = net.eval()
        self.sha256 = sha256

    @torch.no_grad()
    def p_smile(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        """P(smiling) of each (H, W, 3) uint8 face crop."""
        if not faces:
            return np.zeros(0)
        x = standardise(to_input(faces))
        logits = (self.net(x) + self.net(x.flip(-1))) / 2
        return torch.sigmoid(logits).numpy().astype(np.float64)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_judge(path: Path = DEFAULT_PATH) -> SmileJudge:
    """Load the judge written by ``train`` (``torch.load(weights_only=True)``)."""
    if not path.is_file():
        raise FileNotFoundError(
            f"no smile judge at {path}: run `python scripts/smile_judge.py train`"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = SmileNet()
    net.load_state_dict(state["state_dict"])
    return SmileJudge(net, file_sha256(path))


# -- data and augmentation ------------------------------------------------------------------------
def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def is_dev(name: str) -> bool:
    """A sixth of the judge part (by another slice of the name's sha256), for tuning with --dev."""
    return int(hashlib.sha256(name.encode()).hexdigest()[16:24], 16) % 6 == 0


def load_set(by_label: dict[str, list[Path]]) -> tuple[Tensor, Tensor]:
    """(N, 3, 64, 64) float images and (N,) labels (1 = smile) of one part."""
    faces, labels = [], []
    for label, y in (("smile", 1.0), ("non_smile", 0.0)):
        for p in by_label[label]:
            faces.append(read_rgb(p))
            labels.append(y)
    return to_input(faces), torch.tensor(labels)


def gaussian_blur(x: Tensor, sigma: Tensor) -> Tensor:
    """Blur each image of (B, C, H, W) by its own sigma (B,), 7-tap separable kernel."""
    t = torch.arange(-3, 4, dtype=x.dtype)
    k = torch.exp(-(t[None] ** 2) / (2 * sigma[:, None].clamp_min(1e-3) ** 2))
    k = k / k.sum(1, keepdim=True)  # (B, 7)
    b, c, h, w = x.shape
    y = x.reshape(1, b * c, h, w)
    kc = k.repeat_interleave(c, 0)
    y = F.conv2d(F.pad(y, (3, 3, 0, 0), mode="replicate"), kc[:, None, None, :], groups=b * c)
    y = F.conv2d(F.pad(y, (0, 0, 3, 3), mode="replicate"), kc[:, None, :, None], groups=b * c)
    return y.reshape(b, c, h, w)


def augment(x: Tensor, gen: torch.Generator) -> Tensor:
    """Random flip, rotation ±12°, scale 0.88–1.12, shift ±6 %, colour jitter, softness, noise."""
    b = x.shape[0]

    def u(lo: float, hi: float) -> Tensor:
        return lo + (hi - lo) * torch.rand(b, generator=gen)

    flip = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0)
    angle = u(-12, 12) * math.pi / 180
    scale = u(0.88, 1.12)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos * flip, -sin, u(-0.12, 0.12)], 1),
            torch.stack([sin * flip, cos, u(-0.12, 0.12)], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    # softness: a down-and-up resample for half the batch, a blur for a third
    down = torch.rand(b, generator=gen) < 0.5
    if down.any():
        side = int(torch.randint(20, 56, (1,), generator=gen))
        small = F.interpolate(x[down], size=(side, side), mode="area")
        x[down] = F.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False)
    blur = torch.rand(b, generator=gen) < 0.33
    if blur.any():
        x[blur] = gaussian_blur(x[blur], u(0.3, 1.3)[blur])
    # colour: brightness, contrast, saturation, gamma, sometimes grey
    grey = x.mul(torch.tensor([0.299, 0.587, 0.114])[None, :, None, None]).sum(1, keepdim=True)
    sat = u(0.5, 1.5)[:, None, None, None]
    sat = torch.where(torch.rand(b, 1, 1, 1, generator=gen) < 0.1, torch.zeros_like(sat), sat)
    x = grey + (x - grey) * sat
    mean = x.mean((1, 2, 3), keepdim=True)
    x = mean + (x - mean) * u(0.7, 1.3)[:, None, None, None]
    x = x * u(0.75, 1.25)[:, None, None, None]
    x = x.clamp(0, 1) ** u(0.8, 1.25)[:, None, None, None]
    x = x + torch.randn(x.shape, generator=gen) * u(0, 0.03)[:, None, None, None]
    return x.clamp(0, 1)


# -- training and evaluation ----------------------------------------------------------------------
def accuracy(net: SmileNet, x: Tensor, y: Tensor) -> float:
    judge = SmileJudge(net)
    with torch.no_grad():
        xs = standardise(x)
        p = torch.sigmoid((judge.net(xs) + judge.net(xs.flip(-1))) / 2)
    return float(((p > 0.5).float() == y).float().mean())


def train(
    x: Tensor,
    y: Tensor,
    epochs: int,
    seed: int = SEED,
    x_dev: Tensor | None = None,
    y_dev: Tensor | None = None,
    batch: int = 64,
    lr: float = 3e-3,
) -> SmileNet:
    """AdamW with a one-cycle schedule and light label smoothing; deterministic for a seed."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = SmileNet()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=5e-4)
    steps = epochs * math.ceil(len(x) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    t0 = time.time()
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), batch):
            idx = order[i : i + batch]
            xb = standardise(augment(x[idx].clone(), gen))
            target = y[idx] * 0.95 + 0.025
            loss = F.binary_cross_entropy_with_logits(net(xb), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        line = f"epoch {epoch + 1:3}/{epochs} loss {total / len(x):.4f} {time.time() - t0:6.0f} s"
        if x_dev is not None and y_dev is not None and (epoch + 1) % 5 == 0:
            line += f"  dev accuracy {accuracy(net.eval(), x_dev, y_dev):.3f}"
        print(line, flush=True)
    return net.eval()


def save(net: SmileNet, path: Path, meta: dict[str, object]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"state_dict": net.state_dict(), "meta": meta}, tmp)
    tmp.replace(path)
    return file_sha256(path)


def canvas_crops(faces: Sequence[np.ndarray], seed: int) -> list[np.ndarray]:
    """Each face pasted on a textured 512² canvas (140–260 px) and cut back out of it."""
    from backend.evaluation.face_canvas import crop, make_scene

    rng = np.random.default_rng(seed)
    out = []
    for face in faces:
        scene = make_scene([face], rng)
        out.append(crop(scene.image, scene.faces[0]))
    return out


def evaluate(path: Path, root: str | None) -> None:
    judge = load_judge(path)
    held = genki_split.split_files(root)["heldout"]
    print(f"judge {path} sha256 {judge.sha256}")
    for label, want in (("smile", True), ("non_smile", False)):
        faces = [read_rgb(p) for p in held[label]]
        raw = judge.p_smile(faces) > 0.5
        pasted = judge.p_smile(canvas_crops(faces, SEED)) > 0.5
        print(
            f"held-out {label:9} n={len(faces)}: correct {np.mean(raw == want):.3f} (64 px crops), "
            f"{np.mean(pasted == want):.3f} (cut from 512² canvases)"
        )
    faces, ys = [], []
    for label, yv in (("smile", 1), ("non_smile", 0)):
        faces += [read_rgb(p) for p in held[label]]
        ys += [yv] * len(held[label])
    y = np.array(ys, bool)
    raw = np.mean((judge.p_smile(faces) > 0.5) == y)
    pasted = np.mean((judge.p_smile(canvas_crops(faces, SEED)) > 0.5) == y)
    print(f"held-out accuracy: {raw:.3f} (64 px crops), {pasted:.3f} (cut from 512² canvases)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=("train", "eval"))
    ap.add_argument("--out", type=Path, default=DEFAULT_PATH, help="where the judge is saved")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dev", action="store_true", help="train on 5/6 of the judge part, report dev")
    ap.add_argument("--root", help="GENKI-4K folder (default: $NLF_GENKI_DIR or ../shared/data)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.command == "eval":
        evaluate(args.out, args.root)
        return
    part = genki_split.split_files(args.root)["judge"]
    if args.dev:
        fit = {k: [p for p in v if not is_dev(p.name)] for k, v in part.items()}
        dev = {k: [p for p in v if is_dev(p.name)] for k, v in part.items()}
        x, y = load_set(fit)
        x_dev, y_dev = load_set(dev)
        print(f"dev run: {len(x)} training, {len(x_dev)} dev images (all from the judge part)")
        train(x, y, args.epochs, args.seed, x_dev, y_dev)
        return
    x, y = load_set(part)
    print(f"training on the judge part: {len(x)} images ({int(y.sum())} smiling)")
    t = time.time()
    net = train(x, y, args.epochs, args.seed)
    meta = {"epochs": args.epochs, "seed": args.seed, "images": len(x), "size": SIZE}
    sha = save(net, args.out, meta)
    print(f"wrote {args.out} sha256 {sha} ({time.time() - t:.0f} s)")


if __name__ == "__main__":
    main()
