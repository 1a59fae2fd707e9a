"""zlib's crc32 of a buffer from the crc32s of its blocks, computed on several threads
(``zlib.crc32`` lets go of the GIL), and from the crc32s of its pieces (zlib's
``crc32_combine``, which Python does not expose). Both sides of the shared-memory transport
use it: the client for what it sends and gets back, the backend to check and to update a
checksum for a changed range.

``blocks(view)`` checks a buffer in fixed blocks; ``whole(crcs, size)`` folds them into the
buffer's crc32 (equal to ``zlib.crc32(view)``); ``checksum(data)`` is both; ``with_changes``
recomputes only the blocks a byte range touches. Arithmetic as in zlib's crc32.c: polynomials
over GF(2) modulo the CRC polynomial, reflected, as 32-bit integers.

Runs on the editors' Pythons (3.9 and later): no 3.10+ syntax at run time.
"""

from __future__ import annotations

import functools
import os
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any, List, Optional, Sequence

POLY = 0xEDB88320
BLOCK = 8 << 20
"""Bytes per block: 64 blocks for a 512 MiB layer, a few µs of arithmetic each."""
THREADS = min(4, os.cpu_count() or 1)
"""Threads that check blocks at once (one: all on the calling thread)."""

_pool: Optional[ThreadPoolExecutor] = None
_pool_lock = threading.Lock()


def _threads() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(THREADS, thread_name_prefix="nlf-crc32")
        return _pool


def _multmodp(a: int, b: int) -> int:
    """a(x) * b(x) modulo the CRC polynomial."""
    m, p = 1 << 31, 0
    while True:
        if a & m:
            p ^= b
            if not a & (m - 1):
                return p
        m >>= 1
        b = (b >> 1) ^ POLY if b & 1 else b >> 1


def _x2n_table() -> list[int]:
    p, table = 1 << 30, []  # x^1
    for _ in range(32):
        table.append(p)
        p = _multmodp(p, p)
    return table


_X2N = _x2n_table()  # x^(2^n) modulo the polynomial


@functools.lru_cache(maxsize=64)
def _shift(length: int) -> int:
    """x^(8 * length) modulo the polynomial: what appending ``length`` bytes does to a crc."""
    p, k, n = 1 << 31, 3, length
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return p


def combine(crc1: int, crc2: int, len2: int) -> int:
    """crc32 of A + B from crc32(A), crc32(B) and len(B)."""
    return _multmodp(_shift(len2), crc1) ^ crc2


def blocks(view: Any, block: int = 0) -> List[int]:
    """crc32 of each ``block`` (default :data:`BLOCK`) bytes of ``view`` (the last shorter),
    on :data:`THREADS` threads when there are several blocks."""
    block = block or BLOCK
    view = memoryview(view).cast("B")
    pieces = [view[i : i + block] for i in range(0, max(len(view), 1), block)]
    if len(pieces) < 2 or THREADS < 2:
        return [zlib.crc32(p) for p in pieces]
    return list(_threads().map(zlib.crc32, pieces))


def whole(crcs: Sequence[int], size: int, block: int = 0) -> int:
    """The crc32 of a buffer of ``size`` bytes from its blocks' crc32s."""
    block = block or BLOCK
    total = crcs[0]
    for i, crc in enumerate(crcs[1:], start=1):
        total = combine(total, crc, min(block, size - i * block))
    return total & 0xFFFFFFFF


def checksum(data: Any) -> int:
    """``zlib.crc32(data)``, its blocks checked on several threads."""
    view = memoryview(data).cast("B")
    return whole(blocks(view), len(view))


def with_changes(crcs: Sequence[int], view: memoryview, lo: int, hi: int, block: int = 0) -> int:
    """crc32 of ``view`` whose bytes outside ``[lo, hi)`` still match the blocks ``crcs``:
    only the blocks that range touches are read again."""
    block = block or BLOCK
    fresh = list(crcs)
    view = memoryview(view).cast("B")
    for i in range(max(lo, 0) // block, min((hi - 1) // block + 1, len(fresh))):
        fresh[i] = zlib.crc32(view[i * block : (i + 1) * block])
    return whole(fresh, len(view), block)
