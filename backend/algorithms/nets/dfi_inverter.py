"""A feed-forward inverter for DFI: decode a face from its perceptual features.

``DfiInverter`` maps the backbone's post-ReLU maps of an aligned face (by default vgg16-hed's
relu3_1, relu4_1 and relu5_1 at the pack's 128 px frame, i.e. 32², 16² and 8² maps) back to the
face image. DFI then edits by decoding instead of optimising pixels:
``change = D(φ(x) + α·w) − D(φ(x))`` (``backend.filters.dfi_inverter``), so whatever the decoder
cannot reproduce (its blur) cancels and only the attribute's change remains.

Shape: a small U-Net-like top-down path. The deepest map is reduced by a 1×1 convolution,
upsampled and added to the next map's reduction, refined by 3×3 convolutions, and so on up to the
shallowest map; then nearest-neighbour ×2 upsampling with 3×3 convolutions to the image size and
a sigmoid. Channel counts and layer names are in ``InverterConfig`` and saved with the weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F


@dataclass(frozen=True)
class InverterConfig:
    """What an inverter decodes: ``layers`` (shallow → deep) with ``channels`` each, whose
    shallowest map is ``1 / 2**up`` of the image side; ``width`` is the top-down path's width."""

    layers: tuple[str, ...] = ("relu3_1", "relu4_1", "relu5_1")
    channels: tuple[int, ...] = (256, 512, 512)
    up: int = 2
    width: int = 128

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping) -> InverterConfig:
        return cls(
            layers=tuple(str(x) for x in raw["layers"]),
            channels=tuple(int(x) for x in raw["channels"]),
            up=int(raw["up"]),
            width=int(raw["width"]),
        )


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.2))


class DfiInverter(nn.Module):
    """``forward({layer: (B, C, h, w)})`` → (B, 3, H, W) in [0, 1]."""

    def __init__(self, cfg: InverterConfig = InverterConfig()) -> None:
        super().__init__()
        if len(cfg.layers) != len(cfg.channels) or not cfg.layers:
            raise ValueError("an inverter needs one channel count per layer")
        self.cfg = cfg
        w = cfg.width
        self.reduce = nn.ModuleList(nn.Conv2d(c, w, 1) for c in cfg.channels)
        self.refine = nn.ModuleList(_block(w, w) for _ in cfg.layers)
        widths = [w] + [max(16, (3 * w) // 2 ** (i + 3)) for i in range(cfg.up)]
        self.ups = nn.ModuleList(_block(widths[i], widths[i + 1]) for i in range(cfg.up))
        self.out = nn.Conv2d(widths[-1], 3, 3, padding=1)

    def forward(self, feats: Mapping[str, Tensor]) -> Tensor:
        h: Tensor | None = None
        for i in reversed(range(len(self.cfg.layers))):
            r = self.reduce[i](feats[self.cfg.layers[i]])
            if h is not None:
                r = r + F.interpolate(h, size=r.shape[-2:], mode="bilinear", align_corners=False)
            h = self.refine[i](r)
        assert h is not None
        for up in self.ups:
            h = up(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return torch.sigmoid(self.out(h))


def load_inverter(state: Mapping[str, Tensor], config: Mapping) -> DfiInverter:
    """An inverter in float32 eval mode from a saved state dict and its config dict."""
    net = DfiInverter(InverterConfig.from_dict(config))
    net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return net.eval().requires_grad_(False)
