"""What every filter is: a small class with a params dataclass and a pure ``run``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor

from backend.errors import Missing
from backend.steps import Step, StepCallback  # noqa: F401 (filters report progress with them)

if TYPE_CHECKING:
    from backend.algorithms.faces import FaceFinder
    from backend.algorithms.features import VGGFeatures


@dataclass(frozen=True)
class FilterInput:
    """The pixels a filter works on, already cropped to the selection's bounding box + margin.

    image:  (1, 3, H, W) float32 RGB in [0, 1] (straight colour), on the filter's device.
    alpha:  (1, 1, H, W) float32 in [0, 1].
    mask:   (1, 1, H, W) float32 selection coverage in [0, 1] (all ones when nothing is selected).
    box:    (x0, y0, x1, y1) of the selection's bounding box inside the crop (x1, y1 exclusive).
    extras: extra named layers (style, maps) as (1, 4, h, w) float32 RGBA, uncropped.
    origin / extra_origins: document positions of the crop and of each extra layer
            (:meth:`extra_in_crop` lays an extra layer over the crop with them).
    state:  opaque bytes a stateful filter returned from an earlier run (``Outputs.state``),
            carried by the client; empty = start fresh. Validate it (raise ``BadState``).
    """

    image: Tensor
    alpha: Tensor
    mask: Tensor
    box: tuple[int, int, int, int]
    extras: Mapping[str, Tensor] = field(default_factory=dict)
    state: bytes = b""
    origin: tuple[int, int] = (0, 0)
    """The crop's top-left corner in document coordinates (the layer's offset + crop corner)."""
    extra_origins: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Each extra layer's top-left corner in document coordinates."""

    def extra_in_crop(self, name: str) -> Tensor:
        """Extra layer ``name`` laid over the crop by document position: (1, 4, H, W) RGBA,
        transparent where that layer does not reach (a paint layer drawn over the photo)."""
        extra = self.extras[name]
        ox, oy = self.extra_origins.get(name, self.origin)
        out = extra.new_zeros(1, 4, self.height, self.width)
        dx, dy = ox - self.origin[0], oy - self.origin[1]
        h, w = extra.shape[-2:]
        x0, y0 = max(0, dx), max(0, dy)
        x1, y1 = min(self.width, dx + w), min(self.height, dy + h)
        if x1 > x0 and y1 > y0:
            out[..., y0:y1, x0:x1] = extra[..., y0 - dy : y1 - dy, x0 - dx : x1 - dx]
        return out

    @property
    def height(self) -> int:
        return int(self.image.shape[-2])

    @property
    def width(self) -> int:
        return int(self.image.shape[-1])


@dataclass(frozen=True)
class OutputLayer:
    """A result layer for the crop: ``image`` is (1, 3, H, W) in [0, 1] at the crop's size.

    The runner composites it through the selection into a layer the size of the input layer, so
    every pixel outside the selection is bit-identical to the input and alpha is kept.

    With ``alpha`` (1, 1, H, W) in [0, 1] the layer is a *sticker* instead: ``image`` (straight
    colour) with that alpha inside the crop, and transparent everywhere else, so it stacks on the
    untouched source layer.
    """

    name: str
    image: Tensor
    alpha: Tensor | None = None


@dataclass(frozen=True)
class Outputs:
    """What a stateful filter's ``run`` returns: its layers and the state for the next run.

    Filters stay pure: state in (``FilterInput.state``), state out; the client carries it
    (``RunHeader.state`` → ``Done.state``). Stateless filters return a plain list of layers.
    """

    layers: Sequence[OutputLayer]
    state: bytes = b""


@dataclass
class Context:
    """What filters may use: the device, folders, and the shared backbone (created lazily)."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    weights_dir: Path = Path(".")
    attributes_dir: Path = Path(".")
    models_dir: Path = Path(".")
    backbone_factory: Callable[[], VGGFeatures] | None = None
    _backbone: VGGFeatures | None = None
    face_finder_factory: Callable[[], FaceFinder] | None = None
    _face_finder: FaceFinder | None = None

    def backbone_missing(self) -> list[Missing]:
        """What must be fetched before ``backbone()`` can work (empty when it can)."""
        if self._backbone is not None or self.backbone_factory is not None:
            return []
        from backend.assets.nets import default_backbone_name
        from backend.errors import WeightsMissing

        return [] if default_backbone_name(self.weights_dir) else [WeightsMissing("vgg16-hed")]

    def backbone(self) -> VGGFeatures:
        """The one frozen VGG feature extractor of this process (raises WeightsMissing)."""
        if self._backbone is None:
            if self.backbone_factory is None:
                from backend.assets.nets import default_backbone

                self._backbone = default_backbone(self.weights_dir, self.device)
            else:
                self._backbone = self.backbone_factory()
        return self._backbone

    def face_finder_missing(self) -> list[Missing]:
        """What must be fetched before ``face_finder()`` can work (empty when it can)."""
        if self._face_finder is not None or self.face_finder_factory is not None:
            return []
        from backend.assets import weights
        from backend.errors import WeightsMissing

        return [] if weights.find("mtcnn", self.weights_dir) else [WeightsMissing("mtcnn")]

    def face_finder(self) -> FaceFinder:
        """The one MTCNN face finder of this process (raises WeightsMissing("mtcnn"))."""
        if self._face_finder is None:
            if self.face_finder_factory is None:
                from backend.assets.nets import load_face_finder

                self._face_finder = load_face_finder(self.weights_dir, self.device)
            else:
                self._face_finder = self.face_finder_factory()
        return self._face_finder


class Filter:
    """Base class of filters. Subclasses set the class attributes and implement ``run``."""

    id: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    category: ClassVar[str] = "Neural"
    params: ClassVar[type]
    margin: ClassVar[int] = 16
    """Pixels of context around the selection's bounding box that the filter sees."""
    uses_backbone: ClassVar[bool] = False
    """True for filters that need the shared VGG (their status then reports missing weights)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def missing(self) -> list[Missing]:
        """What must be installed before this filter can run (empty when ready)."""
        return []

    def dynamic_choices(self) -> Mapping[str, Sequence[str]]:
        """Current choices for params declared with ``dynamic=`` (installed packs, models)."""
        return {}

    def dynamic_notes(self) -> Mapping[str, str]:
        """Text about the current choices, per ``dynamic`` key, appended to the param's help."""
        return {}

    def run(
        self, job: FilterInput, p: Any, on_step: StepCallback
    ) -> Sequence[OutputLayer] | Outputs:
        raise NotImplementedError


_REGISTRY: dict[str, type[Filter]] = {}


def register_filter(cls: type[Filter]) -> type[Filter]:
    """Class decorator: make a filter available under its ``id``."""
    if cls.id in _REGISTRY and _REGISTRY[cls.id] is not cls:
        raise ValueError(f"filter id '{cls.id}' registered twice")
    _REGISTRY[cls.id] = cls
    return cls


def unregister_filter(filter_id: str) -> None:
    """Remove a filter (tests register test-only filters and remove them again)."""
    _REGISTRY.pop(filter_id, None)


def registered() -> dict[str, type[Filter]]:
    """All registered filter classes by id (``backend.filters.load_all()`` registers ours)."""
    return dict(_REGISTRY)
