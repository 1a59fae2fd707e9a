"""Requests that protobuf cannot decode (e.g. a string field holding bytes that are not UTF-8)
become INVALID_ARGUMENT instead of grpc's own INTERNAL "Exception deserializing request!".

:class:`SafeDecode` wraps every method's deserializer: a message that fails to decode is handed
to the servicer as an :class:`Undecodable` value, and the method answers INVALID_ARGUMENT (a
streaming method when it reaches that message).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc

from backend.errors import NlfError


class Undecodable(NlfError, ValueError):
    """A request message is not valid protobuf for its type (INVALID_ARGUMENT)."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"a request message could not be decoded ({reason[:200]}); text fields must be "
            "UTF-8 and the client must speak this server's protocol"
        )


def _safe(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserialize is None:
        return None

    def decode(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception as exc:  # protobuf's DecodeError, UnicodeDecodeError, ...
            return Undecodable(str(exc) or type(exc).__name__)

    return decode


def _checked(requests: Iterator[Any]) -> Iterator[Any]:
    for req in requests:
        if isinstance(req, Undecodable):
            raise req
        yield req


def _deny_unary(behaviour: Callable[..., Any]) -> Callable[..., Any]:
    def call(request: Any, context: Any) -> Any:
        if isinstance(request, Undecodable):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(request))
        return behaviour(request, context)

    return call


def _stream_in(behaviour: Callable[..., Any]) -> Callable[..., Any]:
    def call(requests: Iterator[Any], context: Any) -> Any:
        return behaviour(_checked(requests), context)

    return call


class SafeDecode(grpc.ServerInterceptor):
    """Undecodable requests reach the servicer as errors it reports, not as grpc INTERNAL."""

    def intercept_service(self, continuation: Callable[..., Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        kind = ("stream" if handler.request_streaming else "unary") + (
            "_stream" if handler.response_streaming else "_unary"
        )
        behaviour = getattr(handler, kind)
        wrap = _stream_in if handler.request_streaming else _deny_unary
        return handler._replace(
            request_deserializer=_safe(handler.request_deserializer),
            **{kind: wrap(behaviour)},
        )
