"""The gRPC service: translation between the wire and the registry/worker, nothing else."""

from __future__ import annotations

import hmac
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import closing
from functools import partial
from typing import Any

import grpc
import torch

from backend import PROTOCOL_VERSION, __version__
from backend.device import describe
from backend.errors import (
    BadImage,
    Broken,
    Cancelled,
    Missing,
    NotApplicable,
    ParamError,
    QueueFull,
    UnknownFilter,
    shown,
)
from backend.serving import imaging, shm, wire
from backend.serving.admission import IdleUploads, Limits, Slots, UploadIdle
from backend.serving.decoding import SafeDecode, Undecodable
from backend.serving.jobs import Job, layer_names, validate
from backend.serving.registry import Registry
from backend.serving.shm import SharedRefused
from backend.serving.worker import Ticket, Worker
from nlf_client.proto import filters_pb2 as pb
from nlf_client.proto import filters_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

MAX_MESSAGE = 2000
"""Longest status message sent (names inside it are cut to 100 characters already)."""
UPLOAD_CUT_OFF_S = 1.0
"""How long a truncated upload waits for grpc to say the client went away (:func:`_cut_off`)."""

MESSAGE_LIMITS = [
    ("grpc.max_send_message_length", 64 << 20),
    ("grpc.max_receive_message_length", 64 << 20),
]


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The one place where errors become gRPC status codes and messages."""
    code, message = _status_for(exc)
    if len(message) > MAX_MESSAGE:  # trailing metadata is small: a huge one reads as another error
        message = message[:MAX_MESSAGE] + "…"
    return code, message


def _gone(exc: BaseException, context: Any) -> bool:
    """True when the client cancelled or went away (nobody is left to read an answer)."""
    return isinstance(exc, grpc.RpcError) or not context.is_active()


def _cut_off(exc: BaseException, ended: threading.Event) -> bool:
    """True when an upload that stopped short is a client that went away: grpc may end the
    request stream a moment before it marks the call cancelled, so a truncated upload waits
    briefly for the call's end before it is answered as bad input."""
    return isinstance(exc, wire.Truncated) and ended.wait(UPLOAD_CUT_OFF_S)


def _status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    match exc:
        case ParamError() | BadImage() | Undecodable():
            return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
        case UnknownFilter():
            return grpc.StatusCode.NOT_FOUND, str(exc)
        case Missing() | NotApplicable():
            return grpc.StatusCode.FAILED_PRECONDITION, str(exc)
        case Broken():
            return grpc.StatusCode.FAILED_PRECONDITION, str(exc)
        case QueueFull():
            return grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc)
        case UploadIdle():
            return grpc.StatusCode.DEADLINE_EXCEEDED, str(exc)
        case SharedRefused():
            return grpc.StatusCode.FAILED_PRECONDITION, f"shared memory refused: {exc}"
        case torch.OutOfMemoryError() | MemoryError():
            return (
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "out of memory; select a smaller region or lower the working size",
            )
        case Cancelled():
            return grpc.StatusCode.CANCELLED, str(exc) or "cancelled"
        case _:
            error_id = uuid.uuid4().hex[:8]
            log.error("internal error %s", error_id, exc_info=exc)
            return (
                grpc.StatusCode.INTERNAL,
                f"internal error {error_id} ({type(exc).__name__}); the backend log has details",
            )


class FiltersService(pb_grpc.FiltersServicer):
    def __init__(self, registry: Registry, worker: Worker, limits: Limits) -> None:
        self.registry = registry
        self.worker = worker
        self.limits = limits
        self.runs = Slots(limits.max_runs, "jobs")
        self.uploads = Slots(limits.max_uploads, "uploads")
        self.idle = IdleUploads(limits.upload_idle)

    def GetStatus(self, request: pb.StatusRequest, context: Any) -> pb.StatusResponse:
        dev = describe(self.registry.ctx.device)
        filters = []
        for fid in self.registry.ids():
            missing = self.registry.missing(fid)
            items = [pb.MissingItem(what=m.what, command=m.command) for m in missing]
            filters.append(pb.FilterStatus(id=fid, ready=not missing, missing=items))
        return pb.StatusResponse(
            server_version=__version__,
            protocol_version=PROTOCOL_VERSION,
            device=pb.DeviceInfo(
                kind=dev.kind,
                name=dev.name,
                memory_total=dev.memory_total,
                memory_free=dev.memory_free,
            ),
            queue_length=self.worker.queue_length,
            busy=self.worker.busy,
            filters=filters,
            shared_memory=shm.supported(),
        )

    def ListFilters(self, request: pb.ListFiltersRequest, context: Any) -> pb.ListFiltersResponse:
        infos = []
        for fid in self.registry.ids():
            flt = self.registry.get(fid)
            infos.append(
                pb.FilterInfo(
                    id=fid,
                    label=flt.label,
                    description=flt.description,
                    category=flt.category,
                    needs_mask=getattr(flt, "needs_mask", False),
                    params=[wire.spec_to_pb(s) for s in self.registry.schema(fid)],
                )
            )
        return pb.ListFiltersResponse(protocol_version=PROTOCOL_VERSION, filters=infos)

    def Run(self, request_iterator: Iterator[pb.RunRequest], context: Any) -> Iterator[pb.RunEvent]:
        ticket: Ticket | None = None
        shared = shm.SharedSession()
        ended = threading.Event()
        if not context.add_callback(ended.set):
            ended.set()
        try:
            with self.runs.hold():
                job, want_previews = self._upload(request_iterator, context, shared)
                flt = self.registry.get(job.filter_id)
                validate(job, flt, self.limits.max_pixels)
                ticket = Ticket(job, flt)
                if not context.add_callback(partial(self._call_ended, ticket)):
                    raise Cancelled("the client went away")
                position = self.worker.submit(ticket)
                yield pb.RunEvent(queued=pb.Queued(position=position))
                yield from self._follow(ticket, position, want_previews, shared)
        except Exception as exc:
            if ticket is not None:
                self._cancel(ticket)
            if _gone(exc, context) or _cut_off(exc, ended):
                if ticket is None:  # with a ticket, _call_ended has said so
                    log.info("Run ended by the client during its upload")
                return
            code, message = status_for(exc)
            if isinstance(exc, SharedRefused):  # the client sends the job again as chunks
                context.set_trailing_metadata(((shm.REFUSED_KEY, "refused"),))
            context.abort(code, message)
        finally:
            if ticket is not None:
                ticket.stop.set()
            shared.close()

    def _call_ended(self, ticket: Ticket) -> None:
        """grpc calls this when the call ends for any reason; a job not over by then (its stop
        event unset) was cancelled by the client or lost with its connection."""
        if not ticket.stop.is_set():
            log.info(
                "Run ended by the client: its %s job is cancelled", shown(ticket.job.filter_id)
            )
        self._cancel(ticket)

    def _cancel(self, ticket: Ticket) -> None:
        """Stop ``ticket``'s job; a job still waiting leaves the queue at once."""
        ticket.stop.set()
        self.worker.withdraw(ticket)

    def _upload(
        self, requests: Iterator[pb.RunRequest], context: Any, shared: shm.SharedSession
    ) -> tuple[Job, bool]:
        """Header admitted before any pixel is buffered; a stalled upload is dropped."""
        with self.uploads.hold(), closing(self.idle.watch(requests, context)) as watched:
            return wire.read_job(
                watched,
                self.limits.max_pixels,
                layer_names=self._layer_names,
                max_total_pixels=self.limits.max_total_pixels,
                shared=shared,
            )

    def _layer_names(self, filter_id: str) -> list[str]:
        return layer_names(self.registry.get(filter_id))

    def _follow(
        self, ticket: Ticket, position: int, previews: bool, shared: shm.SharedSession
    ) -> Iterator[pb.RunEvent]:
        while True:
            try:
                kind, payload = ticket.events.get(timeout=0.2)
            except queue.Empty:
                now = self.worker.position(ticket)
                if now is not None and now != position:
                    position = now
                    yield pb.RunEvent(queued=pb.Queued(position=position))
                continue
            if kind == "step":
                yield pb.RunEvent(
                    progress=pb.Progress(
                        fraction=payload.fraction, stage=payload.stage, message=payload.message
                    )
                )
                if previews and payload.preview is not None:
                    w, h, rgba = imaging.preview_rgba8(payload.preview)
                    yield pb.RunEvent(preview=pb.Preview(width=w, height=h, rgba8=rgba))
            elif kind == "result":
                seconds = time.perf_counter() - ticket.started
                yield from wire.result_events(payload.layers, seconds, shared, payload.state)
                return
            else:
                raise payload


class _TokenCheck(grpc.ServerInterceptor):
    """Every call must carry ``authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def intercept_service(self, continuation: Callable[..., Any], details: Any) -> Any:
        given = dict(details.invocation_metadata).get("authorization", "")
        if hmac.compare_digest(given.encode(), self._expected):
            return continuation(details)
        handler = continuation(details)

        def deny(request: Any, context: Any) -> Any:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong token")

        if handler is None:
            return None
        if handler.request_streaming and handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(deny)
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(deny)
        return grpc.unary_unary_rpc_method_handler(deny)


def create_server(
    address: str,
    registry: Registry,
    *,
    token: str | None = None,
    max_queue: int = 16,
    max_pixels: int = imaging.DEFAULT_MAX_PIXELS,
    max_total_pixels: int | None = None,
    max_uploads: int = 16,
    upload_idle: float = 30.0,
    credentials: grpc.ServerCredentials | None = None,
) -> tuple[grpc.Server, int, Worker]:
    """Build (not start) a server on ``address``; return it, its bound port and its worker.

    ``credentials`` (grpc.ssl_server_credentials): serve TLS instead of cleartext.
    Raises ValueError naming the flag when a limit is unusable."""
    limits = Limits(
        max_queue=max_queue,
        max_pixels=max_pixels,
        max_total_pixels=2 * max_pixels if max_total_pixels is None else max_total_pixels,
        max_uploads=max_uploads,
        upload_idle=upload_idle,
    ).check()
    worker = Worker(max_queue=max_queue, max_pixels=max_pixels)
    interceptors: list[grpc.ServerInterceptor] = [SafeDecode()]
    if token:
        interceptors.append(_TokenCheck(token))
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=limits.threads, thread_name_prefix="nlf-rpc"),
        options=MESSAGE_LIMITS,
        interceptors=interceptors,
        maximum_concurrent_rpcs=limits.threads + limits.max_runs,
    )
    pb_grpc.add_FiltersServicer_to_server(FiltersService(registry, worker, limits), server)
    if credentials is not None:
        port = server.add_secure_port(address, credentials)
    else:
        port = server.add_insecure_port(address)
    return server, port, worker
