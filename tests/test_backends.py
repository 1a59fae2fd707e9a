"""Several backends behind one client address: gRPC's round_robin, a killed backend, --device."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.cli import main
from backend.device import device_choice, pick_device
from nlf_client import BackendError, Client
from nlf_client.channel import Target
from tests.conftest import ROOT
from tests.fakes import make_layer


@pytest.mark.parametrize(
    ("address", "target", "count", "local"),
    [
        ("127.0.0.1:50051", "127.0.0.1:50051", 1, True),
        (
            "127.0.0.1:1, localhost:2,127.0.0.3:3",
            "ipv4:127.0.0.1:1,127.0.0.1:2,127.0.0.3:3",
            3,
            True,
        ),
        ("[::1]:1,[::1]:2", "ipv6:[::1]:1,[::1]:2", 2, True),
        ("10.0.0.1:1,10.0.0.2:1", "ipv4:10.0.0.1:1,10.0.0.2:1", 2, False),
        ("dns:///gpus.example:50051", "dns:///gpus.example:50051", 1, False),
        ("dns:///localhost:50051", "dns:///localhost:50051", 1, True),
        ("unix:/run/nlf.sock", "unix:/run/nlf.sock", 1, True),
    ],
)
def test_addresses_become_grpc_targets(address, target, count, local) -> None:
    t = Target(address)
    assert (t.target, t.count, t.is_loopback) == (target, count, local)


@pytest.mark.parametrize("address", ["", "nonsense", "127.0.0.1:1,::1", "127.0.0.1:1,[::1]:2"])
def test_bad_addresses_are_clear_errors(address: str) -> None:
    with pytest.raises(BackendError) as info:
        Target(address)
    assert info.value.code == "INVALID_ARGUMENT"


def test_round_robin_spreads_jobs_over_backends(make_backend) -> None:
    """Jobs sent through one address list run on every backend, several at once."""
    backends = [make_backend() for _ in range(3)]
    address = ",".join(b.address for b in backends)
    slow = {"steps": 10, "delay": 0.05}
    ever_busy = [False] * 3
    most_at_once = 0
    with Client.connect(address, timeout=5) as c, ThreadPoolExecutor(3) as pool:
        assert c.backend_count == 3
        jobs = [pool.submit(c.run, "test_slow", make_layer(2, 2), None, slow) for _ in range(9)]
        while not all(j.done() for j in jobs):
            busy = [b.worker.busy for b in backends]
            ever_busy = [e or now for e, now in zip(ever_busy, busy, strict=True)]
            most_at_once = max(most_at_once, sum(busy))
            time.sleep(0.01)
        for j in jobs:
            j.result(20)
    assert ever_busy == [True, True, True]
    assert most_at_once >= 2


def test_device_flag_parses_and_refuses_missing_gpus() -> None:
    """``--device cuda:N`` is parsed; on a machine without that GPU, a clear refusal."""
    import argparse

    assert device_choice("CUDA:1") == "cuda:1" and device_choice("cpu") == "cpu"
    for bad in ("cuda:x", "cuda:-1", "gpu", "cuda:"):
        with pytest.raises(argparse.ArgumentTypeError):
            device_choice(bad)
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal is for machines without cuda:N")
    with pytest.raises(SystemExit) as info:
        pick_device("cuda:1")
    assert "0 CUDA device" in str(info.value)
    with pytest.raises(SystemExit):
        main(["serve", "--device", "cuda:x"])


def _start(n: int) -> list[tuple[subprocess.Popen, int]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    procs = []
    for _ in range(n):
        p = subprocess.Popen(
            [sys.executable, "-m", "tests.backend_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=env,
            text=True,
        )
        procs.append(p)
    return [(p, int(p.stdout.readline())) for p in procs]


@pytest.mark.slow
def test_batch_over_three_backends_survives_one_killed(tmp_path: Path, capsys) -> None:
    """A folder batch over three backend processes; one is killed mid-job; every file is done."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(9):
        arr = np.random.default_rng(i).integers(0, 256, (6, 8, 4), dtype=np.uint8)
        Image.fromarray(arr, "RGBA").save(src / f"{i}.png")
    backends = _start(3)
    victim, victim_port = backends[1]
    killed = threading.Event()

    def kill_when_busy() -> None:
        with Client.connect(f"127.0.0.1:{victim_port}", timeout=10) as probe:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if _busy(probe):
                    os.kill(victim.pid, signal.SIGKILL)
                    killed.set()
                    return
                time.sleep(0.02)

    killer = threading.Thread(target=kill_when_busy)
    killer.start()
    try:
        address = ",".join(f"127.0.0.1:{port}" for _, port in backends)
        argv = ["apply", "test_slow", str(src), "-o", str(out), "--server", address]
        # 1.5 s per file: the killer sees the victim busy even on a loaded machine
        rc = main([*argv, "--param", "steps=30", "--param", "delay=0.05"])
        killer.join(30)
        text = capsys.readouterr().out
    finally:
        for p, _ in backends:
            if p.poll() is None:
                p.stdin.close()
                p.wait(10)
    assert killed.is_set() and victim.poll() == -signal.SIGKILL
    assert rc == 0, text
    assert "9 of 9 files done, 9 written, 0 failed" in text
    assert "retried after a backend became unavailable" in text
    assert sorted(p.name for p in out.iterdir()) == [f"{i}.test_slow.png" for i in range(9)]


def _busy(client: Client) -> bool:
    from nlf_client.proto import filters_pb2 as pb

    return client._t._stub.GetStatus(pb.StatusRequest(), timeout=5).busy


@pytest.mark.slow
def test_client_run_sends_the_job_again_when_its_backend_dies() -> None:
    """What the plug-ins call: ``Client.run`` over two backend processes; the one running
    the job is killed mid-job; the same call returns the result from the other one."""
    backends = _start(2)
    address = ",".join(f"127.0.0.1:{port}" for _, port in backends)
    killed: list[int] = []

    def kill_the_busy_one() -> None:
        probes = [Client.connect(f"127.0.0.1:{port}", timeout=10) for _, port in backends]
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline and not killed:
                for (proc, _), probe in zip(backends, probes, strict=True):
                    if _busy(probe):
                        os.kill(proc.pid, signal.SIGKILL)
                        killed.append(proc.pid)
                        return
                time.sleep(0.02)
        finally:
            for p in probes:
                p.close()

    killer = threading.Thread(target=kill_the_busy_one)
    killer.start()
    try:
        stages: list[str] = []
        with Client.connect(address, timeout=10) as c:
            layer = make_layer(6, 5, seed=1)
            result = c.run(
                "test_slow",
                layer,
                None,
                {"steps": 10, "delay": 0.05},
                on_progress=lambda p: stages.append(p.stage),
            )
            killer.join(30)
            assert killed, "no backend was ever busy"
            assert c.retried_jobs == 1 and "retrying" in stages
            assert result.layers[0].width == 6
    finally:
        for p, _ in backends:
            if p.poll() is None:
                p.stdin.close()
                p.wait(10)
