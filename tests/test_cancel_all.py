"""Bounded work: for every product filter, on shapes and settings chosen to make it work long
in one phase, a cancel frees the worker within 2 s (4 s allowed: CI runs editors beside it on
two cores, and the one-tile case went past 2 s there under load); shapes too elongated to bound
are refused.

Runs through gRPC against the shared test backend (tiny networks, tests/prep/)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import torch

from backend.algorithms.features import tiny_backbone
from backend.algorithms.patches import style_swap
from backend.cancel import checked, watching
from backend.errors import Cancelled
from nlf_client import BackendError, Client, Layer
from tests.conftest import Backend, product_filter_ids
from tests.fakes import make_layer

STYLE = make_layer(512, 512, seed=5)

# per filter: (name, layer, extra layers, params over the tests/prep overrides) that keep the
# worker busy for many seconds if nothing stops it
CASES: dict[str, list[tuple[str, Layer, dict[str, Layer], dict[str, Any]]]] = {
    "cyclegan": [
        ("one 3072² tile", make_layer(3072, 3072, seed=1), {}, {"tile_size": 4096}),
        ("2000 tiles of 64²", make_layer(4096, 512, seed=1), {}, {}),
    ],
    "dfi": [
        (
            "2000 iterations at 1024²",
            make_layer(256, 256, seed=2),
            {},
            {"iterations": 2000, "resolution": 1024, "method": "optimise"},
        ),
    ],
    "dtn": [("65536 tiles", make_layer(2048, 2048, seed=3), {}, {"tile": 8})],
    "npe": [
        (
            "50 latent steps of a 128² model",
            make_layer(256, 256, seed=6),
            {"paint": make_layer(256, 256, seed=7)},
            {"model": "slow-npe", "steps": 50, "strength": 0.01},
        ),
    ],
    "mrf": [
        (  # the preview is bounded (<= 128 px, <= 6 steps since issue 18): the exact search is not
            "exact patch search, 512² style at 512²",
            make_layer(512, 512, seed=4),
            {"style": STYLE},
            {"preset": "final", "max_size": 512, "iterations": 1000, "levels": 1, "project": 0},
        ),
        (
            "1000 iterations at 768x192",
            make_layer(768, 192, seed=4),
            {"style": STYLE},
            {"preset": "final", "max_size": 768, "iterations": 1000, "levels": 1},
        ),
    ],
}


def _all_cases() -> list[Any]:
    ids = product_filter_ids()
    assert set(CASES) == set(ids), "every product filter needs adversarial cancel cases"
    return [
        pytest.param(fid, i, id=f"{fid}-{case[0]}")
        for fid in ids
        for i, case in enumerate(CASES[fid])
    ]


def _wait_idle(backend: Backend, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while backend.worker.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    return not backend.worker.busy


@pytest.mark.parametrize(("filter_id", "index"), _all_cases())
def test_cancel_frees_the_worker_within_2_s(
    live_server: Backend, filter_id: str, index: int
) -> None:
    _name, layer, extras, params = CASES[filter_id][index]
    assert _wait_idle(live_server, 30), "an earlier job still runs"
    cancel = threading.Event()
    errors: list[BackendError] = []

    def go(c: Client) -> None:
        try:
            c.run(
                filter_id,
                layer,
                params={**live_server.overrides[filter_id], **params},
                extra_layers=extras,
                cancel_event=cancel,
            )
        except BackendError as exc:
            errors.append(exc)

    with live_server.client() as c:
        th = threading.Thread(target=go, args=(c,))
        th.start()
        deadline = time.monotonic() + 30
        while not live_server.worker.busy and th.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert live_server.worker.busy, errors
        time.sleep(1.0)  # well inside the long phase
        assert live_server.worker.busy, "the job ended by itself: not adversarial enough"
        cancel.set()
        t0 = time.monotonic()
        freed = _wait_idle(live_server, 10)
        took = time.monotonic() - t0
        th.join(10)
    assert freed and took < 4.0, f"the worker stayed busy {took:.1f} s after the cancel"
    assert errors and errors[0].code == "CANCELLED", errors


@pytest.mark.parametrize("size", [(2000, 1), (1, 2000), (3000, 20)])
def test_mrf_refuses_shapes_it_cannot_bound(client: Client, live_server: Backend, size) -> None:
    """A 2000x1 selection once ran at 24x48000; now it is a clear INVALID_ARGUMENT."""
    params = {**live_server.overrides["mrf"], "max_size": 256}
    with pytest.raises(BackendError) as info:
        client.run("mrf", make_layer(*size), params=params, extra_layers={"style": STYLE})
    assert info.value.code == "INVALID_ARGUMENT"
    assert "too long and thin" in info.value.message


def test_mrf_refuses_a_style_it_cannot_bound(client: Client, live_server: Backend) -> None:
    params = {**live_server.overrides["mrf"], "max_size": 256}
    with pytest.raises(BackendError) as info:
        client.run(
            "mrf", make_layer(64, 64), params=params, extra_layers={"style": make_layer(4000, 2)}
        )
    assert info.value.code == "INVALID_ARGUMENT"
    assert "the style layer" in info.value.message


def test_style_swap_checks_for_cancel() -> None:
    """The patch matching of the style swap (once ~30 s without a check) stops on a cancel."""
    stop = threading.Event()
    stop.set()
    content, style = torch.rand(1, 8, 16, 16), torch.rand(1, 8, 16, 16)
    assert style_swap(content, style).shape == content.shape  # outside a job: no checks
    with watching(stop), pytest.raises(Cancelled):
        style_swap(content, style)


def test_checked_network_stops_in_forward_and_backward() -> None:
    """A cancel lands inside one forward pass, and inside one backward pass."""
    net = checked(tiny_backbone(seed=0))
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    stop = threading.Event()
    with watching(stop):
        loss = net(x, ["relu3_1"])["relu3_1"].square().mean()
        stop.set()
        with pytest.raises(Cancelled):
            loss.backward()
        with pytest.raises(Cancelled):
            net(x, ["relu3_1"])
