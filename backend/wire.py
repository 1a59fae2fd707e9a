"""Proto messages ⇄ the backend's own types (the only module besides server.py that sees them)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from backend import imaging
from backend.errors import BadImage, ParamError
from backend.imaging import WireImage
from backend.jobs import Job
from backend.params import Colour, ParamSpec
from backend.shm import SharedRefused, SharedSession
from nlf_client._proto import filters_pb2 as pb

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


def read_job(
    requests: Iterable[pb.RunRequest], max_pixels: int, shared: SharedSession | None = None
) -> tuple[Job, bool]:
    """Assemble a job from a header and its pixel chunks; raise BadImage on any inconsistency.

    Images the header lists in ``shared`` come from shared memory through ``shared`` (which
    raises SharedRefused when they cannot be used) and carry no chunks.
    """
    it = iter(requests)
    first = next(it, None)
    if first is None or first.WhichOneof("part") != "header":
        raise BadImage("a Run call must start with a RunHeader message")
    head = first.header
    if not head.HasField("layer"):
        raise BadImage("the request has no layer")
    announced: dict[str, tuple[str, pb.ImageInfo, bool]] = {
        "layer": ("the layer", head.layer, False)
    }
    if head.HasField("mask"):
        announced["mask"] = ("the selection mask", head.mask, True)
    for name, info in head.extra_layers.items():
        if name in ("layer", "mask"):
            raise BadImage(f"extra layer name '{name}' is reserved")
        announced[name] = (f"layer '{name}'", info, False)
    buffers: dict[str, tuple[str, bytearray | memoryview]] = {}
    sizes = {k: _info_size(what, info, m, max_pixels) for k, (what, info, m) in announced.items()}
    if head.shared:
        buffers.update(_from_shared(head, sizes, shared))
    for key, (fmt, size) in sizes.items():
        if key not in buffers:
            buffers[key] = (fmt, bytearray(size))
    filled = {k: len(buf) if k in head.shared else 0 for k, (_, buf) in buffers.items()}
    for req in it:
        if req.WhichOneof("part") != "chunk":
            raise BadImage("only one RunHeader may be sent per Run call")
        key, data = req.chunk.key, req.chunk.data
        if key not in buffers or key in head.shared:
            raise BadImage(f"pixel chunk for '{key}', which the header did not announce")
        buf = buffers[key][1]
        end = filled[key] + len(data)
        if end > len(buf):
            raise BadImage(f"{announced[key][0]} got more pixel bytes than its size needs")
        buf[filled[key] : end] = data
        filled[key] = end
    for key, (_fmt, buf) in buffers.items():
        if filled[key] != len(buf):
            raise BadImage(
                f"{announced[key][0]} is truncated: got {filled[key]} of {len(buf)} pixel bytes"
            )

    def image(key: str) -> WireImage:
        info = announced[key][1]
        fmt, buf = buffers[key]
        return WireImage(info.width, info.height, fmt, buf, info.x, info.y, name=key)

    params = {name: value_from_pb(name, v) for name, v in head.params.items()}
    job = Job(
        filter_id=head.filter_id,
        layer=image("layer"),
        mask=image("mask") if "mask" in buffers else None,
        params=params,
        extras={k: image(k) for k in head.extra_layers},
    )
    return job, head.want_previews


def _from_shared(
    head: pb.RunHeader, sizes: dict[str, tuple[str, int]], shared: SharedSession | None
) -> dict[str, tuple[str, memoryview]]:
    """The images the header put in shared memory, verified (views: no copy)."""
    if shared is None:
        raise SharedRefused("this server takes no shared memory")
    out = {}
    for key, sp in head.shared.items():
        if key not in sizes:
            raise BadImage(f"shared pixels for '{key}', which the header did not announce")
        fmt, size = sizes[key]
        out[key] = (fmt, shared.image(key, sp, size))
    shared.offer_results(head.result_space)
    return out


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
    layers: Sequence[WireImage], seconds: float, shared: SharedSession | None = None
) -> Iterator[pb.RunEvent]:
    for layer in layers:
        placed = shared.place(layer.pixels) if shared is not None else None
        event = pb.RunEvent(layer=pb.ResultLayer(name=layer.name, info=info_of(layer)))
        if placed is not None:
            event.layer.shared.CopyFrom(placed)
            yield event
            continue
        yield event
        yield from chunk_events(layer.name, layer.pixels)
    yield pb.RunEvent(done=pb.Done(layer_count=len(layers), seconds=seconds))


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
