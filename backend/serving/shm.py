"""Shared-memory pixels (server side): open the client's segments by name, verify, write back.

The client (``nlf_client.shm``) creates and always unlinks the segments; the server only
opens ``/dev/shm/nlf-<pid>-<hex>`` names (never a path), checks that each image's bytes are
inside the segment and match their crc32, and otherwise refuses so the client streams instead.
Results go into the client's ``result_space`` only when it is a segment whose contents this
job has just verified (so a caller can only have results written where it could read), and only
as far as they fit; the rest follow as chunks.
"""

from __future__ import annotations

import mmap
import os
import re
from typing import Any

import numpy as np

from nlf_client import crc
from nlf_client.proto import filters_pb2 as pb

SHM_DIR = "/dev/shm"
NAME = re.compile(r"nlf-[0-9]{1,10}-[0-9a-f]{12}")
REFUSED_KEY = "nlf-shared-memory"


def _address(view: memoryview) -> int:
    """Where a buffer's first byte lies in memory (0 for an empty one)."""
    if view.nbytes == 0:
        return 0
    return int(np.frombuffer(view, np.uint8, count=1).ctypes.data)


class SharedRefused(Exception):
    """The offered segments cannot be used; the client sends the job again as chunks."""


def supported() -> bool:
    return os.path.isdir(SHM_DIR)


class SharedSession:
    """The segments one Run call uses; ``close()`` unmaps them (the client unlinks)."""

    def __init__(self) -> None:
        self._maps: dict[str, mmap.mmap] = {}
        self._verified: set[str] = set()
        self._result: tuple[mmap.mmap, int, int] | None = None  # map, next offset, end
        self._checked: dict[tuple[str, int, int], list[int]] = {}
        """crc32 by block (``nlf_client.crc``) of each verified image: (segment, offset, size)."""

    def _open(self, segment: str) -> mmap.mmap:
        if segment in self._maps:
            return self._maps[segment]
        if not NAME.fullmatch(segment):
            raise SharedRefused(f"'{segment[:40]}' is not a segment name this server opens")
        try:
            fd = os.open(os.path.join(SHM_DIR, segment), os.O_RDWR | os.O_NOFOLLOW)
        except OSError as exc:
            raise SharedRefused(f"cannot open segment {segment}: {exc.strerror}") from None
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                raise SharedRefused(f"segment {segment} is empty")
            m = mmap.mmap(fd, size, flags=mmap.MAP_SHARED)
        finally:
            os.close(fd)
        self._maps[segment] = m
        return m

    def image(self, key: str, sp: pb.SharedPixels, size: int) -> memoryview:
        """The verified bytes of image ``key`` (a view into the segment: no copy)."""
        if sp.size != size:
            raise SharedRefused(f"'{key}' needs {size} bytes, the offer says {sp.size}")
        m = self._open(sp.segment)
        if sp.offset < 0 or sp.offset + size > len(m):
            raise SharedRefused(f"'{key}' lies outside segment {sp.segment}")
        view = memoryview(m)[sp.offset : sp.offset + size]
        blocks = crc.blocks(view)
        if crc.whole(blocks, size) != sp.crc32:
            view.release()
            raise SharedRefused(f"'{key}' does not match its checksum in segment {sp.segment}")
        self._verified.add(sp.segment)
        self._checked[(sp.segment, sp.offset, size)] = blocks
        return view

    def offer_results(self, space: pb.SharedPixels) -> None:
        """Accept ``result_space`` when it lies in a segment this job verified."""
        if not space.segment or space.segment not in self._verified:
            return
        m = self._maps[space.segment]
        if space.offset >= 0 and space.offset + space.size <= len(m):
            self._result = (m, space.offset, space.offset + space.size)

    def results_start_at(self, sp: pb.SharedPixels) -> bool:
        """Whether the accepted result space starts at the bytes ``sp`` names (so a result the
        size of those bytes, blended over them in place, is already where it goes)."""
        if self._result is None:
            return False
        m, offset, end = self._result
        return self._maps.get(sp.segment) is m and sp.offset == offset and sp.size <= end - offset

    def place(self, data: Any, changed: tuple[int, int] | None = None) -> pb.SharedPixels | None:
        """Write one result layer into the result space; its SharedPixels, or None (no room).

        A layer already there (blended in place over the input's bytes) is not copied, and
        with ``changed`` (the byte range it may differ in from the verified input there) its
        crc32 comes from the input's block crc32s and only the blocks in that range are read
        again: the same value as a crc32 of every byte of the result."""
        if self._result is None:
            return None
        m, offset, end = self._result
        view = memoryview(data).cast("B")
        n = view.nbytes
        if offset + n > end:
            return None
        segment = next(name for name, mm in self._maps.items() if mm is m)
        target = memoryview(m)[offset : offset + n]
        try:
            in_place = _address(target) == _address(view)
            if not in_place:
                target[:] = view
            blocks = self._checked.get((segment, offset, n))
            if in_place and changed is not None and blocks is not None:
                checksum = crc.with_changes(blocks, target, *changed)
            else:
                checksum = crc.checksum(target)
        finally:
            target.release()
        self._result = (m, offset + n, end)
        return pb.SharedPixels(segment=segment, offset=offset, size=n, crc32=checksum)

    def close(self) -> None:
        for m in self._maps.values():
            try:
                m.close()
            except BufferError:
                pass  # a cancelled job still holds a view: unmapped when it lets go
        self._maps.clear()
        self._result = None
