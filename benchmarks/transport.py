"""Round trip of big layers through the real client and a server process over loopback.

    python benchmarks/transport.py [--repeat 3] [--phases]

The filter passes pixels through and the selection is one pixel, so the time is the transport
path. Both paths run side by side on the same server: "streamed" = client chunking, gRPC over
127.0.0.1, server assembly + validation, result copy, chunks back, client assembly; "shm" =
the layer and mask copied into a shared-memory segment with their crc32, the server verifying
and reading them in place, the result written back into the segment with its crc32, the client
verifying and copying it out. MB/s counts the layer's bytes once each way (up + down). The
last column is what one zlib.crc32 pass over the layer costs here (the shm path makes four).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlf_client import Client, Layer, Mask  # noqa: E402

CASES = [(1024, "u8"), (4096, "u8"), (8192, "u16")]
BPP = {"u8": 4, "u16": 8}


def phases(side: int, fmt: str, repeat: int) -> None:
    """Where the shm path's time goes: each step of a round trip timed in one process."""
    from _passthrough_server import PassThrough

    from backend.filters.base import Context
    from backend.imaging import WireImage
    from backend.jobs import Job, execute
    from backend.registry import Registry
    from nlf_client import shm

    flt = Registry(Context(), [PassThrough]).get("passthrough")
    layer = os.urandom(side * side * BPP[fmt])
    mask = bytearray(side * side)
    mask[0] = 255
    n, m = len(layer), len(mask)
    pool = shm.SegmentPool()
    print(f"{side}² {fmt.upper()} shm round trip by step, one process (s):")
    for _ in range(repeat):
        t: dict[str, float] = {}
        seg = pool.acquire(n + m)
        buf = seg.shm.buf
        t0 = time.perf_counter()
        buf[:n], buf[n : n + m] = layer, mask
        t["client copy in"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        zlib.crc32(buf[:n]), zlib.crc32(buf[n : n + m])
        t["client crc32"] = time.perf_counter() - t0
        t["server crc32 (same)"] = t["client crc32"]
        job = Job(
            "passthrough",
            WireImage(side, side, fmt, buf[:n]),
            WireImage(side, side, "u8", buf[n : n + m], name="mask"),
            {},
            {},
        )
        t0 = time.perf_counter()
        (result,) = execute(flt, job, lambda s: None)
        t["server filter + composite"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        buf[:n] = result.pixels
        t["server copy result"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        zlib.crc32(buf[:n])
        t["server crc32 result"] = time.perf_counter() - t0
        t["client crc32 result (same)"] = t["server crc32 result"]
        t0 = time.perf_counter()
        out = bytes(buf[:n])
        t["client copy out (new bytes)"] = time.perf_counter() - t0
        del job, result, out, buf
        pool.release(seg)
        print(
            "  " + ", ".join(f"{k} {v:.3f}" for k, v in t.items()) + f"; sum {sum(t.values()):.3f}"
        )
    pool.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--phases", action="store_true", help="also time each step of the shm path in-process"
    )
    args = parser.parse_args()
    if args.phases:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        for side, fmt in CASES[1:]:
            phases(side, fmt, args.repeat)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "_passthrough_server.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        port = int(proc.stdout.readline())
        streamed = Client.connect(f"127.0.0.1:{port}", shared_memory=False)
        shared = Client.connect(f"127.0.0.1:{port}")
        print(
            f"{'layer':>14} {'MiB':>5} | {'streamed best':>13} {'median s':>8} {'MB/s':>6} | "
            f"{'shm best':>8} {'median s':>8} {'MB/s':>6} | {'crc32 s':>7}"
        )
        for side, fmt in CASES:
            size = side * side * BPP[fmt]
            layer = Layer(os.urandom(size), side, side, fmt)
            mask_bytes = bytearray(side * side)
            mask_bytes[0] = 255
            mask = Mask(bytes(mask_bytes), side, side)
            row = [f"{side}² {fmt.upper():>3}".rjust(14), f"{size / 2**20:5.0f}"]
            for client in (streamed, shared):
                before = client._t.shared_jobs
                times = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    (out,) = client.run("passthrough", layer, mask).layers
                    times.append(time.perf_counter() - t0)
                    assert out.pixels[8:] == layer.pixels[8:]
                    del out
                used = client._t.shared_jobs - before
                assert used == (args.repeat if client is shared else 0), "shm path not taken"
                times.sort()
                best, median = times[0], times[len(times) // 2]
                row.append(f"{best:13.3f} {median:8.3f} {2 * size / 1e6 / median:6.0f}")
            t0 = time.perf_counter()
            zlib.crc32(layer.pixels)
            row.append(f"{time.perf_counter() - t0:7.3f}")
            print(" | ".join([" ".join(row[:2]), *row[2:]]).replace("| ", "| ", 1))
        streamed.close()
        shared.close()
    finally:
        proc.stdin.close()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
