"""The faces → emoji quality protocol (docs/quality-dtn.md, "Faces → emoji: the model").

On the GENKI-4K ``heldout`` part only (never trained on, :mod:`backend.evaluation.genki_split`):

- **expression kept**: a judge trained only on the rendered emoji's own labels (smileys whose
  Unicode names say smiling / not smiling, in all six colours) reads G(face); the share of faces
  whose emoji it reads as their GENKI label (smiling or not), per class and balanced;
- **skin tone kept**: Spearman's ρ between the face's and the emoji's skin luminance
  (:func:`backend.training.dtn.faces.skin_luminance`: median luma of the cheek box, the emoji's
  opaque pixels only);
- **emoji-ness**: the share of G(face) that a domain judge (emoji vs GENKI face photo, trained
  on the target emoji and the GENKI ``judge`` part) calls emoji;
- a strip of 16 faces above their emoji.

Both judges are small CNNs trained here with fixed seeds; neither sees a DTN output in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from backend.algorithms.nets.dtn import DomainTransfer
from backend.training.dtn import faces


class SmallJudge(nn.Module):
    """A small CNN on 3×S×S images in [-1, 1] → ``classes`` logits."""

    def __init__(self, classes: int = 2) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(0.2),
            nn.Linear(64, classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def _shift(x: Tensor, gen: torch.Generator, max_px: int) -> Tensor:
    """Each image rolled by up to ``max_px`` pixels (edges padded by replication)."""
    p = max_px
    padded = F.pad(x, (p, p, p, p), mode="replicate")
    h, w = x.shape[-2:]
    out = torch.empty_like(x)
    dy, dx = torch.randint(0, 2 * p + 1, (2, len(x)), generator=gen)
    for i in range(len(x)):
        out[i] = padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w]
    return out


def train_judge(
    images: Tensor, labels: Tensor, steps: int = 600, seed: int = 0, batch: int = 64
) -> SmallJudge:
    """A :class:`SmallJudge` trained on uint8 RGB ``images`` (N, 3, S, S), balanced by class."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    judge = SmallJudge(int(labels.max()) + 1)
    opt = torch.optim.Adam(judge.parameters(), lr=2e-3)
    by_class = [torch.nonzero(labels == c).flatten() for c in range(int(labels.max()) + 1)]
    judge.train()
    for _ in range(steps):
        idx = torch.cat(
            [c[torch.randint(0, len(c), (batch // 2,), generator=gen)] for c in by_class]
        )
        x = _shift(images[idx].float() / 127.5 - 1, gen, max(1, images.shape[-1] // 16))
        loss = F.cross_entropy(judge(x), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return judge.eval().requires_grad_(False)


@torch.no_grad()
def predict(judge: nn.Module, images: Tensor) -> Tensor:
    """Class index of uint8 RGB images (N, 3, S, S)."""
    return torch.cat([judge(x.float() / 127.5 - 1).argmax(1) for x in images.split(256)])


def expression_set(emoji: Tensor, rows: list[dict[str, str]]) -> tuple[Tensor, Tensor, Tensor]:
    """(RGB images, labels 1 = smiling, variant index) of the smileys with an expression."""
    keep = [i for i, r in enumerate(rows) if r["expression"] in ("smiling", "not_smiling")]
    labels = torch.tensor([int(rows[i]["expression"] == "smiling") for i in keep])
    variant = torch.tensor([int(rows[i]["file"].rsplit("_", 1)[1].split(".")[0]) for i in keep])
    return emoji[keep, :3], labels, variant


def spearman(a: Tensor, b: Tensor) -> float:
    """Spearman's rank correlation of two 1-D tensors (NaN pairs dropped; no tie correction)."""
    keep = ~(a.isnan() | b.isnan())
    a, b = a[keep].double(), b[keep].double()
    if len(a) < 3:
        return float("nan")
    ra = a.argsort().argsort().double()
    rb = b.argsort().argsort().double()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()).clamp_min(1e-12))


@dataclass
class Judges:
    expression: SmallJudge
    domain: SmallJudge
    expression_heldout_accuracy: float
    """The expression judge on emoji variants it never saw (variants 6 and 7 of each emoji)."""


def build_judges(
    emoji: Tensor, rows: list[dict[str, str]], photos: Tensor, steps: int = 600, seed: int = 0
) -> Judges:
    """The two judges at the emoji's size: uint8 RGBA ``emoji`` (colour over grey) with manifest
    ``rows``, and uint8 RGB face ``photos`` (never the held-out faces) for the domain judge."""
    x, y, variant = expression_set(emoji, rows)
    train = variant < 6
    first = train_judge(x[train], y[train], steps, seed)
    acc = float((predict(first, x[~train]) == y[~train]).float().mean())
    expression = train_judge(x, y, steps, seed)
    both = torch.cat([emoji[:, :3], photos])
    is_emoji = torch.cat([torch.ones(len(emoji)), torch.zeros(len(photos))]).long()
    domain = train_judge(both, is_emoji, steps, seed + 1)
    return Judges(expression, domain, acc)


@torch.no_grad()
def translate_all(net: DomainTransfer | AtSize, photos: Tensor) -> Tensor:
    """uint8 G(photos): (N, 3|4, S, S) at the model's size."""
    size = getattr(net, "input_size", net.cfg.size)
    out = []
    for chunk in photos.split(128):
        x = chunk.float() / 255
        if x.shape[-1] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True)
        out.append((net(x).clamp(0, 1) * 255).round().to(torch.uint8))
    return torch.cat(out)


def evaluate(
    net: DomainTransfer | AtSize, judges: Judges, photos: Tensor, smile: Tensor
) -> dict[str, float]:
    """The protocol's figures for held-out uint8 ``photos`` with GENKI ``smile`` labels."""
    fake = translate_all(net, photos)
    read = predict(judges.expression, fake[:, :3])
    smiling, plain = smile == 1, smile == 0
    kept_smiling = float((read[smiling] == 1).float().mean())
    kept_plain = float((read[plain] == 0).float().mean())
    size = net.cfg.size
    small = F.interpolate(photos.float() / 255, size=(size, size), mode="bilinear", antialias=True)
    rho = spearman(faces.skin_luminance(small), faces.skin_luminance(fake.float() / 255))
    emojiness = float(predict(judges.domain, fake[:, :3]).float().mean())
    return {
        "faces": float(len(photos)),
        "expression_kept": float((read == smile).float().mean()),
        "expression_kept_smiling": kept_smiling,
        "expression_kept_not_smiling": kept_plain,
        "expression_kept_balanced": (kept_smiling + kept_plain) / 2,
        "read_as_smiling": float(read.float().mean()),
        "skin_tone_rho": rho,
        "emojiness": emojiness,
        "photos_called_emoji": float(
            predict(judges.domain, small.mul(255).round().byte()).float().mean()
        ),
    }


def strip_indices(smile: Tensor, photos: Tensor, n: int = 16) -> list[int]:
    """``n`` faces, half smiling and half not, each half spread evenly over skin luminance."""
    lum = faces.skin_luminance(photos.float() / 255)
    chosen = []
    for label in (1, 0):
        idx = torch.nonzero(smile == label).flatten()
        order = idx[lum[idx].argsort()]
        picks = torch.linspace(0, len(order) - 1, n // 2).round().long()
        chosen += order[picks].tolist()
    return chosen


def strip(photos: Tensor, emoji: Tensor, scale: int = 64) -> Image.Image:
    """Faces (top row) above their emoji (bottom row, on a light checkerboard), ``scale`` px."""
    n = len(photos)
    sheet = Image.new("RGB", (n * scale, 2 * scale), (255, 255, 255))
    cell = (np.indices((scale, scale)) // 8).sum(0) % 2
    checker = np.where(cell[..., None] == 1, 205, 250).astype(np.uint8).repeat(3, 2)
    for i in range(n):
        face = photos[i].permute(1, 2, 0).numpy()
        sheet.paste(
            Image.fromarray(face).resize((scale, scale), Image.Resampling.LANCZOS), (i * scale, 0)
        )
        e = emoji[i].float() / 255
        if e.shape[0] == 4:
            a = e[3:]
            rgb = ((e[:3] - faces.GREY * (1 - a)) / a.clamp_min(1e-3)).clamp(0, 1)
            e = torch.cat([rgb, a])
        img = (e.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        mode = "RGBA" if img.shape[2] == 4 else "RGB"
        big = (
            Image.fromarray(img, mode)
            .resize((scale, scale), Image.Resampling.BICUBIC)
            .convert("RGBA")
        )
        back = Image.fromarray(checker).convert("RGBA")
        back.alpha_composite(big)
        sheet.paste(back.convert("RGB"), (i * scale, scale))
    return sheet


def save_judges(judges: Judges, path: str) -> None:
    torch.save(
        {
            "expression": judges.expression.state_dict(),
            "domain": judges.domain.state_dict(),
            "accuracy": torch.tensor(judges.expression_heldout_accuracy),
        },
        path,
    )


def load_judges(path: str) -> Judges:
    state = torch.load(path, map_location="cpu", weights_only=True)
    expression, domain = SmallJudge(), SmallJudge()
    expression.load_state_dict(state["expression"])
    domain.load_state_dict(state["domain"])
    return Judges(expression.eval(), domain.eval(), float(state["accuracy"]))


class AtSize(nn.Module):
    """An image-to-image generator on [-1, 1] (a CycleGAN's A → B) seen as the protocol sees a
    DTN: ``cfg.size`` and (N, 3, S, S) in [0, 1] → (N, 3, S, S) in [0, 1]."""

    def __init__(self, generator: nn.Module, size: int) -> None:
        super().__init__()
        self.generator = generator
        self.cfg = SimpleNamespace(size=size)

    def forward(self, x: Tensor) -> Tensor:
        return (self.generator(x * 2 - 1).clamp(-1, 1) + 1) / 2


class AsSticker(nn.Module):
    """An RGBA DTN seen the way the ``dtn`` filter draws a sticker: g of the mean f code over
    ``backend.filters.dtn.VIEWS`` and chroma smoothed, composited back over grey for the judges.
    The views are zooms and shifts of the crop at :attr:`input_size` (twice the model's),
    shrunk with antialiasing, as the filter shrinks them from a photo."""

    def __init__(self, net: DomainTransfer) -> None:
        super().__init__()
        self.net = net
        self.cfg = net.cfg
        self.input_size = 2 * net.cfg.size

    def forward(self, x: Tensor) -> Tensor:
        from backend.filters.dtn import GREY, VIEWS, draw_sticker

        n = len(x)
        codes = []
        for zoom, dx, dy, mirror in VIEWS:
            theta = x.new_tensor([[1 / zoom, 0.0, -2 * dx / zoom], [0.0, 1 / zoom, -2 * dy / zoom]])
            grid = F.affine_grid(theta.expand(n, 2, 3), list(x.shape), align_corners=False)
            view = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
            size = (self.cfg.size, self.cfg.size)
            view = F.interpolate(view, size=size, mode="bilinear", antialias=True)
            codes.append(self.net.f((view.flip(-1) if mirror else view) * 2 - 1))
        rgb, a = draw_sticker(self.net, torch.stack(codes).mean(0))
        return torch.cat([rgb * a + GREY * (1 - a), a], 1)


def model_from_checkpoint(path: str) -> DomainTransfer:
    """G = g∘f of a run's ``checkpoint.pth`` (its live g), for a run still under way."""
    from backend.algorithms.nets.dtn import DtnConfig, Encoder
    from backend.training.dtn import DtnOptions, DtnTrainer

    state = torch.load(path, map_location="cpu", weights_only=True)
    cfg = DtnConfig.from_dict(dict(state["config"]))
    f = Encoder(cfg)
    f.load_state_dict(state["f"])
    trainer = DtnTrainer(
        f, DtnOptions(**{**state["options"], "constancy": "code"}), torch.device("cpu")
    )
    trainer.g.load_state_dict(state["g"])
    return trainer.transfer()


def run_protocol(
    nets: dict[str, DomainTransfer | AtSize],
    emoji_dir: str,
    genki_root: str | None = None,
    judge_steps: int = 600,
    strip_path: str | None = None,
    judges_path: str | None = None,
) -> tuple[dict[str, dict[str, float]], float]:
    """The protocol for each named model (all at one size): ({name: figures}, the expression
    judge's accuracy on emoji variants it never saw). With ``strip_path`` a strip per model is
    written there (``{name}`` in the path is replaced by the model's name). ``judges_path``
    keeps the judges (trained once, then read back: they never depend on the models)."""
    sizes = {net.cfg.size for net in nets.values()}
    if len(sizes) != 1:
        raise ValueError(f"the models differ in size ({sorted(sizes)}); compare one size at once")
    size = sizes.pop()
    if judges_path and Path(judges_path).is_file():
        judges = load_judges(judges_path)
    else:
        emoji, rows = faces.load_emoji(emoji_dir, size)
        photos_train, _, _ = faces.load_faces(genki_root, size, ("judge",))
        judges = build_judges(emoji, rows, photos_train, judge_steps)
        if judges_path:
            save_judges(judges, judges_path)
    held, smile, _ = faces.load_faces(genki_root, 64, ("heldout",))
    figures = {}
    for name, net in nets.items():
        net = net.eval()
        figures[name] = evaluate(net, judges, held, smile)
        if strip_path:
            pick = strip_indices(smile, held)
            fake = translate_all(net, held[pick])
            strip(held[pick], fake).save(strip_path.replace("{name}", name))
    return figures, judges.expression_heldout_accuracy
