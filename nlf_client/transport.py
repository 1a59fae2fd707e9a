"""The only client module that touches grpc and the generated stubs."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple

import grpc

from . import shm
from .api import (
    BYTES_PER_CHANNEL,
    Colour,
    FilterSpec,
    FilterStatus,
    Layer,
    Mask,
    Missing,
    ParamSpec,
    Preview,
    Progress,
    RunResult,
    Status,
)
from .channel import open_channel
from .errors import BackendError
from .proto import filters_pb2 as pb
from .proto import filters_pb2_grpc as pb_grpc

CHUNK = 3 << 20
RETRIES = 3
"""Times one job is sent again after UNAVAILABLE (its backend died or restarted)."""
RETRY_WAIT = 0.5
SHARED_REFUSED_KEY = "nlf-shared-memory"
OPTIONS = [
    ("grpc.max_send_message_length", 64 << 20),
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.enable_http_proxy", 0),
]
FORMAT_TO_PB = {"u8": pb.U8, "u16": pb.U16, "f32": pb.F32}
FORMAT_FROM_PB = {v: k for k, v in FORMAT_TO_PB.items()}


def _error(exc: grpc.RpcError) -> BackendError:
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    name = code.name if code is not None else "UNKNOWN"
    if name == "UNAVAILABLE":
        details = f"the backend does not answer ({details})"
    return BackendError(name, details or name)


class _Job(NamedTuple):
    """One ``run`` call's job, as each attempt sends it."""

    filter_id: str
    layer: Layer
    mask: Optional[Mask]
    params: Dict[str, Any]
    extra_layers: Dict[str, Layer]
    on_progress: Optional[Callable[[Progress], None]]
    on_preview: Optional[Callable[[Preview], None]]
    state: bytes


class Transport:
    def __init__(
        self,
        address: str,
        token: Optional[str],
        timeout: float,
        tls_ca: Optional[str] = None,
        shared_memory: bool = True,
        result_views: bool = False,
    ) -> None:
        self.address = address
        self.result_views = result_views
        """Results that came through shared memory are read-only memoryviews of it, not
        copies (``Client.connect(result_views=True)``)."""
        self.timeout = timeout
        self._channel, self._metadata, self.target = open_channel(address, token, tls_ca, OPTIONS)
        self._stub = pb_grpc.FiltersStub(self._channel)
        self._shared_wanted = shared_memory and self.target.is_loopback and shm.available()
        self._shared_ok: Optional[bool] = None
        self._pool: Optional[shm.SegmentPool] = None
        self.shared_jobs = 0
        """Jobs whose pixels went through shared memory (tests and benchmarks read it)."""
        self.shared_refusals = 0
        self.retried_jobs = 0
        """Jobs sent again after their backend became unavailable (``run``)."""
        self._lock = threading.Lock()
        self._closed = False

    def wait_ready(self) -> None:
        try:
            grpc.channel_ready_future(self._channel).result(timeout=self.timeout)
        except grpc.FutureTimeoutError:
            raise BackendError(
                "UNAVAILABLE", f"no backend answers at {self.address} (waited {self.timeout:g} s)"
            ) from None

    def close(self) -> None:
        self._closed = True
        if self._pool is not None:
            self._pool.close()
        self._channel.close()

    def status(self) -> Status:
        try:
            r = self._stub.GetStatus(
                pb.StatusRequest(), timeout=self.timeout, metadata=self._metadata
            )
        except grpc.RpcError as exc:
            raise _error(exc) from None
        filters = tuple(
            FilterStatus(f.id, f.ready, tuple(Missing(m.what, m.command) for m in f.missing))
            for f in r.filters
        )
        return Status(
            r.server_version,
            r.protocol_version,
            r.device.kind,
            r.device.name,
            r.device.memory_total,
            r.device.memory_free,
            r.queue_length,
            filters,
        )

    def list_filters(self) -> List[FilterSpec]:
        try:
            r = self._stub.ListFilters(
                pb.ListFiltersRequest(), timeout=self.timeout, metadata=self._metadata
            )
        except grpc.RpcError as exc:
            raise _error(exc) from None
        return [
            FilterSpec(
                f.id,
                f.label,
                f.description,
                f.category,
                f.needs_mask,
                tuple(_param_spec(p) for p in f.params),
            )
            for f in r.filters
        ]

    def run(
        self,
        filter_id: str,
        layer: Layer,
        mask: Optional[Mask],
        params: Dict[str, Any],
        extra_layers: Dict[str, Layer],
        on_progress: Optional[Callable[[Progress], None]],
        on_preview: Optional[Callable[[Preview], None]],
        cancel_event: Optional[threading.Event],
        timeout: Optional[float],
        state: bytes = b"",
    ) -> RunResult:
        """One job; sent again (at most RETRIES times) when its backend became unavailable in
        the middle of it: filters are pure, and with several backends or a proxy in front of
        them round_robin picks one that is up. The caller sees the last error otherwise."""
        job = _Job(filter_id, layer, mask, params, extra_layers, on_progress, on_preview, state)
        for attempt in range(RETRIES + 1):
            try:
                return self._run_once(job, cancel_event, timeout)
            except BackendError as exc:
                cancelled = cancel_event is not None and cancel_event.is_set()
                over = attempt == RETRIES or cancelled or self._closed
                if exc.code != "UNAVAILABLE" or over:
                    raise
            with self._lock:
                self.retried_jobs += 1
            if on_progress is not None:
                on_progress(Progress(0.0, "retrying", "the backend went away; sending again"))
            time.sleep(RETRY_WAIT * (attempt + 1))
        raise AssertionError("unreachable")

    def _run_once(
        self, job: _Job, cancel_event: Optional[threading.Event], timeout: Optional[float]
    ) -> RunResult:
        layer, mask, extra_layers = job.layer, job.mask, job.extra_layers
        on_progress, on_preview = job.on_progress, job.on_preview
        sent = (job.filter_id, layer, mask, job.params, extra_layers, on_preview is not None)
        sent += (job.state,)
        pool = self._shared_pool()
        seg = _acquire(pool, layer, mask, extra_layers) if pool is not None else None
        if seg is not None:
            reuse = False
            try:
                images = [("layer", layer.pixels)]
                images += [("mask", mask.pixels)] if mask is not None else []
                images += [(k, v.pixels) for k, v in extra_layers.items()]
                shared = {
                    k: pb.SharedPixels(segment=seg.name, offset=o, size=n, crc32=c)
                    for k, (o, n, c) in shm.pack(seg, images).items()
                }
                space = pb.SharedPixels(segment=seg.name, offset=0, size=seg.size)
                requests = _requests(*sent, shared=shared, result_space=space)
                result = self._call(requests, seg, on_progress, on_preview, cancel_event, timeout)
                reuse = True
                self.shared_jobs += 1
                return result
            except _SharedRefused:
                reuse = True  # the backend only looked; stream from now on
                self._shared_ok = False
                self.shared_refusals += 1
            except BackendError:
                raise
            except Exception:  # this Python's shared memory is broken: stream from now on
                self._shared_wanted = False
                self.shared_refusals += 1
            finally:
                _release(pool, seg, reuse)  # type: ignore[arg-type]
        requests = _requests(*sent)
        return self._call(requests, None, on_progress, on_preview, cancel_event, timeout)

    def _shared_pool(self) -> Optional[shm.SegmentPool]:
        """The segment pool when this backend said it takes shared memory (asked once)."""
        if not self._shared_wanted:
            return None
        if self._shared_ok is None:
            try:
                r = self._stub.GetStatus(
                    pb.StatusRequest(), timeout=self.timeout, metadata=self._metadata
                )
            except grpc.RpcError:
                return None
            self._shared_ok = bool(r.shared_memory)
        if not self._shared_ok:
            return None
        if self._pool is None:
            try:
                self._pool = shm.SegmentPool()
            except Exception:  # e.g. an editor's embedded Python without a working tracker
                self._shared_wanted = False
                return None
        return self._pool

    def _call(
        self,
        requests: Iterator[Any],
        seg: Optional[shm.Segment],
        on_progress: Optional[Callable[[Progress], None]],
        on_preview: Optional[Callable[[Preview], None]],
        cancel_event: Optional[threading.Event],
        timeout: Optional[float],
    ) -> RunResult:
        call = self._stub.Run(requests, timeout=timeout, metadata=self._metadata)
        done = threading.Event()
        if cancel_event is not None:

            def watch() -> None:
                while not done.is_set():
                    if cancel_event.wait(0.05):
                        call.cancel()
                        return

            threading.Thread(target=watch, name="nlf-cancel-watch", daemon=True).start()
        try:
            return _collect(call, on_progress, on_preview, seg, self.result_views)
        except grpc.RpcError as exc:
            if seg is not None and _refused(exc):
                raise _SharedRefused() from None
            err = _error(exc)
            if cancel_event is not None and cancel_event.is_set():
                err = BackendError("CANCELLED", "cancelled")
            raise err from None
        finally:
            done.set()


class _SharedRefused(Exception):
    """The backend could not open or verify our segment (another host, container...)."""


def _refused(exc: grpc.RpcError) -> bool:
    try:
        trailers = exc.trailing_metadata() or ()  # type: ignore[attr-defined]
    except Exception:
        return False
    return any(k == SHARED_REFUSED_KEY for k, _ in trailers)


def _acquire(
    pool: shm.SegmentPool, layer: Layer, mask: Optional[Mask], extras: Dict[str, Layer]
) -> Optional[shm.Segment]:
    size = len(layer.pixels) + (len(mask.pixels) if mask is not None else 0)
    size += sum(len(x.pixels) for x in extras.values())
    try:
        return pool.acquire(max(size, 1))
    except Exception:  # /dev/shm full, or an embedded Python's broken resource tracker: stream
        return None


def _release(pool: shm.SegmentPool, seg: shm.Segment, reuse: bool) -> None:
    """Give ``seg`` back; a failure there must not lose the job's result."""
    try:
        pool.release(seg, reuse)
    except Exception:
        pass


def _param_spec(p: Any) -> ParamSpec:
    kind = p.WhichOneof("kind")
    spec = getattr(p, kind)
    common = {"name": p.name, "label": p.label, "help": p.help}
    if kind in ("real", "integer"):
        bounds = {k: getattr(spec, k) for k in ("min", "max", "step") if spec.HasField(k)}
        cast = float if kind == "real" else int
        return ParamSpec(
            kind="float" if kind == "real" else "int",
            default=cast(spec.default),
            **bounds,
            **common,
        )
    if kind == "flag":
        return ParamSpec(kind="bool", default=spec.default, **common)
    if kind == "choice":
        return ParamSpec(
            kind="choice",
            default=spec.default,
            choices=tuple(spec.choices),
            dynamic=spec.dynamic,
            **common,
        )
    if kind == "text":
        return ParamSpec(kind="string", default=spec.default, **common)
    if kind == "colour":
        c = spec.default
        return ParamSpec(kind="colour", default=Colour(c.r, c.g, c.b, c.a), **common)
    return ParamSpec(kind="layer", required=spec.required, **common)


def _value(v: Any) -> Any:
    if isinstance(v, bool):
        return pb.ParamValue(flag=v)
    if isinstance(v, int):
        return pb.ParamValue(integer=v)
    if isinstance(v, float):
        return pb.ParamValue(real=v)
    if isinstance(v, str):
        return pb.ParamValue(text=v)
    if isinstance(v, Colour):
        return pb.ParamValue(colour=pb.Colour(r=v.r, g=v.g, b=v.b, a=v.a))
    raise BackendError("INVALID_ARGUMENT", f"cannot send parameter value {v!r}")


def _info(layer: Layer) -> Any:
    if layer.format not in BYTES_PER_CHANNEL:
        raise BackendError("INVALID_ARGUMENT", f"unknown pixel format '{layer.format}'")
    return pb.ImageInfo(
        width=layer.width,
        height=layer.height,
        format=FORMAT_TO_PB[layer.format],
        x=layer.x,
        y=layer.y,
    )


def _chunks(key: str, data: bytes) -> Iterator[Any]:
    view = memoryview(data)
    for start in range(0, len(view), CHUNK):
        req = pb.RunRequest()  # fields set in place: a sub-message passed in would be copied
        req.chunk.key = key
        req.chunk.data = bytes(view[start : start + CHUNK])
        yield req


def _requests(
    filter_id: str,
    layer: Layer,
    mask: Optional[Mask],
    params: Dict[str, Any],
    extra_layers: Dict[str, Layer],
    previews: bool,
    state: bytes = b"",
    shared: Optional[Dict[str, Any]] = None,
    result_space: Any = None,
) -> Iterator[Any]:
    header = pb.RunHeader(
        filter_id=filter_id,
        state=state,
        layer=_info(layer),
        want_previews=previews,
        params={k: _value(v) for k, v in params.items()},
        extra_layers={k: _info(v) for k, v in extra_layers.items()},
    )
    if mask is not None:
        header.mask.CopyFrom(pb.ImageInfo(width=mask.width, height=mask.height))
    if shared:
        for key, sp in shared.items():
            header.shared[key].CopyFrom(sp)
        header.result_space.CopyFrom(result_space)
        yield pb.RunRequest(header=header)
        return  # every image is in shared memory
    yield pb.RunRequest(header=header)
    yield from _chunks("layer", layer.pixels)
    if mask is not None:
        yield from _chunks("mask", mask.pixels)
    for name, extra in extra_layers.items():
        yield from _chunks(name, extra.pixels)


def _collect(
    call: Any,
    on_progress: Optional[Callable[[Progress], None]],
    on_preview: Optional[Callable[[Preview], None]],
    seg: Optional[shm.Segment] = None,
    views: bool = False,
) -> RunResult:
    layers: List[Layer] = []
    current: Optional[Tuple[str, Any, bytearray]] = None
    filled = 0
    for event in call:
        kind = event.WhichOneof("event")
        if kind == "queued" and on_progress is not None:
            on_progress(Progress(0.0, "queued", "", event.queued.position))
        elif kind == "progress" and on_progress is not None:
            p = event.progress
            on_progress(Progress(p.fraction, p.stage, p.message))
        elif kind == "preview" and on_preview is not None:
            v = event.preview
            on_preview(Preview(v.rgba8, v.width, v.height))
        elif kind == "layer":
            info = event.layer.info
            fmt = FORMAT_FROM_PB[info.format]
            size = info.width * info.height * 4 * BYTES_PER_CHANNEL[fmt]
            if event.layer.HasField("shared"):
                pixels = _shared_result(seg, event.layer.shared, size, views)
                layers.append(
                    Layer(pixels, info.width, info.height, fmt, info.x, info.y, event.layer.name)
                )
                continue
            current = (event.layer.name, info, bytearray(size))
            filled = 0
        elif kind == "chunk" and current is not None:
            data = event.chunk.data
            current[2][filled : filled + len(data)] = data
            filled += len(data)
            if filled == len(current[2]):
                name, info, buf = current
                fmt = FORMAT_FROM_PB[info.format]
                layers.append(
                    Layer(bytes(buf), info.width, info.height, fmt, info.x, info.y, name=name)
                )
                current = None
        elif kind == "done":
            return RunResult(layers, bytes(event.done.state))
    raise BackendError("UNAVAILABLE", "the backend closed the job before sending its result")


def _shared_result(seg: Optional[shm.Segment], sp: Any, size: int, view: bool) -> Any:
    data = None
    if seg is not None and sp.segment == seg.name and sp.size == size:
        data = seg.read(sp.offset, sp.size, sp.crc32, as_view=view)
    if data is None:
        raise BackendError(
            "DATA_LOSS", "a result layer in shared memory is missing or fails its checksum"
        )
    return data
