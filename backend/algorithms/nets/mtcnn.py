"""MTCNN's three small nets (Zhang, Zhang, Li & Qiao, IEEE SPL 2016): P-Net, R-Net and O-Net.

Layer names and shapes follow the trained weights shipped in the ``facenet-pytorch`` wheel (MIT),
which were converted from the authors' Caffe models; ``backend.assets.weights.mtcnn`` turns them
into
one ``mtcnn.pth`` state dict with ``pnet.`` / ``rnet.`` / ``onet.`` prefixes.

Conventions the weights were trained with (``backend.algorithms.faces.detect`` applies them):

- input: RGB pixels in [0, 255] mapped to ``(x - 127.5) / 128``;
- the dense layers of R-Net and O-Net read their input flattened in (W, H, C) order (the Caffe
  models were trained on transposed MATLAB images), hence the ``permute(0, 3, 2, 1)``;
- outputs: P-Net a face probability map and a box-offset map (stride 2, 12×12 cells);
  R-Net face probability and box offsets per 24×24 crop; O-Net the same per 48×48 crop plus
  five landmarks (x of the 5 points, then y of the 5 points, in [0, 1] of the crop).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn


class PNet(nn.Module):
    """Fully convolutional proposal net: (B,3,H,W) → (face prob (B,H',W'), offsets (B,4,H',W'))."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, 3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, 3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, 3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_1(x).softmax(1)[:, 1], self.conv4_2(x)


class RNet(nn.Module):
    """Refinement net on 24×24 crops: (B,3,24,24) → (face prob (B,), offsets (B,4))."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, 3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, 3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, 2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = self.prelu4(self.dense4(x.permute(0, 3, 2, 1).flatten(1)))
        return self.dense5_1(x).softmax(1)[:, 1], self.dense5_2(x)


class ONet(nn.Module):
    """Output net on 48×48 crops: (B,3,48,48) → (face prob (B,), offsets (B,4), points (B,10))."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, 3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, 2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.dense5(x.permute(0, 3, 2, 1).flatten(1)))
        return self.dense6_1(x).softmax(1)[:, 1], self.dense6_2(x), self.dense6_3(x)


class MTCNN(nn.Module):
    """The three nets together; ``state_dict`` keys are ``pnet.*``, ``rnet.*``, ``onet.*``."""

    def __init__(self, state_dict: Mapping[str, Tensor] | None = None) -> None:
        super().__init__()
        self.pnet, self.rnet, self.onet = PNet(), RNet(), ONet()
        if state_dict is not None:
            self.load_state_dict(dict(state_dict), strict=True)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> MTCNN:
        """Always stays in eval mode (frozen nets)."""
        return super().train(False)


def random_mtcnn(seed: int = 0) -> MTCNN:
    """Seeded random nets with the real shapes (for unit tests: they find nothing meaningful)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MTCNN()
