"""Pixels through shared memory when the backend runs on this machine (client side).

The client creates the segments (``multiprocessing.shared_memory``: mode 0600, owner only),
offers them in the RunHeader with a zlib.crc32 of each image, and the backend either opens
and verifies them or refuses, and then the job goes again as chunks. The client always unlinks
its segments: when a job's call ends they go back to a small pool (reused: fresh pages cost
more than the copy), the pool is emptied on close and at exit, a normal Python's resource
tracker unlinks them if the process is killed, and segments left by a dead process
(``nlf-<pid>-…`` whose pid is gone) are removed when the next pool starts.

Runs on the editors' Pythons (3.9 and later): no 3.10+ syntax at run time.
"""

from __future__ import annotations

import atexit
import mmap
import os
import secrets
import sys
import threading
import weakref
from typing import Any, Dict, List, Optional, Tuple

from . import crc

PREFIX = "nlf-"
SHM_DIR = "/dev/shm"
MAX_IDLE = 2
"""Segments kept for reuse between jobs (per client)."""

try:
    from multiprocessing import shared_memory
except ImportError:  # a Python built without _posixshmem
    shared_memory = None  # type: ignore[assignment]


def _tracker_mode() -> Optional[Dict[str, Any]]:
    """SharedMemory kwargs, or None when shared memory must not be used in this process.

    The resource tracker (which unlinks segments of a killed process) is a child process
    started from ``sys.executable``: fine in python, wrong inside an editor that embeds Python
    (it would start the editor). There, Python 3.13's ``track=False`` is used, or nothing.
    """
    if shared_memory is None:
        return None
    exe = os.path.basename(sys.executable or "").lower()
    if exe.startswith("python") or exe.startswith("pypy"):
        return {}
    if sys.version_info >= (3, 13):
        return {"track": False}
    return None


def available() -> bool:
    return _tracker_mode() is not None


def checksum(data: Any) -> int:
    return crc.checksum(data)


def sweep_dead(shm_dir: str = SHM_DIR) -> List[str]:
    """Unlink ``nlf-<pid>-*`` segments of this user whose process no longer exists."""
    removed = []
    try:
        names = os.listdir(shm_dir)
    except OSError:
        return removed
    uid = os.getuid() if hasattr(os, "getuid") else None
    for name in names:
        if not name.startswith(PREFIX):
            continue
        pid_text = name[len(PREFIX) :].partition("-")[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        path = os.path.join(shm_dir, name)
        try:
            if uid is not None and os.stat(path).st_uid != uid:
                continue
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            try:
                os.unlink(path)
                removed.append(name)
            except OSError:
                pass
        except OSError:
            continue
    return removed


class Segment:
    """One shared-memory segment this process created (and will unlink)."""

    def __init__(self, size: int, kwargs: Dict[str, Any]) -> None:
        name = f"{PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
        self.shm = shared_memory.SharedMemory(name=name, create=True, size=size, **kwargs)
        self.name = name
        self.size = size
        self._lent: Optional[mmap.mmap] = None
        """A read-only mapping whose views are handed out as results (see ``read``)."""
        self._lent_refs: Optional[int] = None
        """References to ``_lent`` when no result view holds it."""

    def write(self, offset: int, data: Any) -> int:
        """Copy ``data`` in at ``offset``; return its crc32."""
        n = len(data)
        self.shm.buf[offset : offset + n] = data
        return checksum(self.shm.buf[offset : offset + n])

    def read(self, offset: int, size: int, crc: int, as_view: bool = False) -> Optional[Any]:
        """The bytes at ``offset`` if they are inside and match ``crc``; None otherwise.

        ``as_view``: a read-only memoryview of them instead of a copy, from a second mapping of
        this segment that the result keeps alive; the segment is not lent again while any view
        of that mapping exists (``reclaim``). Falls back to a copy when that mapping fails.
        """
        if offset < 0 or size < 0 or offset + size > self.size:
            return None
        view = self.shm.buf[offset : offset + size]
        try:
            if checksum(view) != crc:
                return None
            if as_view:
                lent = self._map_for_result()
                if lent is not None:
                    return memoryview(lent)[offset : offset + size]
            return bytes(view)
        finally:
            view.release()

    def _map_for_result(self) -> Optional[mmap.mmap]:
        """The read-only mapping results are lent from: made (and its pages mapped) once per
        segment, then kept; None while an earlier result still holds it."""
        if self._lent is not None:
            return self._lent if self.reclaim() else None
        try:
            fd = os.open(os.path.join(SHM_DIR, self.name), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
            self._lent = mmap.mmap(fd, self.size, flags=flags, prot=mmap.PROT_READ)
        except (OSError, ValueError):
            return None
        finally:
            os.close(fd)
        if hasattr(sys, "getrefcount"):
            self._lent_refs = sys.getrefcount(self._lent)
        return self._lent

    def reclaim(self) -> bool:
        """True when no result view of this segment is alive any more (it may be lent again).

        Every view of the mapping, and anything made from one, holds a reference to it; without
        ``sys.getrefcount`` (not CPython) the mapping is closed instead, which is refused
        while any view exists, and made again for the next result."""
        if self._lent is None:
            return True
        if self._lent_refs is not None:
            return sys.getrefcount(self._lent) <= self._lent_refs
        try:
            self._lent.close()
        except BufferError:
            return False
        self._lent = None
        return True

    def destroy(self) -> None:
        """Unmap and unlink; a result view still alive keeps its own mapping until dropped."""
        if self._lent is not None:
            try:
                self._lent.close()
            except BufferError:
                pass
            self._lent = None
        try:
            self.shm.close()
        except BufferError:
            pass
        try:
            self.shm.unlink()
        except FileNotFoundError:
            pass


_pools: weakref.WeakSet[SegmentPool] = weakref.WeakSet()


class SegmentPool:
    """Segments lent to one job at a time, kept for reuse, all unlinked on close."""

    def __init__(self) -> None:
        mode = _tracker_mode()
        if mode is None:
            raise RuntimeError("shared memory is not usable in this process")
        self._kwargs = mode
        self._idle: List[Segment] = []
        self._lent: List[Segment] = []
        self._lock = threading.Lock()
        self._closed = False
        sweep_dead()
        _pools.add(self)

    def acquire(self, size: int) -> Segment:
        with self._lock:
            if self._closed:
                raise RuntimeError("the client is closed")
            fits = [s for s in self._idle if s.size >= size and s.reclaim()]
            seg = min(fits, key=lambda s: s.size) if fits else None
            if seg is not None:
                self._idle.remove(seg)
                self._lent.append(seg)
        if seg is None:
            seg = Segment(size, self._kwargs)
            with self._lock:
                self._lent.append(seg)
        return seg

    def release(self, seg: Segment, reuse: bool = True) -> None:
        drop: List[Segment] = []
        with self._lock:
            if seg in self._lent:
                self._lent.remove(seg)
            if reuse and not self._closed:
                self._idle.append(seg)
                # kept: free segments first (not held by a result view), then the largest
                self._idle.sort(key=lambda s: (s.reclaim(), s.size), reverse=True)
                drop = self._idle[MAX_IDLE:]
                del self._idle[MAX_IDLE:]
            else:
                drop = [seg]
        for s in drop:
            s.destroy()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            segs, self._idle, self._lent = self._idle + self._lent, [], []
        for s in segs:
            s.destroy()


@atexit.register
def _close_all() -> None:
    for pool in list(_pools):
        pool.close()


def pack(seg: Segment, images: List[Tuple[str, Any]]) -> Dict[str, Tuple[int, int, int]]:
    """Write each ``(key, pixels)`` one after the other; ``{key: (offset, size, crc32)}``."""
    out = {}
    offset = 0
    for key, data in images:
        crc = seg.write(offset, data)
        out[key] = (offset, len(data), crc)
        offset += len(data)
    return out
