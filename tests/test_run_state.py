"""The Run contract's opaque filter state: RunHeader.state in, Done.state out (``test_count``)."""

from __future__ import annotations

import numpy as np
import pytest

from backend.serving import wire
from nlf_client import BackendError, Client
from nlf_client.proto import filters_pb2 as pb
from tests.fakes import as_array, make_layer


def test_state_round_trips_and_accumulates(client: Client) -> None:
    layer = make_layer(8, 6, seed=1)
    first = client.run("test_count", layer)
    assert first.state == b"count:1"
    second = client.run("test_count", layer, state=first.state)
    assert second.state == b"count:2"
    a, b = as_array(first.layers[0])[..., :3], as_array(second.layers[0])[..., :3]
    assert b.astype(int).sum() < a.astype(int).sum()  # the second run went further


def test_empty_state_is_a_fresh_start(client: Client) -> None:
    layer = make_layer(8, 6, seed=1)
    fresh = client.run("test_count", layer)
    again = client.run("test_count", layer, state=b"")
    assert again.state == fresh.state == b"count:1"
    assert again.layers[0].pixels == fresh.layers[0].pixels


def test_stateless_filters_return_no_state(client: Client) -> None:
    result = client.run("test_invert", make_layer(4, 4), state=b"ignored by stateless filters")
    assert result.state == b""


def test_garbage_state_is_invalid_argument(client: Client) -> None:
    with pytest.raises(BackendError) as err:
        client.run("test_count", make_layer(4, 4), state=b"\x00garbage")
    assert err.value.code == "INVALID_ARGUMENT"
    assert "state" in str(err.value)


def test_oversized_state_is_refused_before_any_pixel(client: Client) -> None:
    with pytest.raises(BackendError) as err:
        client.run("test_count", make_layer(4, 4), state=b"count:1" + b" " * wire.MAX_STATE)
    assert err.value.code == "INVALID_ARGUMENT"
    assert str(wire.MAX_STATE) in str(err.value)


def test_old_messages_read_as_empty_state() -> None:
    """A header / Done serialised without the field (an old peer) parses with state b""."""
    head = pb.RunHeader(filter_id="x")
    assert pb.RunHeader.FromString(head.SerializeToString()).state == b""
    done = pb.Done(layer_count=1, seconds=0.5)
    assert pb.Done.FromString(done.SerializeToString()).state == b""
    assert np.isclose(pb.Done.FromString(done.SerializeToString()).seconds, 0.5)
