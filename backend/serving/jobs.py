"""One filter job from wire images to wire images: the path every caller shares.

decode + validate → crop to the selection (+ the filter's margin) → ``filter.run`` → composite
through the selection → result layers the size, offset and format of the input layer.
"""

from __future__ import annotations

import gc
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from backend.errors import BadImage, Cancelled, ParamError, shown
from backend.filters.base import Filter, FilterInput, Outputs, StepCallback
from backend.params import parse_values, schema_of
from backend.serving import imaging
from backend.serving.imaging import WireImage


@dataclass
class Job:
    """A request as the runner sees it (no proto types)."""

    filter_id: str
    layer: WireImage
    mask: WireImage | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    extras: Mapping[str, WireImage] = field(default_factory=dict)
    state: bytes = b""
    """Opaque state from an earlier run of a stateful filter (empty: start fresh)."""
    in_place: bool = False
    """The layer's bytes may become the first result (shared memory: they lie where the client
    asked for its results), so that result is blended over them instead of into a copy."""


@dataclass(frozen=True)
class Executed:
    """A job's result layers and the filter's state for the next run (empty: none)."""

    layers: list[WireImage]
    state: bytes = b""


@dataclass(frozen=True)
class _Decoded:
    params: Any
    layer: np.ndarray
    mask: np.ndarray | None
    extras: dict[str, np.ndarray]


def _decode(job: Job, flt: Filter, max_pixels: int) -> _Decoded:
    """Check every image once and parse the params; the arrays are views of the wire bytes."""
    layer = imaging.check_image("the layer", job.layer, max_pixels)
    mask = imaging.check_mask(job.mask, job.layer)
    extras = {
        name: imaging.check_image(f"layer '{name}'", extra, max_pixels)
        for name, extra in job.extras.items()
    }
    dynamic = flt.dynamic_choices()
    layer_params = set(layer_names(flt))
    stray = sorted(set(job.extras) - layer_params)
    if stray:
        takes = ", ".join(sorted(layer_params)) or "none"
        raise ParamError(
            f"extra layer '{shown(stray[0])}' is not a layer parameter (takes: {takes})"
        )
    params = parse_values(flt.params, job.params, dynamic, layers=list(job.extras))
    return _Decoded(params, layer, mask, extras)


def layer_names(flt: Filter) -> list[str]:
    """Names of the filter's layer parameters: the extra layers a request may carry."""
    return [s.name for s in schema_of(flt.params) if s.kind == "layer"]


def validate(job: Job, flt: Filter, max_pixels: int = imaging.DEFAULT_MAX_PIXELS) -> Any:
    """Check images and params without running anything; return the typed params."""
    return _decode(job, flt, max_pixels).params


def execute(
    flt: Filter,
    job: Job,
    on_step: StepCallback,
    max_pixels: int = imaging.DEFAULT_MAX_PIXELS,
) -> list[WireImage]:
    """Run ``flt`` on ``job``; every pixel outside the selection comes back bit-identical."""
    return execute_job(flt, job, on_step, max_pixels).layers


def execute_job(
    flt: Filter,
    job: Job,
    on_step: StepCallback,
    max_pixels: int = imaging.DEFAULT_MAX_PIXELS,
) -> Executed:
    """:func:`execute`, also returning the state a stateful filter hands to the next run."""
    decoded = _decode(job, flt, max_pixels)
    params, layer, mask = decoded.params, decoded.layer, decoded.mask
    missing = flt.missing()
    if missing:
        raise missing[0]
    fmt, w, h = job.layer.format, job.layer.width, job.layer.height
    sel = imaging.selection_rect(mask, w, h)
    crop = imaging.expand(sel, flt.margin, w, h)
    region = layer[crop.y0 : crop.y1, crop.x0 : crop.x1]
    unit = imaging.to_unit(region, fmt)
    if mask is None:
        cover = np.ones(region.shape[:2] + (1,), np.float32)
    else:
        cover = mask[crop.y0 : crop.y1, crop.x0 : crop.x1, None].astype(np.float32) / 255.0
    device = flt.ctx.device
    extras = {
        name: imaging.to_tensor(imaging.to_unit(arr, job.extras[name].format)).to(device)
        for name, arr in decoded.extras.items()
    }
    box = (sel.x0 - crop.x0, sel.y0 - crop.y0, sel.x1 - crop.x0, sel.y1 - crop.y0)
    inp = FilterInput(
        image=imaging.to_tensor(unit[..., :3]).to(device),
        alpha=imaging.to_tensor(unit[..., 3:]).to(device),
        mask=imaging.to_tensor(cover).to(device),
        box=box,
        extras=extras,
        state=job.state,
        origin=(job.layer.x + crop.x0, job.layer.y + crop.y0),
        extra_origins={name: (img.x, img.y) for name, img in job.extras.items()},
    )
    try:
        outputs = flt.run(inp, params, on_step)
    except BaseException as exc:
        del inp, extras
        # the traceback's frames hold the filter's tensors: drop their locals at once; a cancel
        # skips the full collection (~1 s on a busy CPU) so the worker is free for the next job
        traceback.clear_frames(exc.__traceback__)
        release_memory(device, collect=not isinstance(exc, Cancelled))
        raise
    del inp, extras
    release_memory(device)
    state = b""
    if isinstance(outputs, Outputs):
        outputs, state = outputs.layers, bytes(outputs.state)
    for out in outputs:
        if tuple(out.image.shape) != (1, 3, crop.height, crop.width):
            raise RuntimeError(
                f"filter {flt.id} returned {tuple(out.image.shape)} for a "
                f"{crop.width}x{crop.height} crop"
            )
        if out.alpha is not None and tuple(out.alpha.shape) != (1, 1, crop.height, crop.width):
            raise RuntimeError(f"filter {flt.id} returned alpha {tuple(out.alpha.shape)}")
    if not outputs:
        raise BadImage(f"filter {flt.id} produced no layer for this input")
    rgbs = [imaging.from_tensor(out.image) for out in outputs]
    if not all(np.isfinite(rgb).all() for rgb in rgbs):
        raise RuntimeError(f"filter {flt.id} produced non-finite pixels")
    in_place = job.in_place and layer.flags.writeable and outputs[0].alpha is None

    def pixels_of(i: int) -> np.ndarray:
        out, rgb = outputs[i], rgbs[i]
        if out.alpha is not None:  # a sticker: the output's own alpha, nothing of the layer
            return imaging.sticker(layer, fmt, crop, rgb, imaging.from_tensor(out.alpha))
        return imaging.composite(layer, fmt, mask, crop, rgb, in_place=in_place and i == 0)

    # the first result last: blended in place, the layer's bytes are gone for the others
    pixels = [pixels_of(i) for i in reversed(range(len(outputs)))][::-1]
    bpp = 4 * imaging.DTYPES[fmt].itemsize  # bytes from the crop's first to last pixel:
    changed = ((crop.y0 * w + crop.x0) * bpp, ((crop.y1 - 1) * w + crop.x1) * bpp)
    results = [
        WireImage(
            w,
            h,
            fmt,
            memoryview(p).cast("B"),
            job.layer.x,
            job.layer.y,
            out.name,
            changed=changed if in_place and i == 0 else None,
        )
        for i, (p, out) in enumerate(zip(pixels, outputs, strict=True))
    ]
    return Executed(results, state)


def release_memory(device: torch.device, collect: bool = False) -> None:
    """Give memory back after a job; ``collect`` after a failed or cancelled one, whose
    traceback frames keep tensors alive (a full collection costs ~0.2 s, so not every job)."""
    if collect:
        gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
