"""``Client``: the editor-neutral API the plug-ins and the CLI use."""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Optional

from .api import FilterSpec, Layer, Mask, Preview, Progress, RunResult, Status
from .errors import BackendError
from .transport import Transport


class Client:
    """A connection to a Neural Layer Filters backend."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @classmethod
    def connect(
        cls,
        address: str = "127.0.0.1:50051",
        token: Optional[str] = None,
        timeout: float = 10.0,
        tls_ca: Optional[str] = None,
        shared_memory: bool = True,
        result_views: bool = False,
    ) -> Client:
        """Connect and wait until a backend answers (BackendError UNAVAILABLE otherwise).

        ``address``: ``host:port``, several separated by commas (jobs are spread over them), or
        a gRPC target such as ``dns:///name:port``. ``tls_ca``: the PEM file of the CA that
        signed the backend's certificate (``"system"``: the system's roots); the token then
        travels as TLS call credentials. Without TLS a token is only sent to this machine.
        ``shared_memory``: offer pixels through shared memory to a backend on this machine
        (it must open and verify them, or the job streams as usual); False always streams.
        ``result_views``: a result layer that came back through shared memory has as
        ``pixels`` a read-only ``memoryview`` of the segment instead of a ``bytes`` copy (saves
        a copy of every result; the segment is reused only once every view of it is gone).
        """
        t = Transport(address, token, timeout, tls_ca, shared_memory, result_views)
        try:
            t.wait_ready()
        except BackendError:
            t.close()
            raise
        return cls(t)

    @property
    def address(self) -> str:
        return self._t.address

    @property
    def backend_count(self) -> int:
        """How many backends the address lists (1 for a single address or a dns:/// name)."""
        return self._t.target.count

    def status(self) -> Status:
        return self._t.status()

    def list_filters(self) -> List[FilterSpec]:
        return self._t.list_filters()

    def run(
        self,
        filter_id: str,
        layer: Layer,
        mask: Optional[Mask] = None,
        params: Optional[Dict[str, Any]] = None,
        extra_layers: Optional[Dict[str, Layer]] = None,
        on_progress: Optional[Callable[[Progress], None]] = None,
        on_preview: Optional[Callable[[Preview], None]] = None,
        cancel_event: Optional[threading.Event] = None,
        timeout: Optional[float] = None,
        state: Optional[bytes] = None,
    ) -> RunResult:
        """Run a filter; result layers have the input layer's size, format and offset.

        ``state``: the ``RunResult.state`` of an earlier run of the same stateful filter on the
        same layer and selection (npe: the latent, so brush strokes accumulate); None or b""
        starts fresh. The backend refuses state it cannot read with INVALID_ARGUMENT.

        A job whose backend becomes unavailable before it is done is sent again (a few times;
        with several backends, or a proxy in front of them, it runs on another one).
        """
        if len(layer.pixels) != layer.expected_size:
            raise BackendError(
                "INVALID_ARGUMENT",
                f"layer carries {len(layer.pixels)} bytes, {layer.width}x{layer.height} "
                f"{layer.format} RGBA needs {layer.expected_size}",
            )
        return self._t.run(
            filter_id,
            layer,
            mask,
            dict(params or {}),
            dict(extra_layers or {}),
            on_progress,
            on_preview,
            cancel_event,
            timeout,
            bytes(state or b""),
        )

    @property
    def retried_jobs(self) -> int:
        """Jobs ``run`` sent again because their backend became unavailable mid-way."""
        return self._t.retried_jobs

    def close(self) -> None:
        self._t.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
