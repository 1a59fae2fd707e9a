"""The gRPC side of ``apply --server`` (kept apart so the in-process path needs no client)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from backend.errors import BadImage, NlfError, UnknownFilter
from backend.imaging import WireImage
from backend.params import Colour, ParamSpec
from nlf_client import BackendError, Client, Layer, Mask
from nlf_client import Colour as WireColour


def _to_wire_value(v: Any) -> Any:
    return WireColour(v.r, v.g, v.b, v.a) if isinstance(v, Colour) else v


def remote_runner(
    args: argparse.Namespace,
) -> tuple[list[ParamSpec], Callable[..., list[WireImage]]]:
    try:
        client = Client.connect(args.server, token=args.token)
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

    def run(
        layer: WireImage,
        mask: WireImage | None,
        values: dict[str, Any],
        extras: dict[str, WireImage],
        bar: Callable[..., None],
    ) -> list[WireImage]:
        def as_layer(img: WireImage) -> Layer:
            return Layer(bytes(img.pixels), img.width, img.height, img.format)

        try:
            result = client.run(
                args.filter_id,
                as_layer(layer),
                Mask(bytes(mask.pixels), mask.width, mask.height) if mask else None,
                {k: _to_wire_value(v) for k, v in values.items()},
                {k: as_layer(v) for k, v in extras.items()},
                on_progress=lambda p: bar(p.fraction, p.stage),
            )
        except BackendError as exc:
            kind = BadImage if exc.code == "INVALID_ARGUMENT" else NlfError
            raise kind(f"{exc.code}: {exc.message}") from None
        return [
            WireImage(x.width, x.height, x.format, x.pixels, name=x.name) for x in result.layers
        ]

    return specs, run
