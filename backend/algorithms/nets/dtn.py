"""Domain Transfer Network nets (Taigman, Polyak & Wolf, ICLR 2017): f, g and the ternary D.

The digit architectures of the public ports [yunjey/domain-transfer-network: model.py;
taey16/DomainTransferNetwork.pytorch], generalised to any power-of-two size >= 32:

- :class:`Encoder` f: stride-2 3×3 convs (64, 128, 256, ... channels) down to 4×4, then a 4×4
  valid conv to a ``code_dim`` vector (1×1 map) squashed by tanh. Pretrained as a classifier
  through :class:`Classifier` (f + a linear head) and then frozen.
- :class:`Generator` g: a 4×4 transposed conv from the 1×1 code to 4×4, then stride-2 3×3
  transposed convs up to the image size, tanh output in [-1, 1].
- :class:`Discriminator` D: stride-2 3×3 convs down to 4×4, then a 4×4 valid conv to 3 logits:
  class 0 = G(x) for x∈S, class 1 = G(x) for x∈T, class 2 = a real target image.

All nets take and return images in [-1, 1]; ``width`` scales every channel count (1.0 = the
paper's digit nets), so the same code gives the tiny nets of the tests.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

FAKE_SOURCE, FAKE_TARGET, REAL_TARGET = 0, 1, 2
"""The ternary discriminator's classes."""


@dataclass(frozen=True)
class DtnConfig:
    """Shape of a DTN: image ``size`` (power of two >= 32), code size and channel ``width``."""

    size: int = 32
    code_dim: int = 128
    width: float = 1.0
    classes: int = 10
    channels: int = 3
    """Channels of g's output and D's input: 3 (RGB) or 4 (RGBA targets such as emoji)."""
    expression: int = 0
    """Classes of f's head kept in G to exaggerate the smile f reads (:class:`Expression`);
    0: none."""
    prototypes: int = 0
    """Emoji codes kept in G that a face's code is drawn onto (:class:`Prototypes`); 0: none."""

    def __post_init__(self) -> None:
        if self.size < 32 or self.size & (self.size - 1):
            raise ValueError(f"DTN size must be a power of two >= 32, got {self.size}")
        bad = self.code_dim < 1 or round(64 * self.width) < 4 or self.classes < 2
        if bad or self.channels not in (3, 4) or self.expression < 0 or self.expression % 2:
            raise ValueError(f"bad DTN config {self}")
        if self.prototypes < 0:
            raise ValueError(f"bad DTN config {self}")

    @property
    def downsamples(self) -> int:
        """Stride-2 stages between the image and the 4×4 map."""
        return int(math.log2(self.size)) - 2

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> DtnConfig:
        names = ("size", "code_dim", "width", "classes", "channels", "expression", "prototypes")
        known = {k: raw[k] for k in names if k in raw}
        return cls(
            size=int(known.get("size", 32)),  # type: ignore[arg-type]
            code_dim=int(known.get("code_dim", 128)),  # type: ignore[arg-type]
            width=float(known.get("width", 1.0)),  # type: ignore[arg-type]
            classes=int(known.get("classes", 10)),  # type: ignore[arg-type]
            channels=int(known.get("channels", 3)),  # type: ignore[arg-type]
            expression=int(known.get("expression", 0)),  # type: ignore[arg-type]
            prototypes=int(known.get("prototypes", 0)),  # type: ignore[arg-type]
        )


def _ch(base: int, width: float) -> int:
    return max(4, round(base * width))


def _down_channels(cfg: DtnConfig, first: int) -> list[int]:
    """Channel counts after each stride-2 stage: first, 2·first, 4·first, ... (≤ 8·first)."""
    return [_ch(first * min(2**i, 8), cfg.width) for i in range(cfg.downsamples)]


class Encoder(nn.Module):
    """f: (N, 3, S, S) in [-1, 1] → (N, code_dim, 1, 1) in [-1, 1]."""

    def __init__(self, cfg: DtnConfig) -> None:
        super().__init__()
        chans = _down_channels(cfg, 64)
        layers: list[nn.Module] = []
        c_in = 3
        for c in chans:
            layers += [
                nn.Conv2d(c_in, c, 3, 2, 1, bias=False),
                nn.BatchNorm2d(c),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            c_in = c
        layers += [nn.Conv2d(c_in, cfg.code_dim, 4, 1, 0), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.cfg = cfg

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Classifier(nn.Module):
    """f followed by a linear head: how f is pretrained on labelled source images."""

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.cfg.code_dim, encoder.cfg.classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x).flatten(1))


class Generator(nn.Module):
    """g: (N, code_dim, 1, 1) → (N, 3, S, S) in [-1, 1]."""

    def __init__(self, cfg: DtnConfig) -> None:
        super().__init__()
        chans = list(reversed(_down_channels(cfg, 64)))
        chans = [c * 2 for c in chans]  # g is twice as wide as f (512-256-128 at width 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(cfg.code_dim, chans[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(chans[0]),
            nn.ReLU(inplace=True),
        ]
        for c_in, c_out in itertools.pairwise(chans):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
        out = cfg.channels
        layers += [nn.ConvTranspose2d(chans[-1], out, 3, 2, 1, output_padding=1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.cfg = cfg

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    """D: (N, 3, S, S) → (N, 3) logits over FAKE_SOURCE, FAKE_TARGET, REAL_TARGET."""

    def __init__(self, cfg: DtnConfig) -> None:
        super().__init__()
        chans = _down_channels(cfg, 128)[: cfg.downsamples]
        chans = [min(c, _ch(512, cfg.width)) for c in chans]
        layers: list[nn.Module] = []
        c_in = cfg.channels
        for i, c in enumerate(chans):
            layers.append(nn.Conv2d(c_in, c, 3, 2, 1, bias=i == 0))
            if i:
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c_in = c
        layers.append(nn.Conv2d(c_in, 3, 4, 1, 0))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten(1)


class Expression(nn.Module):
    """A caricature of the smile f reads: z + k·(2·P(smiling | z) − 1)·axis, clamped to [-1, 1].

    P(smiling) is f's pretraining head summed over the smiling half of its classes (faces →
    emoji: smile × 9 + ..., ``training.dtn.faces.joint_labels``); ``axis`` is half the difference
    between the mean codes of the smiling and the not-smiling labelled emoji and ``strength`` k,
    so a face f reads as smiling is moved towards the smiling emoji and one it reads as not
    smiling away from them. g then draws the expression f reads more plainly."""

    def __init__(self, code_dim: int, classes: int) -> None:
        super().__init__()
        self.head = nn.Linear(code_dim, classes)
        self.register_buffer("axis", torch.zeros(code_dim))
        self.register_buffer("strength", torch.zeros(()))

    def smiling(self, z: Tensor) -> Tensor:
        """(N,) P(smiling) of codes (N, C, 1, 1)."""
        p = self.head(z.flatten(1)).softmax(1)
        return p[:, p.shape[1] // 2 :].sum(1)

    def forward(self, z: Tensor) -> Tensor:
        sign = (2 * self.smiling(z) - 1).view(-1, 1, 1, 1)
        return (z + self.strength * sign * self.axis.view(1, -1, 1, 1)).clamp(-1, 1)


PROTOTYPE_K = 8
"""How many of the nearest stored emoji codes :class:`Prototypes` averages."""


class Prototypes(nn.Module):
    """Draw a face's code onto the emoji codes g draws well: z' = (1 − w)·z + w·(mean of the
    ``k`` stored ``codes`` nearest to z).

    ``codes`` (P, C) are f's codes of the labelled emoji whose rebuilding g(f(t)) is closest to
    t (``training.dtn.trainer.DtnTrainer.fit_prototypes``). A face's code can lie in range and
    near training faces yet where g draws blotches (a photo near the "three hearts" smileys,
    docs/quality-dtn.md, "The sticker on photos"); the mean of its nearest well-drawn emoji
    codes is a code g draws as a clean emoji, chosen by f alone."""

    def __init__(self, code_dim: int, count: int) -> None:
        super().__init__()
        self.register_buffer("codes", torch.zeros(count, code_dim))
        self.register_buffer("k", torch.tensor(PROTOTYPE_K))
        self.register_buffer("weight", torch.ones(()))

    def forward(self, z: Tensor) -> Tensor:
        flat = z.flatten(1)
        k = max(1, min(int(self.k), len(self.codes)))
        near = torch.cdist(flat, self.codes.to(flat)).topk(k, largest=False).indices
        target = self.codes.to(flat)[near].mean(1)
        return torch.lerp(flat, target, self.weight.to(flat)).view_as(z)


class DomainTransfer(nn.Module):
    """G = g∘f on images in [0, 1] at the model's size: the inference half of a DTN.

    With ``cfg.channels`` 4 the output is RGBA: colour composited over mid grey, then alpha.
    With ``cfg.prototypes`` the code is drawn onto the stored emoji codes (:class:`Prototypes`)
    and then, with ``cfg.expression``, passes through :class:`Expression` between f and g."""

    def __init__(self, cfg: DtnConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.f = Encoder(cfg)
        self.g = Generator(cfg)
        self.expression = Expression(cfg.code_dim, cfg.expression) if cfg.expression else None
        self.prototypes = Prototypes(cfg.code_dim, cfg.prototypes) if cfg.prototypes else None

    def express(self, z: Tensor) -> Tensor:
        """f's code as g receives it (through :class:`Prototypes` and :class:`Expression` when
        the model has them)."""
        if self.prototypes is not None:
            z = self.prototypes(z)
        return self.expression(z) if self.expression is not None else z

    def forward(self, x: Tensor) -> Tensor:
        """(N, 3, S, S) in [0, 1] → (N, channels, S, S) in [0, 1]."""
        return (self.g(self.express(self.f(x * 2 - 1))) + 1) / 2


def tv_loss(z: Tensor, beta: float = 1.0) -> Tensor:
    """The paper's total variation: mean of ((∂x z)² + (∂y z)²)^(B/2) over pixels."""
    dx = z[..., :-1, 1:] - z[..., :-1, :-1]
    dy = z[..., 1:, :-1] - z[..., :-1, :-1]
    return (dx.pow(2) + dy.pow(2) + 1e-8).pow(beta / 2).mean()


def diff_augment(x: Tensor, gen: torch.Generator | None = None) -> Tensor:
    """DiffAugment (Zhao et al., NeurIPS 2020) for D's inputs: random translation and cutout.

    Shifts each image by up to 1/8 of its side (edge pixels repeat) and blanks one random square
    of half the side to the image's minimum, all differentiably, so D sees real and generated
    images through the same random views and cannot memorise a small target set.
    """
    n, _, h, w = x.shape
    dev = x.device
    shift = (torch.rand(n, 2, generator=gen) - 0.5) * 0.25  # fraction of the side, ±1/8
    px = torch.stack([(shift[:, 0] * w).round() / w * 2, (shift[:, 1] * h).round() / h * 2], 1)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, :, 2] = px
    grid = F.affine_grid(theta.to(dev, x.dtype), [n, 1, h, w], align_corners=False)
    x = F.grid_sample(x, grid, mode="nearest", padding_mode="border", align_corners=False)
    cy = torch.randint(0, h, (n, 1, 1), generator=gen).to(dev)
    cx = torch.randint(0, w, (n, 1, 1), generator=gen).to(dev)
    ys = torch.arange(h, device=dev).view(1, h, 1)
    xs = torch.arange(w, device=dev).view(1, 1, w)
    hole = ((ys - cy).abs() < h // 4) & ((xs - cx).abs() < w // 4)
    low = x.amin(dim=(1, 2, 3), keepdim=True)
    return torch.where(hole.unsqueeze(1), low, x)


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: N(0, 0.02) convs, N(1, 0.02) BatchNorm scales."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def build(cfg: DtnConfig) -> tuple[Encoder, Generator, Discriminator]:
    """Fresh, initialised f, g and D for ``cfg``."""
    nets = Encoder(cfg), Generator(cfg), Discriminator(cfg)
    for n in nets:
        init_weights(n)
    return nets


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@torch.no_grad()
def probe_shapes(cfg: DtnConfig) -> dict[str, tuple[int, ...]]:
    """Output shapes of f, g and D on one random image (a cheap self-check)."""
    f, g, d = build(cfg)
    for n in (f, g, d):
        n.eval()
    x = torch.rand(1, 3, cfg.size, cfg.size) * 2 - 1
    z = f(x)
    return {"f": tuple(z.shape), "g": tuple(g(z).shape), "d": tuple(d(x).shape)}


def infer_config(state: Mapping[str, Tensor]) -> dict[str, Any]:
    """The ``DtnConfig`` (as a dict) of a :class:`DomainTransfer` state dict; ValueError if none.

    f's stride-2 convs give the size (4·2^n) and width (first conv's channels / 64); its last conv
    gives the code size. The store then loads the weights with ``strict=True``.
    """
    convs = sorted(
        (int(k.split(".")[2]), v)
        for k, v in state.items()
        if k.startswith("f.net.") and k.endswith(".weight") and v.ndim == 4
    )
    if len(convs) < 4 or not any(k.startswith("g.net.") for k in state):
        raise ValueError("no DTN encoder f.net.* / generator g.net.* weights")
    first, last = convs[0][1], convs[-1][1]
    if first.shape[1] != 3 or last.shape[2:] != (4, 4):
        raise ValueError(f"unexpected encoder shapes {tuple(first.shape)} / {tuple(last.shape)}")
    g_convs = sorted(
        (int(k.split(".")[2]), v)
        for k, v in state.items()
        if k.startswith("g.net.") and k.endswith(".weight") and v.ndim == 4
    )
    channels = int(g_convs[-1][1].shape[1]) if g_convs else 3
    head = state.get("expression.head.weight")
    bank = state.get("prototypes.codes")
    cfg = DtnConfig(
        size=4 * 2 ** (len(convs) - 1),
        code_dim=int(last.shape[0]),
        width=first.shape[0] / 64,
        channels=channels,
        expression=int(head.shape[0]) if head is not None else 0,
        prototypes=int(bank.shape[0]) if bank is not None else 0,
    )
    return cfg.to_dict()


def build_transfer(arch: Mapping[str, Any]) -> DomainTransfer:
    """An untrained :class:`DomainTransfer` for an ``arch`` dict (the models store's builder)."""
    return DomainTransfer(DtnConfig.from_dict(dict(arch)))
