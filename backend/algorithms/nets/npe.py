"""The Neural Photo Editor's face model: an IAN_simple-like introspective autoencoder.

Brock et al., "Neural Photo Editing with Introspective Adversarial Networks" (ICLR 2017): the
encoder is the discriminator's body with two heads (the latent's mean and log-variance for the
encoder, one logit for the discriminator); the decoder maps a latent back to a face.

Images are (N, 3, S, S) in [-1, 1]; S = 4·2^n (64 and 128 in practice). Only the encoder body,
its mean head and the decoder are needed to paint (``NpeNet``, what a model file holds);
training adds the log-variance and discriminator heads (:class:`NpeTrainNets`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class NpeConfig:
    """``size``: image side; ``zdim``: latent size; ``width``: channels of the first conv."""

    size: int = 64
    zdim: int = 64
    width: int = 32

    @property
    def levels(self) -> int:
        n = round(math.log2(self.size / 4))
        if self.size < 16 or 4 * 2**n != self.size:
            raise ValueError(f"model size must be 4·2^n >= 16, got {self.size}")
        return n

    def channels(self) -> list[int]:
        """Channels after each stride-2 conv of the encoder (capped at 8·width)."""
        return [self.width * min(2**i, 8) for i in range(self.levels)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NpeConfig:
        return cls(int(d["size"]), int(d["zdim"]), int(d["width"]))


class Body(nn.Module):
    """Stride-2 convs down to 4×4 (the discriminator's body = the encoder's)."""

    def __init__(self, cfg: NpeConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i, c in enumerate(cfg.channels()):
            layers.append(nn.Conv2d(c_in, c, 4, 2, 1, bias=i == 0))
            if i:
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c_in = c
        self.net = nn.Sequential(*layers)
        self.out_features = c_in * 16

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """Latent → 4×4 → stride-2 transposed convs (DCGAN-style) → image in [-1, 1]."""

    def __init__(self, cfg: NpeConfig) -> None:
        super().__init__()
        chans = cfg.channels()[::-1]
        self.top = chans[0]
        self.fc = nn.Linear(cfg.zdim, chans[0] * 16)
        layers: list[nn.Module] = [nn.BatchNorm2d(chans[0]), nn.ReLU(inplace=True)]
        for c_in, c_out in itertools.pairwise(chans):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
        layers += [nn.ConvTranspose2d(chans[-1], 3, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.fc(z).view(z.shape[0], self.top, 4, 4))


class NpeNet(nn.Module):
    """What painting needs: ``encode`` (the latent's mean) and ``decode``."""

    def __init__(self, cfg: NpeConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.body = Body(cfg)
        self.mu = nn.Linear(self.body.out_features, cfg.zdim)
        self.dec = Decoder(cfg)

    def encode(self, x: Tensor) -> Tensor:
        return self.mu(self.body(x).flatten(1))

    def decode(self, z: Tensor) -> Tensor:
        return self.dec(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


class NpeTrainNets(nn.Module):
    """Training adds the latent's log-variance head and the discriminator's logit head."""

    def __init__(self, cfg: NpeConfig) -> None:
        super().__init__()
        self.net = NpeNet(cfg)
        self.logvar = nn.Linear(self.net.body.out_features, cfg.zdim)
        self.logit = nn.Linear(self.net.body.out_features, 1)

    def features(self, x: Tensor) -> list[Tensor]:
        """The body's activations after every block (feature-matching targets), last = 4×4."""
        feats = []
        h = x
        for layer in self.net.body.net:
            h = layer(h)
            if isinstance(layer, nn.LeakyReLU):
                feats.append(h)
        return feats


def infer_config(state: Mapping[str, Tensor]) -> dict[str, Any]:
    """The :class:`NpeConfig` (as a dict) of an :class:`NpeNet` state dict; ValueError if none."""
    convs = sorted(
        (int(k.split(".")[2]), v)
        for k, v in state.items()
        if k.startswith("body.net.") and k.endswith(".weight") and v.ndim == 4
    )
    mu = state.get("mu.weight")
    if not convs or mu is None or "dec.fc.weight" not in state:
        raise ValueError("no NPE encoder body.net.* / mu / decoder dec.* weights")
    first = convs[0][1]
    if first.shape[1] != 3:
        raise ValueError(f"the first conv takes {first.shape[1]} channels, not 3")
    cfg = NpeConfig(size=4 * 2 ** len(convs), zdim=int(mu.shape[0]), width=int(first.shape[0]))
    cfg.levels  # noqa: B018  (validates the size)
    return cfg.to_dict()


def build(arch: Mapping[str, Any]) -> NpeNet:
    """An untrained :class:`NpeNet` for an ``arch`` dict (the models store's builder)."""
    return NpeNet(NpeConfig.from_dict(arch))


def probe(net: nn.Module) -> None:
    """Run the loaded net once (the models store's probe); ValueError on non-finite pixels."""
    size = net.cfg.size  # type: ignore[union-attr]
    with torch.no_grad():
        y = net(torch.zeros(1, 3, size, size))  # type: ignore[operator]
    if not torch.isfinite(y).all():
        raise ValueError("the model produces non-finite pixels")
