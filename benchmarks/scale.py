"""A folder batch over one backend and over three, and over three with one killed mid-batch.

    python benchmarks/scale.py [--files 12] [--seconds 0.5]

Runs the real CLI (``python -m backend apply wait DIR -o OUT --server ADDRESSES``) against
backend processes whose one filter waits ``--seconds`` per job (benchmarks/_scale_server.py):
the stand-in for a GPU-bound job, during which the backend's CPU is idle. Jobs are spread by
gRPC's round_robin policy over the comma-separated addresses; the CLI keeps one file in flight
per backend. "batch s" is the CLI's own timing of the files (its summary line); "wall s" adds the
command's start-up (importing torch and the client), which on a busy machine dominates.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")


def start(n: int) -> list[tuple[subprocess.Popen, int]]:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "_scale_server.py")]
    procs = [
        subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV)
        for _ in range(n)
    ]
    return [(p, int(p.stdout.readline())) for p in procs]


def stop(backends: list[tuple[subprocess.Popen, int]]) -> None:
    for p, _ in backends:
        if p.poll() is None:
            p.stdin.close()
            p.wait(10)


def kill_when_busy(victim: subprocess.Popen, port: int, after_jobs: float) -> None:
    """SIGKILL the backend ``after_jobs`` seconds after it first got a job (mid-job)."""
    from nlf_client import Client
    from nlf_client.proto import filters_pb2 as pb

    with Client.connect(f"127.0.0.1:{port}", timeout=60) as probe:
        busy_since = None
        while victim.poll() is None:
            busy = probe._t._stub.GetStatus(pb.StatusRequest(), timeout=10).busy
            if busy and busy_since is None:
                busy_since = time.monotonic()
            if busy_since is not None and time.monotonic() - busy_since >= after_jobs:
                os.kill(victim.pid, signal.SIGKILL)
                return
            time.sleep(0.05)


def batch(folder: Path, out: Path, backends, seconds: float, kill_after: float | None):
    address = ",".join(f"127.0.0.1:{port}" for _, port in backends)
    cmd = [sys.executable, "-m", "backend", "apply", "wait", str(folder), "-o", str(out)]
    cmd += ["--server", address, "--param", f"seconds={seconds}"]
    if kill_after is not None:
        victim, port = backends[-1]
        threading.Thread(target=kill_when_busy, args=(victim, port, kill_after)).start()
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=ROOT)
    wall = time.perf_counter() - t0
    summary = done.stdout.strip().splitlines()[0] if done.stdout.strip() else done.stderr[-300:]
    m = re.search(r", ([0-9.]+) s", summary)
    loop = float(m.group(1)) if m else float("nan")
    return wall, loop, re.sub(r", [0-9.]+ s", "", summary), len(list(out.glob("*.png")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args()
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="nlf-scale-") as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for i in range(args.files):
            Image.new("RGBA", (256, 256), (i * 20 % 256, 80, 160, 255)).save(folder / f"{i}.png")
        print(f"{args.files} files of 256x256, filter 'wait' {args.seconds:g} s per job")
        print(
            f"{'backends':<26} {'batch s':>7} {'files/s':>7} {'wall s':>6} {'written':>7}  "
            "the CLI's summary"
        )
        for n, kill in ((1, None), (3, None), (3, 2.5 * args.seconds)):
            backends = start(n)
            try:
                out = Path(tmp) / f"out-{n}-{kill}"
                wall, loop, summary, written = batch(folder, out, backends, args.seconds, kill)
            finally:
                stop(backends)
            label = f"{n}" + (", one killed mid-batch" if kill else "")
            rate = args.files / loop
            print(f"{label:<26} {loop:7.1f} {rate:7.2f} {wall:6.1f} {written:7d}  {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
