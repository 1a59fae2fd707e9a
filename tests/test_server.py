"""The gRPC service through a real server on 127.0.0.1:0 and the real client."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest

from nlf_client import BackendError, Client, Layer, Mask, Progress
from nlf_client.proto import filters_pb2 as pb
from nlf_client.proto import filters_pb2_grpc as pb_grpc
from tests.fakes import as_array, make_layer, rect_mask


def raw_run(address: str, requests: list[pb.RunRequest], metadata=()) -> list[pb.RunEvent]:
    with grpc.insecure_channel(address) as ch:
        return list(pb_grpc.FiltersStub(ch).Run(iter(requests), timeout=20, metadata=metadata))


def header_only(**kw) -> pb.RunRequest:
    return pb.RunRequest(header=pb.RunHeader(**kw))


def test_list_filters_has_schemas(client: Client) -> None:
    """Every filter comes with an id, label and typed parameter specs."""
    specs = {f.id: f for f in client.list_filters()}
    assert {"test_invert", "test_slow"} <= set(specs)
    amount = specs["test_invert"].params[0]
    assert (amount.name, amount.kind, amount.default, amount.min, amount.max) == (
        "amount",
        "float",
        1.0,
        0.0,
        1.0,
    )


def test_status_reports_device_and_filters(client: Client) -> None:
    """Status names the device, protocol and per-filter readiness."""
    st = client.status()
    assert st.protocol_version == 1
    assert st.device == "cpu"
    assert st.memory_total > 0
    assert st.filter_status("test_invert").ready


def test_run_inverts_inside_selection_only(client: Client) -> None:
    """Result: inverted inside the mask, bit-identical outside, alpha kept."""
    layer = make_layer(40, 30, seed=1)
    mask = rect_mask(40, 30, 10, 5, 30, 20)
    result = client.run("test_invert", layer, mask, {"amount": 1.0})
    (out,) = result.layers
    src, dst = as_array(layer), as_array(out)
    inside = np.zeros((30, 40), bool)
    inside[5:20, 10:30] = True
    assert np.array_equal(dst[~inside], src[~inside])
    assert np.array_equal(dst[..., 3], src[..., 3])
    assert np.array_equal(dst[inside][:, :3], 255 - src[inside][:, :3])
    assert (out.width, out.height, out.format, out.name) == (40, 30, "u8", "Invert 1")


@pytest.mark.parametrize("fmt", ["u8", "u16", "f32"])
def test_formats_round_trip(client: Client, fmt: str) -> None:
    """All three pixel formats come back in their own format, outside pixels exact."""
    layer = make_layer(16, 16, fmt, seed=2)
    (out,) = client.run("test_invert", layer, rect_mask(16, 16, 0, 0, 8, 16)).layers
    assert out.format == fmt
    assert np.array_equal(as_array(out)[:, 8:], as_array(layer)[:, 8:])


def test_feathered_mask_blends(client: Client) -> None:
    """A half-covered pixel takes half the effect."""
    layer = Layer(bytes([200, 100, 0, 255]) * 4, 2, 2)
    mask = Mask(bytes([128, 0, 255, 0]), 2, 2)
    out = as_array(client.run("test_invert", layer, mask).layers[0])
    assert tuple(out[0, 0, :3]) == (127, 128, 128)  # (200*127 + 55*128) / 255 = 127.2, ...
    assert tuple(out[0, 1]) == (200, 100, 0, 255)
    assert tuple(out[1, 0, :3]) == (55, 155, 255)


def test_progress_order_and_previews(client: Client) -> None:
    """Queued first, then progress with rising fractions; previews when asked."""
    events: list[Progress] = []
    previews = []
    client.run(
        "test_slow",
        make_layer(8, 8),
        params={"steps": 5, "delay": 0.0},
        on_progress=events.append,
        on_preview=previews.append,
    )
    assert events[0].stage == "queued" and events[0].queue_position >= 0
    fractions = [e.fraction for e in events[1:]]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert len(fractions) == 6
    inv_previews = []
    client.run("test_invert", make_layer(8, 8), on_preview=inv_previews.append)
    assert inv_previews and inv_previews[0].width == 8


def test_cancel_mid_job_then_next_job_runs(live_server, client: Client) -> None:
    """Cancelling stops the job within a second and the worker takes the next job."""
    cancel = threading.Event()
    seen: list[Progress] = []

    def progress(p: Progress) -> None:
        seen.append(p)
        if p.fraction > 0.05:
            cancel.set()

    t0 = time.monotonic()
    with pytest.raises(BackendError) as info:
        client.run(
            "test_slow",
            make_layer(8, 8),
            params={"steps": 200, "delay": 0.05},
            on_progress=progress,
            cancel_event=cancel,
        )
    assert info.value.code == "CANCELLED"
    assert time.monotonic() - t0 < 5
    deadline = time.monotonic() + 2
    while live_server.worker.busy and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not live_server.worker.busy
    assert client.run("test_invert", make_layer(4, 4)).layers


def test_client_disconnect_frees_worker(live_server) -> None:
    """A client that goes away mid-job does not keep the worker busy."""
    layer = make_layer(8, 8)
    c = live_server.client()
    started = threading.Event()
    errors = []

    def go() -> None:
        try:
            c.run(
                "test_slow",
                layer,
                params={"steps": 500, "delay": 0.02},
                on_progress=lambda p: started.set() if p.fraction > 0 else None,
            )
        except BackendError as exc:
            errors.append(exc)

    th = threading.Thread(target=go)
    th.start()
    assert started.wait(10)
    c.close()
    th.join(10)
    deadline = time.monotonic() + 3
    while live_server.worker.busy and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not live_server.worker.busy
    assert errors and errors[0].code in ("CANCELLED", "UNAVAILABLE")


BAD_INPUTS = {
    "zero size": (
        [header_only(filter_id="test_invert", layer=pb.ImageInfo(width=0, height=0, format=pb.U8))],
        "0x0",
    ),
    "truncated pixels": (
        [
            header_only(
                filter_id="test_invert", layer=pb.ImageInfo(width=4, height=4, format=pb.U8)
            ),
            pb.RunRequest(chunk=pb.PixelChunk(key="layer", data=b"\0" * 10)),
        ],
        "truncated",
    ),
    "too many bytes": (
        [
            header_only(
                filter_id="test_invert", layer=pb.ImageInfo(width=1, height=1, format=pb.U8)
            ),
            pb.RunRequest(chunk=pb.PixelChunk(key="layer", data=b"\0" * 5)),
        ],
        "more pixel bytes",
    ),
    "mask size mismatch": (
        [
            header_only(
                filter_id="test_invert",
                layer=pb.ImageInfo(width=2, height=2, format=pb.U8),
                mask=pb.ImageInfo(width=3, height=2),
            ),
            pb.RunRequest(chunk=pb.PixelChunk(key="layer", data=b"\0" * 16)),
            pb.RunRequest(chunk=pb.PixelChunk(key="mask", data=b"\xff" * 6)),
        ],
        "3x2",
    ),
    "too many pixels": (
        [
            header_only(
                filter_id="test_invert",
                layer=pb.ImageInfo(width=100000, height=100000, format=pb.U8),
            )
        ],
        "maximum",
    ),
    "no format": (
        [header_only(filter_id="test_invert", layer=pb.ImageInfo(width=1, height=1))],
        "pixel format",
    ),
    "no header": ([pb.RunRequest(chunk=pb.PixelChunk(key="layer", data=b"\0" * 4))], "RunHeader"),
    "unknown chunk": (
        [
            header_only(
                filter_id="test_invert", layer=pb.ImageInfo(width=1, height=1, format=pb.U8)
            ),
            pb.RunRequest(chunk=pb.PixelChunk(key="style", data=b"\0" * 4)),
        ],
        "style",
    ),
}


def _one_pixel(params=None, filter_id="test_invert", fmt=pb.U8, data=b"\0\0\0\xff"):
    return [
        header_only(
            filter_id=filter_id,
            layer=pb.ImageInfo(width=1, height=1, format=fmt),
            params=params or {},
        ),
        pb.RunRequest(chunk=pb.PixelChunk(key="layer", data=data)),
    ]


BAD_INPUTS.update(
    {
        "NaN pixel": (
            _one_pixel(fmt=pb.F32, data=np.array([np.nan, 0, 0, 1], "<f4").tobytes()),
            "non-finite",
        ),
        "unknown param": (_one_pixel({"bogus": pb.ParamValue(real=1.0)}), "bogus"),
        "mistyped param": (_one_pixel({"amount": pb.ParamValue(text="lots")}), "amount"),
        "out of range": (_one_pixel({"amount": pb.ParamValue(real=7.0)}), "maximum"),
        "NaN param": (_one_pixel({"amount": pb.ParamValue(real=float("nan"))}), "finite"),
    }
)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_invalid_argument(live_server, case: str) -> None:
    """Each malformed request gets INVALID_ARGUMENT naming the problem; the server survives."""
    requests, words = BAD_INPUTS[case]
    with pytest.raises(grpc.RpcError) as info:
        raw_run(live_server.address, requests)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert words in info.value.details()


def test_unknown_filter_is_not_found(client: Client) -> None:
    """An unknown filter id is NOT_FOUND and lists the filters on offer."""
    with pytest.raises(BackendError) as info:
        client.run("nope", make_layer(2, 2))
    assert info.value.code == "NOT_FOUND" and "test_invert" in info.value.message


def test_internal_error_has_id_and_server_survives(client: Client) -> None:
    """An unexpected exception is INTERNAL with an error id, and the next job works."""
    with pytest.raises(BackendError) as info:
        client.run("test_broken", make_layer(2, 2))
    assert info.value.code == "INTERNAL" and "internal error" in info.value.message
    assert client.run("test_invert", make_layer(2, 2)).layers


def test_empty_selection_is_invalid(client: Client) -> None:
    """A mask that selects nothing is a clear INVALID_ARGUMENT."""
    with pytest.raises(BackendError) as info:
        client.run("test_invert", make_layer(4, 4), Mask(bytes(16), 4, 4))
    assert info.value.code == "INVALID_ARGUMENT" and "selection" in info.value.message


def test_token_required(make_backend) -> None:
    """With a token, calls without it or with a wrong one are UNAUTHENTICATED."""
    b = make_backend(token="s3cret")
    for token in (None, "wrong"):
        c = Client.connect(b.address, token=token)
        with pytest.raises(BackendError) as info:
            c.list_filters()
        assert info.value.code == "UNAUTHENTICATED"
        with pytest.raises(BackendError) as info:
            c.run("test_invert", make_layer(2, 2))
        assert info.value.code == "UNAUTHENTICATED"
        c.close()
    with b.client() as ok:
        assert ok.run("test_invert", make_layer(2, 2)).layers


def test_queue_full_is_resource_exhausted(make_backend) -> None:
    """Beyond --max-queue waiting jobs, a new job is RESOURCE_EXHAUSTED."""
    b = make_backend(max_queue=1)
    cancel = threading.Event()
    with b.client() as c, ThreadPoolExecutor(2) as pool:
        slow = {"steps": 1000, "delay": 0.01}
        running = pool.submit(c.run, "test_slow", make_layer(2, 2), None, slow, cancel_event=cancel)
        while not b.worker.busy:
            time.sleep(0.01)
        waiting = pool.submit(c.run, "test_slow", make_layer(2, 2), None, slow, cancel_event=cancel)
        while b.worker.queue_length < 1:
            time.sleep(0.01)
        with pytest.raises(BackendError) as info:
            c.run("test_invert", make_layer(2, 2))
        assert info.value.code == "RESOURCE_EXHAUSTED"
        cancel.set()
        for f in (running, waiting):
            with pytest.raises(BackendError):
                f.result(10)


def test_many_clients_no_job_lost(live_server) -> None:
    """8 clients x 20 jobs at once: every job returns its own correct result."""

    def worker(k: int) -> int:
        ok = 0
        with live_server.client() as c:
            for j in range(20):
                layer = make_layer(6, 5, seed=k * 100 + j)
                (out,) = c.run("test_invert", layer).layers
                ok += np.array_equal(as_array(out)[..., :3], 255 - as_array(layer)[..., :3])
        return ok

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(worker, range(8))) == 160


def test_large_layer_beyond_4mib(client: Client) -> None:
    """A 2048x1024 RGBA16 layer (16 MiB) round-trips in chunks."""
    layer = make_layer(2048, 1024, "u16", seed=3)
    (out,) = client.run("test_invert", layer, rect_mask(2048, 1024, 0, 0, 1, 1)).layers
    a, b = as_array(out), as_array(layer)
    assert np.array_equal(a[1:], b[1:]) and a[0, 0, 0] == 65535 - b[0, 0, 0]


def test_unavailable_backend() -> None:
    """Connecting to nothing is a prompt UNAVAILABLE."""
    with pytest.raises(BackendError) as info:
        Client.connect("127.0.0.1:9", timeout=1.0)
    assert info.value.code == "UNAVAILABLE"


def test_status_names_missing_weights_with_fix(tmp_path) -> None:
    """Without weights, status says what is missing and the exact command that fixes it."""
    from backend.filters.base import Context
    from backend.serving.registry import Registry

    ctx = Context(
        weights_dir=tmp_path / "w", attributes_dir=tmp_path / "a", models_dir=tmp_path / "m"
    )
    registry = Registry(ctx)
    users = [fid for fid in registry.ids() if registry.get(fid).uses_backbone]
    assert {"dfi", "mrf"} <= set(users)
    for fid in registry.ids():
        if registry.get(fid).uses_backbone:
            commands = [m.command for m in registry.missing(fid)]
            assert "python -m backend weights fetch vgg16-hed" in commands, (fid, commands)


def test_dfi_without_a_face_is_failed_precondition(live_server, client: Client) -> None:
    """DFI on a selection with no face (a flat area): FAILED_PRECONDITION saying what to do, and
    with align=off the same selection is edited as a crop."""
    w, h = 64, 48
    layer = make_layer(w, h, seed=9)
    flat = as_array(layer).copy()
    flat[..., :3] = 120
    flat_layer = Layer(flat.tobytes(), w, h, "u8")
    mask = rect_mask(w, h, 8, 6, 40, 38)
    fast = live_server.overrides["dfi"]
    with pytest.raises(BackendError) as info:
        client.run("dfi", flat_layer, mask, fast)
    assert info.value.code == "FAILED_PRECONDITION"
    assert info.value.message == "no face found in the selection: select a face, or set align=off"
    result = client.run("dfi", flat_layer, mask, {**fast, "align": False, "strength": 2.0})
    assert result.layers


def test_dfi_edits_every_face_and_nothing_outside(live_server, client: Client) -> None:
    """DFI over gRPC with align on (the fake finder sees one face per textured half): both
    faces in the selection change, and every pixel outside the selection is bit-identical."""
    from tests.fakes import FakeFaceFinder

    w, h = 96, 48
    src = as_array(make_layer(w, h, seed=11)).copy()
    src[..., :3] = 120
    rng = np.random.default_rng(0)
    src[4:44, 4:44, :3] = rng.integers(0, 256, (40, 40, 3))  # face 1
    src[4:44, 52:92, :3] = rng.integers(0, 256, (40, 40, 3))  # face 2
    layer = Layer(src.tobytes(), w, h, "u8")
    finder = live_server.registry.get("dfi").ctx.face_finder()
    assert isinstance(finder, FakeFaceFinder)
    old_grid, finder.grid = finder.grid, (1, 2)
    try:
        result = client.run(
            "dfi", layer, rect_mask(w, h, 0, 0, w, 46), live_server.overrides["dfi"]
        )
    finally:
        finder.grid = old_grid
    (out,) = result.layers
    dst = as_array(out)
    assert np.array_equal(dst[46:], src[46:])
    changed = (dst[..., :3] != src[..., :3]).any(-1)
    assert changed[14:34, 14:34].mean() > 0.2, changed[14:34, 14:34].mean()
    assert changed[14:34, 62:82].mean() > 0.2, changed[14:34, 62:82].mean()


def test_dfi_methods_over_grpc(live_server, client: Client) -> None:
    """Both DFI methods over gRPC on one face in a loose selection: each edits the face and
    leaves every pixel outside the selection bit-identical; the inverter and the optimiser give
    different edits; without an inverter file, method=inverter is FAILED_PRECONDITION naming the
    train command."""
    w, h = 80, 64
    src = as_array(make_layer(w, h, seed=12)).copy()
    src[..., :3] = 110
    src[8:56, 16:64, :3] = np.random.default_rng(1).integers(0, 256, (48, 48, 3))
    layer = Layer(src.tobytes(), w, h, "u8")
    mask = rect_mask(w, h, 10, 2, 70, 62)
    fast = {**live_server.overrides["dfi"], "strength": 1.5}
    outs = {}
    for method in ("inverter", "optimise"):
        (out,) = client.run("dfi", layer, mask, {**fast, "method": method}).layers
        dst = outs[method] = as_array(out)
        assert np.array_equal(dst[:2], src[:2]) and np.array_equal(dst[:, 70:], src[:, 70:])
        assert (dst[20:44, 28:52, :3] != src[20:44, 28:52, :3]).any(-1).mean() > 0.2, method
    assert not np.array_equal(outs["inverter"], outs["optimise"])
    inverter = live_server.registry.get("dfi").ctx.attributes_dir / "tiny" / "inverter.pth"
    moved = inverter.with_name("inverter.pth.away")
    inverter.rename(moved)
    try:
        with pytest.raises(BackendError) as info:
            client.run("dfi", layer, mask, {**fast, "method": "inverter"})
    finally:
        moved.rename(inverter)
    assert info.value.code == "FAILED_PRECONDITION"
    assert "python -m backend train dfi-inverter" in info.value.message
