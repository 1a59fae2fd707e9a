"""The gRPC service: translation between the wire and the registry/worker, nothing else."""

from __future__ import annotations

import hmac
import logging
import queue
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import torch

from backend import PROTOCOL_VERSION, __version__, imaging, wire
from backend.device import describe
from backend.errors import (
    BadImage,
    Cancelled,
    Missing,
    NotApplicable,
    ParamError,
    QueueFull,
    UnknownFilter,
)
from backend.jobs import validate
from backend.registry import Registry
from backend.worker import Ticket, Worker
from nlf_client._proto import filters_pb2 as pb
from nlf_client._proto import filters_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

MESSAGE_LIMITS = [
    ("grpc.max_send_message_length", 64 << 20),
    ("grpc.max_receive_message_length", 64 << 20),
]


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The one place where errors become gRPC status codes and messages."""
    match exc:
        case ParamError() | BadImage():
            return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
        case UnknownFilter():
            return grpc.StatusCode.NOT_FOUND, str(exc)
        case Missing() | NotApplicable():
            return grpc.StatusCode.FAILED_PRECONDITION, str(exc)
        case QueueFull():
            return grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc)
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
    def __init__(self, registry: Registry, worker: Worker, max_pixels: int) -> None:
        self.registry = registry
        self.worker = worker
        self.max_pixels = max_pixels

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
        try:
            job, want_previews = wire.read_job(request_iterator, self.max_pixels)
            flt = self.registry.get(job.filter_id)
            validate(job, flt, self.max_pixels)
            ticket = Ticket(job, flt)
            context.add_callback(ticket.stop.set)
            position = self.worker.submit(ticket)
            yield pb.RunEvent(queued=pb.Queued(position=position))
            yield from self._follow(ticket, position, want_previews)
        except Exception as exc:
            if ticket is not None:
                ticket.stop.set()
            code, message = status_for(exc)
            context.abort(code, message)
        finally:
            if ticket is not None:
                ticket.stop.set()

    def _follow(self, ticket: Ticket, position: int, previews: bool) -> Iterator[pb.RunEvent]:
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
                yield from wire.result_events(payload, seconds)
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
    threads: int = 32,
) -> tuple[grpc.Server, int, Worker]:
    """Build (not start) a server on ``address``; return it, its bound port and its worker."""
    worker = Worker(max_queue=max_queue, max_pixels=max_pixels)
    interceptors = [_TokenCheck(token)] if token else []
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="nlf-rpc"),
        options=MESSAGE_LIMITS,
        interceptors=interceptors,
    )
    pb_grpc.add_FiltersServicer_to_server(FiltersService(registry, worker, max_pixels), server)
    port = server.add_insecure_port(address)
    return server, port, worker
