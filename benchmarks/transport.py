"""Round trip of big layers through the real client and a server process over loopback.

    python benchmarks/transport.py [--repeat 3] [--checksums]   # ~30 s on an idle 2-core box

The filter passes pixels through and the selection is one pixel, so the time is the transport
path. Three clients take turns job by job on the same server: "streamed" = client chunking,
gRPC over 127.0.0.1, server assembly + validation, result copy, chunks back, client assembly;
"shm" = the layer and mask copied into a shared-memory segment with their crc32, the server
verifying them in place (crc32 by blocks), blending the result over the layer's bytes in the
segment and folding its crc32 from the blocks, the client verifying every byte and copying
the result out into ``bytes``; "shm views" = the same, the result handed out as a read-only
view of the segment (``Client.connect(result_views=True)``, what ``apply --server`` uses).
MB/s counts the layer's bytes once each way (up + down); "cpu s" is the CPU time of client and
server processes together per round trip (on an idle machine about the wall time; a loaded one
inflates it less). The last column is one zlib.crc32 pass over the layer here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlf_client import Client, Layer, Mask  # noqa: E402

CASES = [(1024, "u8"), (4096, "u8"), (8192, "u16")]
BPP = {"u8": 4, "u16": 8}


def _server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the server process has used so far (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def checksums(repeat: int) -> None:
    """Full-buffer checksums in this Python's stdlib: median seconds and GiB/s."""
    import binascii
    import hashlib

    funcs = {
        "zlib.crc32": zlib.crc32,
        "zlib.adler32": zlib.adler32,
        "binascii.crc32": binascii.crc32,
        **{f"hashlib.{h}": getattr(hashlib, h) for h in ("sha1", "sha256", "md5", "blake2b")},
    }
    print(f"{'checksum':>16} | " + " | ".join(f"{mib:>4} MiB s  GiB/s" for mib in (64, 512)))
    data = {mib: bytes(os.urandom(1 << 20)) * mib for mib in (64, 512)}
    for name, fn in funcs.items():
        cells = []
        for mib, buf in data.items():
            t = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                fn(buf)
                t.append(time.perf_counter() - t0)
            med = sorted(t)[len(t) // 2]
            cells.append(f"{med:10.3f} {mib / 1024 / med:6.2f}")
        print(f"{name:>16} | " + " | ".join(cells), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--checksums", action="store_true", help="compare the stdlib's full checksums first"
    )
    args = parser.parse_args()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load} on {os.cpu_count()} cores, --repeat {args.repeat}")
    if args.checksums:
        checksums(args.repeat)
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
        address = f"127.0.0.1:{port}"
        clients = {
            "streamed": Client.connect(address, shared_memory=False),
            "shm": Client.connect(address),
            "shm views": Client.connect(address, result_views=True),
        }
        head = [f"{'layer':>14} {'MiB':>4}"]
        head += [f"{name:>9} best median   MB/s  cpu s" for name in clients]
        print(" | ".join([*head, "crc32 s"]))
        for side, fmt in CASES:
            size = side * side * BPP[fmt]
            layer = Layer(os.urandom(size), side, side, fmt)
            mask_bytes = bytearray(side * side)
            mask_bytes[0] = 255
            mask = Mask(bytes(mask_bytes), side, side)
            row = [f"{side}² {fmt.upper():>3}".rjust(14) + f" {size / 2**20:4.0f}"]
            stats = _rounds(clients, layer, mask, args.repeat, proc.pid)
            row += [f"{name:>9} {stats[name]}" for name in clients]
            t0 = time.perf_counter()
            zlib.crc32(layer.pixels)
            row.append(f"{time.perf_counter() - t0:7.3f}")
            print(" | ".join(row), flush=True)
        for client in clients.values():
            client.close()
    finally:
        proc.stdin.close()
        proc.wait(10)
    return 0


def _rounds(
    clients: dict[str, Client], layer: Layer, mask: Mask, repeat: int, server: int
) -> dict[str, str]:
    """``best median MB/s cpu`` per client over ``repeat`` rounds, each round running every
    client once in turn (so a change in the machine's load hits all alike); a shm client's
    first job (a new segment's fresh pages) is a warm-up, not counted. cpu = CPU seconds of
    client and server processes together per round trip."""
    expected = np.frombuffer(layer.pixels, np.uint8)[8:]  # all but the selected pixel
    times: dict[str, list[float]] = {name: [] for name in clients}
    cpu = dict.fromkeys(clients, 0.0)
    before = {name: c._t.shared_jobs for name, c in clients.items()}

    def once(name: str) -> None:
        c0, s0 = time.process_time(), _server_cpu(server)
        t0 = time.perf_counter()
        (out,) = clients[name].run("passthrough", layer, mask).layers
        times[name].append(time.perf_counter() - t0)
        cpu[name] += time.process_time() - c0 + _server_cpu(server) - s0
        assert np.array_equal(np.frombuffer(out.pixels, np.uint8)[8:], expected)

    for name, client in clients.items():
        if client._t._shared_wanted:
            once(name)
            times[name].clear()
            cpu[name] = 0.0
    names = list(clients)
    for r in range(repeat):  # each round starts with the next client
        for name in names[r % len(names) :] + names[: r % len(names)]:
            once(name)
    out = {}
    for name, client in clients.items():
        used = client._t.shared_jobs - before[name]
        shared = client._t._shared_wanted
        assert used == (repeat + 1 if shared else 0), f"{name}: shm path not taken"
        t = sorted(times[name])
        best, median = t[0], t[len(t) // 2]
        mbs = 2 * len(layer.pixels) / 1e6 / median
        out[name] = f"{best:4.3f} {median:6.3f} {mbs:6.0f} {cpu[name] / repeat:6.3f}"
    return out


if __name__ == "__main__":
    sys.exit(main())
