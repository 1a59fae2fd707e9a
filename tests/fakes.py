"""Test-only filters (never registered in the product) and request builders."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from backend.errors import BadState
from backend.filters.base import Filter, FilterInput, OutputLayer, Outputs, Step, StepCallback
from backend.params import param
from nlf_client import Layer, Mask

if TYPE_CHECKING:
    from backend.algorithms.faces import Face


@dataclass(frozen=True)
class InvertParams:
    amount: float = param(1.0, label="Amount", min=0.0, max=1.0, step=0.1)


class InvertFilter(Filter):
    """Inverts RGB: a fast, exactly predictable filter for transport and editor tests."""

    id, label, params = "test_invert", "Invert (test)", InvertParams
    margin = 0

    def run(self, job: FilterInput, p: InvertParams, on_step: StepCallback) -> list[OutputLayer]:
        on_step(Step(0, 1, "invert"))
        out = job.image * (1 - p.amount) + (1 - job.image) * p.amount
        on_step(Step(1, 1, "invert", preview=out))
        return [OutputLayer(f"Invert {p.amount:g}", out)]


@dataclass(frozen=True)
class SlowParams:
    steps: int = param(50, label="Steps", min=1, max=10000)
    delay: float = param(0.1, label="Delay", min=0.0, max=10.0)


class SlowFilter(Filter):
    """Sleeps between steps (cancellation and queue tests); returns the image darkened."""

    id, label, params = "test_slow", "Slow (test)", SlowParams
    margin = 0

    def run(self, job: FilterInput, p: SlowParams, on_step: StepCallback) -> list[OutputLayer]:
        for i in range(p.steps):
            on_step(Step(i, p.steps, "sleeping", f"step {i + 1} of {p.steps}"))
            time.sleep(p.delay)
        on_step(Step(p.steps, p.steps, "done"))
        return [OutputLayer("Slow", job.image * 0.5)]


class BrokenFilter(Filter):
    """Raises an unexpected error (INTERNAL mapping, server survives)."""

    id, label, params = "test_broken", "Broken (test)", SlowParams

    def run(self, job: FilterInput, p: SlowParams, on_step: StepCallback) -> list[OutputLayer]:
        raise ZeroDivisionError("boom")


@dataclass(frozen=True)
class CountParams:
    amount: float = param(0.1, label="Amount", min=0.0, max=1.0)


class CountFilter(Filter):
    """A stateful filter: its state counts the runs (b"count:N"); the image darkens by
    ``amount`` per run so far. Garbage state raises BadState (the contract's state tests)."""

    id, label, params = "test_count", "Count (test)", CountParams
    margin = 0

    def run(self, job: FilterInput, p: CountParams, on_step: StepCallback) -> Outputs:
        runs = 0
        if job.state:
            head, _, tail = job.state.partition(b":")
            if head != b"count" or not tail.isdigit():
                raise BadState("not a count state")
            runs = int(tail)
        runs += 1
        on_step(Step(1, 1, "count", f"run {runs}"))
        out = (job.image * (1 - p.amount) ** runs).clamp(0, 1)
        return Outputs([OutputLayer(f"Count {runs}", out)], b"count:%d" % runs)


TEST_FILTERS = (InvertFilter, SlowFilter, BrokenFilter, CountFilter)


class FakeFaceFinder:
    """Stands in for MTCNN on random test images: any region that is not flat is "a face".

    The image is split into ``grid`` × ``grid`` (or rows × cols) cells; each cell whose pixels
    vary (std > 0.02) holds one face filling ``fraction`` (60 %) of the cell, with the pack
    template's landmarks. A flat image has no face. With the default grid of 1 the face is
    framed like ``DEFAULT_TEMPLATE`` in the central square. It returns real ``Face`` objects,
    so alignment code runs on them unchanged.
    """

    def __init__(self, grid: int | tuple[int, int] = 1, fraction: float = 0.6) -> None:
        self.grid = grid
        self.fraction = fraction
        self.calls = 0

    def find(self, image: torch.Tensor, min_face: float | None = None) -> list[Face]:
        from backend.algorithms.faces import Face
        from backend.assets.pack_faces import TEMPLATE

        if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] != 3:
            raise ValueError(f"expected a (1, 3, H, W) image, got {tuple(image.shape)}")
        self.calls += 1
        h, w = image.shape[-2:]
        rows, cols = (self.grid, self.grid) if isinstance(self.grid, int) else self.grid
        faces = []
        for i in range(rows):
            for j in range(cols):
                y0, y1 = h * i // rows, h * (i + 1) // rows
                x0, x1 = w * j // cols, w * (j + 1) // cols
                if float(image[..., y0:y1, x0:x1].std()) <= 0.02:
                    continue
                side = self.fraction * min(y1 - y0, x1 - x0)
                fx, fy = (x0 + x1 - side) / 2, (y0 + y1 - side) / 2
                points = torch.tensor(TEMPLATE) * side + torch.tensor([fx, fy])
                faces.append(Face((fx, fy, fx + side, fy + side), points.float(), 0.999))
        return faces


def rgba(width: int, height: int, fmt: str = "u8", seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if fmt == "u8":
        return rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    if fmt == "u16":
        return rng.integers(0, 65536, (height, width, 4), dtype=np.uint16)
    return rng.random((height, width, 4), dtype=np.float32)


def make_layer(width: int, height: int, fmt: str = "u8", seed: int = 0) -> Layer:
    arr = rgba(width, height, fmt, seed)
    return Layer(arr.astype(arr.dtype.newbyteorder("<")).tobytes(), width, height, fmt)


def rect_mask(width: int, height: int, x0: int, y0: int, x1: int, y1: int) -> Mask:
    m = np.zeros((height, width), np.uint8)
    m[y0:y1, x0:x1] = 255
    return Mask(m.tobytes(), width, height)


def as_array(layer: Layer) -> np.ndarray:
    dtype = {"u8": "<u1", "u16": "<u2", "f32": "<f4"}[layer.format]
    return np.frombuffer(layer.pixels, dtype=dtype).reshape(layer.height, layer.width, 4)
