"""The gRPC side of ``apply --server`` (kept apart so the in-process path needs no client)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from backend.errors import BadImage, NlfError, UnknownFilter
from backend.params import Colour, ParamSpec
from backend.serving.imaging import WireImage
from backend.serving.secrets import token_from
from nlf_client import BackendError, Client, Layer, Mask
from nlf_client import Colour as WireColour
from nlf_client.session.launch import with_port


def _to_wire_value(v: Any) -> Any:
    return WireColour(v.r, v.g, v.b, v.a) if isinstance(v, Colour) else v


def remote_runner(
    args: argparse.Namespace,
) -> tuple[list[ParamSpec], Callable[..., list[WireImage]]]:
    token = token_from(args)
    try:
        tls_ca = getattr(args, "tls_ca", None)
        client = Client.connect(
            with_port(args.server),
            token=token,
            tls_ca=tls_ca,
            result_views=True,  # results only go to files: no copy out of shared memory
        )
        spec = next((f for f in client.list_filters() if f.id == args.filter_id), None)
    except BackendError as exc:
        raise SystemExit(f"backend at {args.server}: {exc.message}") from None
    if spec is None:
        raise UnknownFilter(f"the backend at {args.server} has no filter '{args.filter_id}'")
    specs = [
        ParamSpec(
            p.name,
            p.kind,
            p.label,
            p.default,
            p.help,
            p.min,
            p.max,
            p.step,
            tuple(p.choices),
            p.required,
            p.dynamic,
        )
        for p in spec.params
    ]

    return specs, _RemoteRun(client, args.filter_id)


class _RemoteRun:
    """Runs one file's job on the backends; a job whose backend went away is sent again.

    The client's channel spreads jobs with gRPC's round_robin policy, which stops picking a
    backend once its connection is lost, so the same job sent again lands on a live one.
    """

    def __init__(self, client: Client, filter_id: str) -> None:
        self.client = client
        self.filter_id = filter_id
        self.backend_count = client.backend_count

    @property
    def retried(self) -> int:
        """Jobs sent again after their backend became unavailable."""
        return self.client.retried_jobs

    def close(self) -> None:
        self.client.close()

    def __call__(
        self,
        layer: WireImage,
        mask: WireImage | None,
        values: dict[str, Any],
        extras: dict[str, WireImage],
        bar: Callable[..., None],
    ) -> list[WireImage]:
        def as_layer(img: WireImage) -> Layer:
            return Layer(bytes(img.pixels), img.width, img.height, img.format)

        job = (
            self.filter_id,
            as_layer(layer),
            Mask(bytes(mask.pixels), mask.width, mask.height) if mask else None,
            {k: _to_wire_value(v) for k, v in values.items()},
            {k: as_layer(v) for k, v in extras.items()},
        )
        try:  # the client sends a job again when its backend goes away (Client.run)
            result = self.client.run(*job, on_progress=lambda p: bar(p.fraction, p.stage))
        except BackendError as exc:
            kind = BadImage if exc.code == "INVALID_ARGUMENT" else NlfError
            raise kind(f"{exc.code}: {exc.message}") from None
        return [
            WireImage(x.width, x.height, x.format, x.pixels, name=x.name) for x in result.layers
        ]
