"""Live painting's editor-neutral memory (session.live): settle, coalesce, restore, reset."""

from __future__ import annotations

import pytest

from nlf_client import FilterSpec, Layer, ParamSpec
from nlf_client.session import live


def _layer(v: int) -> Layer:
    return Layer(bytes([v, v, v, 255]), 1, 1)


def test_a_change_runs_once_it_settles_and_strokes_meanwhile_are_coalesced():
    s = live.Strokes()
    empty, _ = live.paint_digest(b"\0\0\0\0", (0, 0, 1, 1))
    s.begin(empty, True)
    assert s.tick(empty, busy=False) is None  # nothing painted: nothing to show
    one = live.paint_digest(b"\1\2\3\4", (0, 0, 1, 1))[0]
    assert s.tick(one, busy=False) is None  # still painting
    assert s.tick(one, busy=False) == ("run", None)  # settled: from the photo
    s.shown(one, "state-1")
    s.ran(one, _layer(1), "state-1")
    two = live.paint_digest(b"\1\2\3\5", (0, 0, 1, 1))[0]
    s.tick(two, busy=True)
    assert s.tick(two, busy=True) is None  # a run is going: the next tick sends it
    assert s.tick(two, busy=False) == ("run", "state-1")  # strokes accumulate
    s.shown(two, "state-2")
    s.ran(two, _layer(2), "state-2")
    s.tick(one, busy=False)
    assert s.tick(one, busy=False) == ("restore", (_layer(1), "state-1"))  # Ctrl+Z
    s.tick(empty, busy=False)
    assert s.tick(empty, busy=False) == ("run", None)  # back before the first stroke
    gen = s.generation
    s.forget()
    assert s.generation == gen + 1 and s.state is None
    assert not s.shown(two, "late", gen) and s.state is None  # written after the reset: dropped
    s.tick(two, busy=False)
    assert s.tick(two, busy=False) == ("run", None)  # history forgotten too
    for i in range(live.HISTORY + 3):
        s.ran(live.digest(b"%d" % i), _layer(i), i)
    assert len(s._history) == live.HISTORY


def test_rectangles_names_and_values():
    assert live.clip(None, 8, 6) == (0, 0, 8, 6) and live.clip((-2, 1, 20, 3), 8, 6) == (0, 1, 8, 3)
    assert live.clip((3, 3, 3, 9), 8, 6) is None and live.paint_digest(None, (0, 0, 0, 0))[1]
    a = live.paint_digest(b"\1", (0, 0, 1, 1))[0]
    assert a != live.paint_digest(b"\1", (1, 0, 2, 1))[0]  # the same pixels elsewhere differ
    spec = FilterSpec("npe", "NPE", params=(
        ParamSpec("guide", "layer", "G"), ParamSpec("paint", "layer", "P"),
        ParamSpec("steps", "int", "S", 5), ParamSpec("mix", "float", "M", 0.5),
    ))  # fmt: skip
    assert live.paint_param(spec) == "paint" and live.paint_param(spec, "x") == "guide"
    assert live.run_values(spec, {"steps": 9, "paint": "id"}) == {"steps": 9, "mix": 0.5}
    with pytest.raises(live.LiveError, match="no paint layer"):
        live.paint_param(FilterSpec("f", "F"))
    filters = {"npe": spec}
    assert live.live_target(filters, "npe", spec, {"paint": "id"}) == (spec, "paint", "id")
    assert live.live_target(filters, "npe", spec, {"paint": ""}) == (spec, "paint", None)
    for filter_id, form in (("gone", spec), ("npe", None), ("npe", FilterSpec("x", "X"))):
        with pytest.raises(live.LiveError, match="does not offer this filter"):
            live.live_target(filters, filter_id, form, {})
    from nlf_client import BackendError

    assert live.stopped_text(BackendError("UNAVAILABLE", "gone")).startswith("gone [UNAVAILABLE];")
