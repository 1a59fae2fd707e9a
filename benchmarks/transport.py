"""Round trip of big layers through the real client and a server process over loopback.

    python benchmarks/transport.py [--repeat 3]

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
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
