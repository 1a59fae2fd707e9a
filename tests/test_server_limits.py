"""Admission before allocation, never-blocking handlers, and serve-flag checks, hit the way a
hostile but realistic client would: raw gRPC streams against a real server (in-process, or a
``python -m backend serve`` subprocess where its memory is measured)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from backend.cli import main as cli_main
from nlf_client import BackendError
from nlf_client.proto import filters_pb2 as pb
from nlf_client.proto import filters_pb2_grpc as pb_grpc
from tests.fakes import make_layer

ROOT = Path(__file__).resolve().parent.parent


def _header(filter_id: str, side: int, fmt=pb.F32, extras=()) -> pb.RunRequest:
    info = pb.ImageInfo(width=side, height=side, format=fmt)
    return pb.RunRequest(
        header=pb.RunHeader(
            filter_id=filter_id, layer=info, extra_layers={name: info for name in extras}
        )
    )


def _stalled(first: pb.RunRequest, release: threading.Event) -> Iterator[pb.RunRequest]:
    """A stream that sends a header and then nothing until ``release`` (then ends)."""
    yield first
    release.wait()


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _timed_status(stub: pb_grpc.FiltersStub) -> float:
    t0 = time.monotonic()
    stub.GetStatus(pb.StatusRequest(), timeout=5)
    return time.monotonic() - t0


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """``python -m backend serve --port 0`` with empty data folders; yields (process, address)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    for sub in ("WEIGHTS", "ATTRIBUTES", "MODELS"):
        env[f"NLF_{sub}_DIR"] = str(tmp_path / sub.lower())
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend", "serve", "--port", "0", "--upload-idle-timeout", "6"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("listening on"), line
        yield proc, line.split()[-1]
    finally:
        proc.terminate()
        proc.wait(20)


def test_idle_header_only_streams_hold_no_memory(serve_process) -> None:
    """64 streams each declaring two 1024² f32 layers (32 MiB) and then sending nothing: the
    server grows by far less than one such request, refuses what it cannot take at once
    (RESOURCE_EXHAUSTED), answers GetStatus within 2 s while the uploads sit idle (and at all,
    within 5 s on a busy machine, while the 64 arrive), and drops the idle uploads after
    --upload-idle-timeout with DEADLINE_EXCEEDED."""
    proc, address = serve_process
    release = threading.Event()
    with grpc.insecure_channel(address) as ch:
        stub = pb_grpc.FiltersStub(ch)
        assert _timed_status(stub) < 5  # warm: filters instantiated
        before = _rss(proc.pid)
        head = _header("mrf", 1024, extras=("style",))
        calls = [stub.Run(_stalled(head, release), timeout=60) for _ in range(64)]
        try:
            assert _timed_status(stub) < 5  # even while the 64 arrive (it once hung)
            deadline = time.monotonic() + 20  # the refusals come first ...
            while sum(c.done() for c in calls) < 48 and time.monotonic() < deadline:
                time.sleep(0.05)
            worst, grew = 0.0, 0
            for _ in range(8):  # ... then 16 uploads sit idle
                time.sleep(0.3)
                worst = max(worst, _timed_status(stub))
                grew = max(grew, _rss(proc.pid) - before)
            assert worst < 2.0, f"GetStatus took {worst:.2f} s under 16 idle uploads"
            assert grew < 32 << 20, f"the server grew by {grew >> 20} MiB"
            codes = []
            for call in calls:
                with pytest.raises(grpc.RpcError) as info:
                    list(call)
                codes.append((info.value.code(), info.value.details()))
        finally:
            release.set()
        refused = [d for c, d in codes if c == grpc.StatusCode.RESOURCE_EXHAUSTED]
        dropped = [d for c, d in codes if c == grpc.StatusCode.DEADLINE_EXCEEDED]
        assert len(refused) + len(dropped) == 64, codes[:3]
        assert refused and "busy" in refused[0]
        assert dropped and "sent nothing for 6 s" in dropped[0]
        assert _timed_status(stub) < 1.0
        # the dropped uploads gave their slots back: a new job is admitted (and then found short)
        with pytest.raises(grpc.RpcError) as info:
            list(stub.Run(iter([_header("mrf", 4, extras=("style",))]), timeout=20))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "truncated" in info.value.details()


def test_header_checked_before_any_pixel(make_backend) -> None:
    """Layers the filter does not take and a request over the total pixel budget are refused
    from the header alone (no pixel is sent)."""
    b = make_backend(max_pixels=1 << 20, max_total_pixels=3 << 19)
    with grpc.insecure_channel(b.address) as ch:
        stub = pb_grpc.FiltersStub(ch)
        cases = [
            (_header("test_invert", 8, extras=("style",)), "not a layer parameter"),
            (_header("mrf", 1024, extras=("style",)), "together"),
            (_header("mrf", 4, extras=("bogus",)), "takes: style, style_map, target_map"),
            (_header("nope" * 50_000, 8), "this server offers"),
        ]
        for head, words in cases:
            with pytest.raises(grpc.RpcError) as info:
                list(stub.Run(iter([head]), timeout=20))
            assert info.value.code() in (
                grpc.StatusCode.INVALID_ARGUMENT,
                grpc.StatusCode.NOT_FOUND,
            ), info.value.details()
            assert words in info.value.details()
            assert len(info.value.details()) < 2100


def test_full_queue_answers_at_once(make_backend) -> None:
    """With --max-queue 40 (more than the old 32 handler threads), the 42nd job is refused
    RESOURCE_EXHAUSTED at once and GetStatus still answers within 1 s."""
    b = make_backend(max_queue=40, max_uploads=48)  # the burst of 41 uploads is not refused
    cancel = threading.Event()
    slow = {"steps": 10_000, "delay": 0.01}
    with b.client() as c, ThreadPoolExecutor(41) as pool:
        jobs = [
            pool.submit(c.run, "test_slow", make_layer(2, 2), None, slow, cancel_event=cancel)
            for _ in range(41)
        ]
        try:
            deadline = time.monotonic() + 60
            while b.worker.queue_length < 40 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert b.worker.queue_length == 40 and b.worker.busy
            t0 = time.monotonic()
            with pytest.raises(BackendError) as info:
                c.run("test_invert", make_layer(2, 2), timeout=10)
            assert info.value.code == "RESOURCE_EXHAUSTED"
            assert time.monotonic() - t0 < 5
            t0 = time.monotonic()
            assert c.status().queue_length == 40
            assert time.monotonic() - t0 < 1.0
        finally:
            cancel.set()
        for job in jobs:
            with pytest.raises(BackendError):
                job.result(30)


def test_cancelled_queued_job_frees_its_slot_at_once(make_backend) -> None:
    """Cancelling a job that waits in the queue frees its place while another job runs."""
    b = make_backend(max_queue=1)
    stop_running, stop_waiting = threading.Event(), threading.Event()
    slow = {"steps": 10_000, "delay": 0.01}
    with b.client() as c, ThreadPoolExecutor(2) as pool:
        running = pool.submit(
            c.run, "test_slow", make_layer(2, 2), None, slow, cancel_event=stop_running
        )
        try:
            while not b.worker.busy:
                time.sleep(0.01)
            waiting = pool.submit(
                c.run, "test_slow", make_layer(2, 2), None, slow, cancel_event=stop_waiting
            )
            while b.worker.queue_length < 1:
                time.sleep(0.01)
            stop_waiting.set()
            with pytest.raises(BackendError) as info:
                waiting.result(10)
            assert info.value.code == "CANCELLED"
            deadline = time.monotonic() + 2
            while b.worker.queue_length and time.monotonic() < deadline:
                time.sleep(0.01)
            assert b.worker.queue_length == 0 and b.worker.busy
            third = pool.submit(c.run, "test_invert", make_layer(2, 2))
            while b.worker.queue_length < 1 and not third.done():
                time.sleep(0.01)
            assert not third.done() or third.exception() is None  # queued, not refused
        finally:
            stop_running.set()
        with pytest.raises(BackendError):
            running.result(10)
        assert third.result(10).layers


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--max-queue", "0"], "--max-queue"),
        (["--max-pixels", "-5"], "--max-pixels"),
        (["--max-uploads", "0"], "--max-uploads"),
        (["--max-pixels", "100", "--max-total-pixels", "50"], "--max-total-pixels"),
        (["--upload-idle-timeout", "0"], "--upload-idle-timeout"),
        (["--upload-idle-timeout", "nan"], "--upload-idle-timeout"),
        (["--port", "70000"], "--port"),
    ],
)
def test_serve_flags_checked_at_start(capsys, flags: list[str], words: str) -> None:
    """A bad serve flag stops ``serve`` at once with exit code 2 and names the flag."""
    assert cli_main(["serve", *flags]) == 2
    assert words in capsys.readouterr().err
