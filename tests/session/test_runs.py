"""One filter run through the session core against a fake editor document and a real backend."""

from __future__ import annotations

import threading

import pytest

from nlf_client import BackendError, Colour, FilterSpec, Layer, Mask, ParamSpec, RunResult
from nlf_client.session import (
    UserError,
    build_request,
    execute,
    finish,
    prepare,
    run_each,
    values_from_json,
)
from tests.session.fake_document import FakeDocument

SPEC = FilterSpec(
    "demo",
    "Demo",
    params=(
        ParamSpec("amount", "float", "Amount", 1.0),
        ParamSpec("style", "choice", "Style", "a", choices=("a", "b")),
        ParamSpec("pack", "choice", "Pack", "", dynamic=True),
        ParamSpec("ink", "colour", "Ink", Colour(0, 0, 0, 1)),
        ParamSpec("guide", "layer", "Guide"),
    ),
)


def _layer(name: str, value: int = 10, w: int = 4, h: int = 2) -> Layer:
    return Layer(bytes([value, value, value, 255]) * (w * h), w, h, name=name)


def test_form_values_become_typed_params_and_extra_layers():
    doc = FakeDocument({"bg": _layer("Background"), "g": _layer("Guide layer", 99)})
    req = build_request(SPEC, {"amount": 1, "ink": "#ff000080", "guide": "g"}, doc)
    assert req.params == {"amount": 1.0, "style": "a", "ink": Colour(1.0, 0.0, 0.0, 128 / 255)}
    assert "pack" not in req.params  # an empty dynamic choice: the backend picks its default
    assert req.extras["guide"].pixels[0] == 99 and req.layer_names == {"guide": "Guide layer"}


def test_missing_or_gone_layers_are_said_in_words():
    required = FilterSpec("r", "R", params=(ParamSpec("guide", "layer", "Guide", required=True),))
    with pytest.raises(UserError, match="choose a layer for 'Guide'"):
        build_request(required, {}, FakeDocument({}))
    with pytest.raises(UserError, match="'Guide' no longer exists"):
        build_request(SPEC, {"guide": "deleted"}, FakeDocument({}))
    with pytest.raises(UserError, match="needs a selection"):
        prepare(FakeDocument({"bg": _layer("bg")}), FilterSpec("m", "M", needs_mask=True), {}, "bg")
    with pytest.raises(UserError, match="not a mask"):
        prepare(FakeDocument({}), SPEC, {}, "a-mask")


def test_json_values_for_batch_procedures():
    values, layers = values_from_json(SPEC, '{"amount": 2, "ink": "#00ff00", "guide": "Top"}')
    assert values == {"amount": 2.0, "ink": Colour(0.0, 1.0, 0.0, 1.0)}
    assert layers == {"guide": "Top"}
    for bad in ("[1]", "{nope"):
        with pytest.raises(ValueError, match="JSON"):
            values_from_json(SPEC, bad)


def test_a_run_adds_named_layers_above_the_source_and_keeps_it(live_server, client):
    """prepare (document thread) -> execute (worker) -> finish (document thread)."""
    spec = next(f for f in client.list_filters() if f.id == "test_invert")
    source = _layer("Background", 10)
    mask = Mask(bytes([255, 0] * 4), 4, 2)
    doc = FakeDocument({"top": _layer("Top"), "bg": source}, selection=mask)
    doc.stack = ["bg", "top"]
    job = prepare(doc, spec, {"amount": 0.5}, "bg")
    seen = []
    result = execute(client, job, seen.append)
    (name,) = finish(doc, job, result)
    assert name == "[NLF] Invert (test) amount=0.5" and doc.stack == ["bg", name, "top"]
    out = doc.layers[name].pixels
    assert out[0] != 10 and out[4:8] == source.pixels[4:8]  # outside the selection: unchanged
    assert doc.layers["bg"] is source and seen and seen[-1].fraction == 1.0


def test_a_cancelled_run_changes_nothing(client):
    spec = next(f for f in client.list_filters() if f.id == "test_slow")
    doc = FakeDocument({"bg": _layer("bg")})
    job = prepare(doc, spec, {"steps": 200, "delay": 0.05}, "bg")
    threading.Timer(0.3, job.cancel.set).start()
    with pytest.raises(BackendError) as err:
        execute(client, job)
    assert err.value.code == "CANCELLED" and doc.stack == ["bg"]


def test_results_for_a_deleted_source_are_refused():
    doc = FakeDocument({"bg": _layer("bg")})
    job = prepare(doc, SPEC, {}, "bg")
    doc.stack.remove("bg")
    with pytest.raises(UserError, match="deleted"):
        finish(doc, job, RunResult([_layer("r")]))
    with pytest.raises(UserError, match="no layer"):
        finish(doc, job, RunResult([]))


def test_preview_copies_are_small_and_keep_the_request():
    doc = FakeDocument({"bg": _layer("bg", w=400, h=100), "g": _layer("g", w=400, h=100)})
    job = prepare(doc, SPEC, {"guide": "g"}, "bg", mask=Mask(b"\xff" * 40000, 400, 100))
    small = job.scaled(100)
    assert (small.layer.width, small.layer.height, small.mask.width) == (100, 25, 100)
    assert small.request.extras["guide"].width == 100 and small.request.params == job.request.params


def test_batch_runs_in_order_reports_progress_and_keeps_going_past_bad_items():
    from nlf_client import Progress

    def run_one(i, report):
        report(Progress(0.5, "step"))
        if i == 1:
            raise UserError("cannot read image 'b.png'")
        return i * 10

    done, texts = [], []
    failures = run_each(3, run_one, lambda f, t: texts.append((f, t)), lambda i, r: done.append(r),
                        lambda: False, keep_going=True)  # fmt: skip
    assert done == [0, 20] and failures == [(1, "cannot read image 'b.png'")]
    assert texts[0] == (0.5 / 3, "1 of 3: step")
    keep = lambda i, r: done.append(r)  # noqa: E731
    with pytest.raises(UserError):
        run_each(3, run_one, lambda f, t: None, keep, lambda: False)

    def lost(i, report):
        raise BackendError("UNAVAILABLE", "gone")

    with pytest.raises(BackendError, match="gone"):
        run_each(2, lost, lambda f, t: None, keep, lambda: False, keep_going=True)
    with pytest.raises(BackendError, match="cancelled after 0 of 2"):
        run_each(2, run_one, lambda f, t: None, keep, lambda: True)


def test_session_keeps_the_link_the_filters_and_the_last_run(live_server):
    from nlf_client.session import Session, Settings

    s = Session(Settings(address=live_server.address, autostart=False), "the Settings tab")
    status, specs = s.fetch()
    assert s.update(status, specs).startswith("Backend ready") and "test_invert" in s.filters
    assert s.client() is s.client()  # one connection, made on first use
    assert s.spec("test_invert").label == "Invert (test)"
    with pytest.raises(UserError, match="not offered"):
        s.spec("nope")
    s.remember("test_invert", {"amount": 0.5})
    assert s.last == ("test_invert", {"amount": 0.5})
    text = s.lost(BackendError("UNAVAILABLE", "gone"))
    assert s.status is None and s._client is None and "the Settings tab" in text
    assert s.describe(UserError("no layer"), "Invert") == "Invert: no layer"
    s.use_settings(Settings(address="127.0.0.1:1", autostart=False, connect_timeout=0.3))
    with pytest.raises(BackendError):
        s.client()
    s.close()
