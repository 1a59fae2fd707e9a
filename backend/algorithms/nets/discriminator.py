"""CycleGAN's PatchGAN discriminator with the official layout (``NLayerDiscriminator``).

With ``n_layers`` 3 and ``ndf`` 64 each output cell sees a 70x70 patch (Isola et al. 2017).
Norm is ``InstanceNorm2d(affine=False)``, so every conv keeps its bias, as upstream does.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class NLayerDiscriminator(nn.Module):
    """(B, C, H, W) in [-1, 1] -> (B, 1, h, w) patch scores (raw; LSGAN compares them to 0 / 1)."""

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1),
                nn.InstanceNorm2d(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class ClassAwareDiscriminator(NLayerDiscriminator):
    """A PatchGAN that also reads the class of its input (semi-supervised CycleGAN).

    The auxiliary head pools the features under the last convolution (mean and max over space)
    into ``n_classes`` logits; the patch scores are those of :class:`NLayerDiscriminator`, whose
    keys it keeps (plus ``classifier.*``).
    """

    def __init__(self, n_classes: int, input_nc: int = 3, ndf: int = 64, n_layers: int = 3):
        super().__init__(input_nc, ndf, n_layers)
        last = self.model[-1]
        assert isinstance(last, nn.Conv2d)
        self.classifier = nn.Linear(2 * last.in_channels, n_classes)

    def both(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(patch scores, class logits)."""
        h = self.model[:-1](x)
        pooled = torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1)
        return self.model[-1](h), self.classifier(pooled)

    def classify(self, x: Tensor) -> Tensor:
        return self.both(x)[1]


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """Upstream's ``init_weights(init_type="normal")``: conv weights N(0, 0.02), biases zero."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net
