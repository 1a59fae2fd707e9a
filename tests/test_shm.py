"""Shared-memory transport on one host: negotiated, verified, falls back, never leaks segments."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time

import grpc
import numpy as np
import pytest

from backend.serving import shm as server_shm
from nlf_client import BackendError, Client, shm
from nlf_client.proto import filters_pb2 as pb
from nlf_client.proto import filters_pb2_grpc as pb_grpc
from tests.conftest import ROOT
from tests.fakes import as_array, make_layer, rect_mask

pytestmark = pytest.mark.skipif(
    not (shm.available() and os.path.isdir(shm.SHM_DIR)), reason="needs POSIX shared memory"
)


def segments(pid: int | None = None) -> list[str]:
    prefix = shm.PREFIX if pid is None else f"{shm.PREFIX}{pid}-"
    return sorted(n for n in os.listdir(shm.SHM_DIR) if n.startswith(prefix))


@pytest.mark.parametrize("fmt", ["u8", "u16", "f32"])
def test_job_goes_through_shared_memory(live_server, fmt: str) -> None:
    """Layer and mask through a segment, the result back through it; bit-exact outside."""
    layer = make_layer(300, 200, fmt, seed=4)
    before = set(segments(os.getpid()))  # other tests' clients in this process may hold some
    with live_server.client() as c:
        (out,) = c.run("test_invert", layer, rect_mask(300, 200, 10, 10, 50, 40)).layers
        assert (c._t.shared_jobs, c._t.shared_refusals) == (1, 0)
        assert c.status().filter_status("test_invert").ready
    a, b = as_array(out), as_array(layer)
    assert out.format == fmt and np.array_equal(a[50:], b[50:])
    assert not np.array_equal(a[10:40, 10:50, :3], b[10:40, 10:50, :3])
    assert set(segments(os.getpid())) <= before  # closing the client unlinked its pool


def test_streamed_and_shared_give_identical_results(live_server) -> None:
    layer, mask = make_layer(64, 64, "u16", seed=5), rect_mask(64, 64, 3, 3, 40, 40)
    with live_server.client(shared_memory=False) as s, live_server.client() as m:
        (a,) = s.run("test_invert", layer, mask, {"amount": 0.5}).layers
        (b,) = m.run("test_invert", layer, mask, {"amount": 0.5}).layers
        assert (s._t.shared_jobs, m._t.shared_jobs) == (0, 1)
    assert a.pixels == b.pixels


def test_segments_are_owner_only_and_unlinked() -> None:
    pool = shm.SegmentPool()
    seg = pool.acquire(4096)
    mode = os.stat(os.path.join(shm.SHM_DIR, seg.name)).st_mode
    assert stat.S_IMODE(mode) == 0o600
    pool.release(seg)
    assert seg.name in segments(os.getpid())  # kept for the next job
    pool.close()
    assert seg.name not in segments(os.getpid())


def test_server_that_cannot_open_the_segment_makes_the_client_stream(
    make_backend, monkeypatch
) -> None:
    """A backend in another /dev/shm (container, other host) refuses; the job still runs."""
    backend = make_backend()
    monkeypatch.setattr(server_shm, "SHM_DIR", "/nonexistent-shm")
    monkeypatch.setattr(server_shm, "supported", lambda: True)  # it says yes, then cannot
    layer = make_layer(40, 30, seed=6)
    with backend.client() as c:
        for _ in range(2):
            (out,) = c.run("test_invert", layer).layers
            assert np.array_equal(as_array(out)[..., :3], 255 - as_array(layer)[..., :3])
        assert (c._t.shared_jobs, c._t.shared_refusals) == (0, 1)  # asked once, then streams


@pytest.mark.parametrize("where", ["acquire", "pack"])
def test_broken_shared_memory_in_this_python_falls_back_to_streaming(
    live_server, monkeypatch, where: str
) -> None:
    """An embedded Python whose shared memory breaks in any way (Krita 5.1's raised
    AttributeError from the resource tracker) still gets its result, streamed."""

    def broken(*args: object, **kwargs: object) -> None:
        raise AttributeError("'_thread.RLock' object has no attribute '_recursion_count'")

    if where == "acquire":
        monkeypatch.setattr(shm.SegmentPool, "acquire", broken)
    else:
        monkeypatch.setattr(shm, "pack", broken)
    layer = make_layer(40, 30, seed=7)
    with live_server.client() as c:
        for _ in range(2):
            (out,) = c.run("test_invert", layer).layers
            assert np.array_equal(as_array(out)[..., :3], 255 - as_array(layer)[..., :3])
        assert c._t.shared_jobs == 0


def _raw(address: str, header: pb.RunHeader) -> grpc.RpcError:
    with grpc.insecure_channel(address) as ch:
        call = pb_grpc.FiltersStub(ch).Run(iter([pb.RunRequest(header=header)]), timeout=10)
        with pytest.raises(grpc.RpcError) as info:
            list(call)
    return info.value


@pytest.mark.parametrize("bad", ["checksum", "name", "size", "outside"])
def test_bad_offers_are_refused_with_the_fallback_marker(live_server, bad: str) -> None:
    """A wrong checksum, a path for a name, a wrong size or a range outside: refused, not read."""
    pool = shm.SegmentPool()
    layer = make_layer(8, 8, seed=7)
    seg = pool.acquire(len(layer.pixels))
    try:
        crc = seg.write(0, layer.pixels)
        sp = pb.SharedPixels(segment=seg.name, offset=0, size=len(layer.pixels), crc32=crc)
        if bad == "checksum":
            sp.crc32 ^= 1
        elif bad == "name":
            sp.segment = "../../etc/passwd"
        elif bad == "size":
            sp.size -= 4
        else:
            sp.offset = 4
        info = pb.ImageInfo(width=8, height=8, format=pb.U8)
        header = pb.RunHeader(filter_id="test_invert", layer=info, shared={"layer": sp})
        err = _raw(live_server.address, header)
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert ("nlf-shared-memory", "refused") in tuple(err.trailing_metadata())
        assert "shared memory refused" in err.details()
    finally:
        pool.close()


def test_results_are_written_only_where_the_caller_proved_it_can_read(live_server) -> None:
    """result_space in a segment the job did not verify is ignored: results come as chunks."""
    pool = shm.SegmentPool()
    layer = make_layer(8, 8, seed=8)
    seg, other = pool.acquire(len(layer.pixels)), pool.acquire(len(layer.pixels))
    try:
        crc = seg.write(0, layer.pixels)
        other.write(0, b"\0" * len(layer.pixels))
        sp = pb.SharedPixels(segment=seg.name, offset=0, size=len(layer.pixels), crc32=crc)
        header = pb.RunHeader(
            filter_id="test_invert",
            layer=pb.ImageInfo(width=8, height=8, format=pb.U8),
            shared={"layer": sp},
            result_space=pb.SharedPixels(segment=other.name, size=len(layer.pixels)),
        )
        with grpc.insecure_channel(live_server.address) as ch:
            events = list(pb_grpc.FiltersStub(ch).Run(iter([pb.RunRequest(header=header)])))
        kinds = [e.WhichOneof("event") for e in events]
        assert "chunk" in kinds and not any(e.layer.HasField("shared") for e in events)
        assert bytes(other.shm.buf) == b"\0" * len(layer.pixels)
    finally:
        pool.close()


def test_cancel_leaves_no_segment(live_server) -> None:
    cancel = threading.Event()
    before = set(segments(os.getpid()))
    c = live_server.client()
    threading.Timer(0.5, cancel.set).start()
    with pytest.raises(BackendError) as info:
        c.run(
            "test_slow",
            make_layer(64, 64),
            None,
            {"steps": 400, "delay": 0.01},
            None,
            cancel_event=cancel,
        )
    assert info.value.code == "CANCELLED"
    assert set(segments(os.getpid())) <= before  # a cancelled job's segment is not kept
    c.close()
    assert set(segments(os.getpid())) <= before


CLIENT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    from nlf_client import Client
    from tests.fakes import make_layer
    c = Client.connect({address!r})
    print("go", flush=True)
    c.run("test_slow", make_layer(256, 256), None, {{"steps": 1000, "delay": 0.01}})
    """
)


def test_killed_client_leaves_no_segment(live_server) -> None:
    """SIGKILL a client in the middle of a shared-memory job: its segment is still unlinked."""
    code = CLIENT.format(root=str(ROOT), address=live_server.address)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "go"
        deadline = time.monotonic() + 20
        while not segments(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert segments(proc.pid), "the client never made a segment"
        while not live_server.worker.busy and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10  # the resource tracker notices its parent died
        while segments(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert segments(proc.pid) == []
    finally:
        if proc.poll() is None:
            proc.kill()


def test_segments_of_dead_processes_are_swept() -> None:
    """An editor without a resource tracker that crashed: the next pool removes its segments."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    name = f"{shm.PREFIX}{dead_pid}-{'a' * 12}"
    fd = os.open(os.path.join(shm.SHM_DIR, name), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    os.close(fd)
    live = f"{shm.PREFIX}{os.getppid()}-{'b' * 12}"
    fd = os.open(os.path.join(shm.SHM_DIR, live), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    os.close(fd)
    try:
        assert name in shm.sweep_dead()
        assert segments(dead_pid) == [] and segments(os.getppid()) == [live]
    finally:
        os.unlink(os.path.join(shm.SHM_DIR, live))


def test_remote_addresses_never_offer_shared_memory() -> None:
    assert Client.connect  # the check is on the parsed target, before any connection
    from nlf_client.transport import Transport

    t = Transport("192.0.2.1:50051", None, 1.0)
    try:
        assert t._shared_wanted is False
    finally:
        t.close()
