"""Round trip of big layers through the real client and a server process over loopback.

    python benchmarks/transport.py [--repeat 3]

The filter passes pixels through and the selection is one pixel, so the time is the transport
path: client chunking, gRPC over 127.0.0.1, server assembly + validation, result copy, chunks
back, client assembly. MB/s counts the layer's bytes once each way (up + down).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
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
        client = Client.connect(f"127.0.0.1:{port}")
        print(f"{'layer':>14} {'MiB':>7} {'best s':>8} {'median s':>9} {'MB/s':>8}")
        for side, fmt in CASES:
            size = side * side * BPP[fmt]
            layer = Layer(os.urandom(size), side, side, fmt)
            mask_bytes = bytearray(side * side)
            mask_bytes[0] = 255
            mask = Mask(bytes(mask_bytes), side, side)
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                (out,) = client.run("passthrough", layer, mask).layers
                times.append(time.perf_counter() - t0)
                assert out.pixels[8:] == layer.pixels[8:]
                del out
            times.sort()
            best, median = times[0], times[len(times) // 2]
            mbps = 2 * size / 1e6 / median
            name = f"{side}² {fmt.upper()}"
            print(f"{name:>14} {size / 2**20:7.0f} {best:8.3f} {median:9.3f} {mbps:8.0f}")
        client.close()
    finally:
        proc.stdin.close()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
