"""Every registered product filter honours the same contract (tiny random weights, CPU)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from backend.errors import Cancelled
from backend.filters.base import Step
from backend.params import parse_values, schema_of
from backend.serving.imaging import WireImage
from backend.serving.jobs import Job, execute
from nlf_client import Client, Layer, Progress
from tests.conftest import Backend, product_filter_ids
from tests.fakes import as_array, make_layer, rect_mask

W, H = 64, 48


def extras_for(client: Client, filter_id: str) -> dict[str, Layer]:
    spec = next(f for f in client.list_filters() if f.id == filter_id)
    return {
        p.name: make_layer(48, 40, seed=7 + i)
        for i, p in enumerate(spec.layer_params)
        if p.required
    }


@pytest.mark.parametrize("filter_id", product_filter_ids())
class TestContract:
    def test_schema_defaults_parse(self, live_server: Backend, filter_id: str) -> None:
        """The schema derives from the params class and the fast values validate."""
        flt = live_server.registry.get(filter_id)
        specs = schema_of(flt.params, flt.dynamic_choices())
        assert specs and all(s.label for s in specs)
        layers = [s.name for s in specs if s.kind == "layer" and s.required]
        parse_values(flt.params, live_server.overrides[filter_id], flt.dynamic_choices(), layers)
        assert not live_server.registry.missing(filter_id)

    @pytest.mark.parametrize("fmt", ["u8", "u16"])
    def test_outside_selection_unchanged(
        self, live_server: Backend, client: Client, filter_id: str, fmt: str
    ) -> None:
        """Over gRPC: same size/format out, changed inside, bit-identical outside, progress."""
        layer = make_layer(W, H, fmt, seed=3)
        mask = rect_mask(W, H, 8, 6, 40, 38)
        progress: list[Progress] = []
        result = client.run(
            filter_id,
            layer,
            mask,
            live_server.overrides[filter_id],
            extras_for(client, filter_id),
            on_progress=progress.append,
        )
        assert result.layers
        inside = np.zeros((H, W), bool)
        inside[6:38, 8:40] = True
        src = as_array(layer)
        for out in result.layers:
            assert (out.width, out.height, out.format) == (W, H, fmt)
            dst = as_array(out)
            assert np.array_equal(dst[~inside], src[~inside])
            assert np.array_equal(dst[..., 3], src[..., 3])
            assert not np.array_equal(dst[inside], src[inside])
        assert any(p.stage not in ("", "queued") for p in progress)

    def test_source_never_modified(self, live_server: Backend, filter_id: str) -> None:
        """The input buffer is not written to."""
        flt = live_server.registry.get(filter_id)
        layer = make_layer(W, H, seed=4)
        pixels = bytearray(layer.pixels)
        extras = {
            n: WireImage(e.width, e.height, e.format, e.pixels)
            for n, e in extras_for(live_server.client(), filter_id).items()
        }
        job = Job(
            filter_id, WireImage(W, H, "u8", pixels), None, live_server.overrides[filter_id], extras
        )
        steps: list[Step] = []
        execute(flt, job, steps.append)
        assert bytes(pixels) == layer.pixels
        assert steps

    def test_cancel_stops(self, live_server: Backend, filter_id: str) -> None:
        """on_step raising Cancelled ends the run with Cancelled (never swallowed)."""
        flt = live_server.registry.get(filter_id)
        extras = {
            n: WireImage(e.width, e.height, e.format, e.pixels)
            for n, e in extras_for(live_server.client(), filter_id).items()
        }
        job = Job(
            filter_id,
            WireImage(W, H, "u8", make_layer(W, H).pixels),
            None,
            live_server.overrides[filter_id],
            extras,
        )
        stop = threading.Event()
        stop.set()

        def on_step(step: Step) -> None:
            if stop.is_set():
                raise Cancelled("cancelled")

        with pytest.raises(Cancelled):
            execute(flt, job, on_step)
