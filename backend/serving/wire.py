"""Proto messages ⇄ the backend's own types (the only module besides server.py that sees them)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backend.errors import BadImage, BadState, ParamError, shown
from backend.params import Colour, ParamSpec
from backend.serving import imaging
from backend.serving.imaging import WireImage
from backend.serving.jobs import Job
from backend.serving.shm import SharedRefused, SharedSession
from nlf_client.proto import filters_pb2 as pb

log = logging.getLogger(__name__)

MAX_STATE = 64 << 10
"""Largest ``RunHeader.state`` a server accepts (a filter's state is a few KiB)."""

CHUNK = 3 << 20
"""Bytes of pixels per message: under gRPC's 4 MiB default even if a peer forgets the limits."""

FORMAT_TO_PB = {"u8": pb.U8, "u16": pb.U16, "f32": pb.F32}
FORMAT_FROM_PB = {v: k for k, v in FORMAT_TO_PB.items()}


def value_from_pb(name: str, v: pb.ParamValue) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        raise ParamError(f"parameter '{name}' has no value")
    if kind == "colour":
        return Colour(v.colour.r, v.colour.g, v.colour.b, v.colour.a)
    return getattr(v, kind)


def _info_size(what: str, info: pb.ImageInfo, mask: bool, max_pixels: int) -> tuple[str, int]:
    imaging.check_size(what, info.width, info.height, max_pixels)
    if mask:
        return "u8", info.width * info.height
    fmt = FORMAT_FROM_PB.get(info.format)
    if fmt is None:
        raise BadImage(f"{what} has no pixel format; use U8, U16 or F32")
    return fmt, info.width * info.height * 4 * imaging.DTYPES[fmt].itemsize


@dataclass(frozen=True)
class _Announced:
    """One image a header announces: its description, wire info, format and byte size."""

    what: str
    info: pb.ImageInfo
    format: str
    size: int


def read_header(first: pb.RunRequest | None) -> pb.RunHeader:
    """The header that must open every Run call."""
    if first is None or first.WhichOneof("part") != "header":
        raise BadImage("a Run call must start with a RunHeader message")
    return first.header


def admit(
    head: pb.RunHeader,
    max_pixels: int,
    layer_names: Callable[[str], Collection[str]] | None = None,
    max_total_pixels: int | None = None,
) -> dict[str, _Announced]:
    """Check everything a header declares before any pixel buffer exists.

    Sizes and formats of every image, the mask's size against the layer's, the extra layers'
    names against the filter's layer parameters (``layer_names(filter_id)``, which raises for an
    unknown filter) and the pixels of all layers together against ``max_total_pixels``.
    """
    if not head.HasField("layer"):
        raise BadImage("the request has no layer")
    if len(head.state) > MAX_STATE:
        raise BadState(
            f"the request's state is {len(head.state)} bytes, more than {MAX_STATE}; "
            "send the state of the last result, or none to start fresh"
        )
    announced: dict[str, tuple[str, pb.ImageInfo, bool]] = {
        "layer": ("the layer", head.layer, False)
    }
    if head.HasField("mask"):
        announced["mask"] = ("the selection mask", head.mask, True)
    for name, info in head.extra_layers.items():
        if name in ("layer", "mask"):
            raise BadImage(f"extra layer name '{name}' is reserved")
        announced[name] = (f"layer '{shown(name)}'", info, False)
    out = {}
    for key, (what, info, is_mask) in announced.items():
        fmt, size = _info_size(what, info, is_mask, max_pixels)
        out[key] = _Announced(what, info, fmt, size)
    if head.HasField("mask") and (head.mask.width, head.mask.height) != (
        head.layer.width,
        head.layer.height,
    ):
        raise BadImage(
            f"the selection mask is {head.mask.width}x{head.mask.height} but the layer is "
            f"{head.layer.width}x{head.layer.height}; they must match"
        )
    if layer_names is not None:
        takes = set(layer_names(head.filter_id))
        stray = sorted(set(head.extra_layers) - takes)
        if stray:
            listed = ", ".join(sorted(takes)) or "none"
            raise ParamError(
                f"extra layer '{shown(stray[0])}' is not a layer parameter (takes: {listed})"
            )
    if max_total_pixels is not None:
        total = sum(a.info.width * a.info.height for k, a in out.items() if k != "mask")
        if total > max_total_pixels:
            raise BadImage(
                f"the layers of this request hold {total} pixels together, more than this "
                f"server's maximum of {max_total_pixels}; send smaller layers or start the "
                "server with a larger --max-total-pixels"
            )
    return out


class Truncated(BadImage):
    """The request stream ended before every announced pixel came: bad input, or a client that
    went away (grpc can end the stream just before it marks the call cancelled)."""


def receive(
    requests: Iterator[pb.RunRequest],
    announced: Mapping[str, _Announced],
    shared: Mapping[str, memoryview] | None = None,
) -> dict:
    """Pixel chunks after the header, buffered only as they arrive (never the declared size
    up front), each checked against its image's declared size. Images in ``shared`` (already
    verified views of shared memory) take no chunks."""
    shared = shared or {}
    buffers: dict[str, bytearray | memoryview] = {
        key: shared.get(key, bytearray()) for key in announced
    }
    for req in requests:
        if req.WhichOneof("part") != "chunk":
            raise BadImage("only one RunHeader may be sent per Run call")
        key, data = req.chunk.key, req.chunk.data
        buf = buffers.get(key)
        if buf is None or key in shared:
            raise BadImage(f"pixel chunk for '{shown(key)}', which the header did not announce")
        if len(buf) + len(data) > announced[key].size:
            raise BadImage(f"{announced[key].what} got more pixel bytes than its size needs")
        buf += data
    for key, buf in buffers.items():
        need = announced[key].size
        if len(buf) != need:
            raise Truncated(
                f"{announced[key].what} is truncated: got {len(buf)} of {need} pixel bytes"
            )
    return buffers


def read_job(
    requests: Iterable[pb.RunRequest],
    max_pixels: int,
    layer_names: Callable[[str], Collection[str]] | None = None,
    max_total_pixels: int | None = None,
    shared: SharedSession | None = None,
) -> tuple[Job, bool]:
    """Assemble a job from a header and its pixel chunks; raise BadImage on any inconsistency.

    The header is admitted (:func:`admit`) before any pixel is buffered. Images the header lists
    in ``shared`` come from shared memory through ``shared`` (which raises SharedRefused when
    they cannot be used) and carry no chunks."""
    it = iter(requests)
    head = read_header(next(it, None))
    announced = admit(head, max_pixels, layer_names, max_total_pixels)
    log.debug("Run header admitted: %s, receiving %s", shown(head.filter_id), ", ".join(announced))
    views, in_place = _from_shared(head, announced, shared) if head.shared else (None, False)
    buffers = receive(it, announced, views)

    def image(key: str) -> WireImage:
        a = announced[key]
        return WireImage(
            a.info.width, a.info.height, a.format, buffers[key], a.info.x, a.info.y, name=key
        )

    params = {name: value_from_pb(name, v) for name, v in head.params.items()}
    job = Job(
        filter_id=head.filter_id,
        layer=image("layer"),
        mask=image("mask") if "mask" in buffers else None,
        params=params,
        extras={k: image(k) for k in head.extra_layers},
        state=bytes(head.state),
        in_place=in_place,
    )
    return job, head.want_previews


def _from_shared(
    head: pb.RunHeader, announced: Mapping[str, _Announced], shared: SharedSession | None
) -> tuple[dict[str, memoryview], bool]:
    """The images the header put in shared memory, verified (views: no copy), and whether the
    first result may be blended over the layer's own bytes (they start the result space)."""
    if shared is None:
        raise SharedRefused("this server takes no shared memory")
    out = {}
    for key, sp in head.shared.items():
        if key not in announced:
            raise BadImage(f"shared pixels for '{shown(key)}', which the header did not announce")
        out[key] = shared.image(key, sp, announced[key].size)
    shared.offer_results(head.result_space)
    in_place = "layer" in head.shared and shared.results_start_at(head.shared["layer"])
    return out, in_place


def chunk_events(key: str, data: bytes | bytearray | memoryview) -> Iterator[pb.RunEvent]:
    view = memoryview(data)
    for start in range(0, len(view), CHUNK):
        event = pb.RunEvent()  # fields set in place: a sub-message passed in would be copied
        event.chunk.key = key
        event.chunk.data = bytes(view[start : start + CHUNK])
        yield event


def info_of(img: WireImage) -> pb.ImageInfo:
    return pb.ImageInfo(
        width=img.width, height=img.height, format=FORMAT_TO_PB[img.format], x=img.x, y=img.y
    )


def result_events(
    layers: Sequence[WireImage],
    seconds: float,
    shared: SharedSession | None = None,
    state: bytes = b"",
) -> Iterator[pb.RunEvent]:
    for layer in layers:
        placed = shared.place(layer.pixels, layer.changed) if shared is not None else None
        event = pb.RunEvent(layer=pb.ResultLayer(name=layer.name, info=info_of(layer)))
        if placed is not None:
            event.layer.shared.CopyFrom(placed)
            yield event
            continue
        yield event
        yield from chunk_events(layer.name, layer.pixels)
    yield pb.RunEvent(done=pb.Done(layer_count=len(layers), seconds=seconds, state=state))


def spec_to_pb(s: ParamSpec) -> pb.ParamSpec:
    out = pb.ParamSpec(name=s.name, label=s.label, help=s.help)
    bounds = {k: getattr(s, k) for k in ("min", "max", "step") if getattr(s, k) is not None}
    if s.kind == "float":
        out.real.CopyFrom(
            pb.FloatSpec(default=float(s.default), **{k: float(v) for k, v in bounds.items()})
        )
    elif s.kind == "int":
        out.integer.CopyFrom(
            pb.IntSpec(default=int(s.default), **{k: int(v) for k, v in bounds.items()})
        )
    elif s.kind == "bool":
        out.flag.CopyFrom(pb.BoolSpec(default=bool(s.default)))
    elif s.kind == "choice":
        out.choice.CopyFrom(
            pb.ChoiceSpec(default=s.default or "", choices=list(s.choices), dynamic=s.dynamic)
        )
    elif s.kind == "string":
        out.text.CopyFrom(pb.StringSpec(default=s.default or ""))
    elif s.kind == "colour":
        c = s.default or Colour(0, 0, 0, 1)
        out.colour.CopyFrom(pb.ColourSpec(default=pb.Colour(r=c.r, g=c.g, b=c.b, a=c.a)))
    elif s.kind == "layer":
        out.layer.CopyFrom(pb.LayerSpec(required=s.required))
    return out
