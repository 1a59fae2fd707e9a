"""Downloading a weights file over HTTP(S), streamed, atomically and checked against its sha256."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from backend.assets.weights.checks import WeightsCorrupt, digest_matches

log = logging.getLogger(__name__)


Progress = Callable[[int, int | None], None]
"""``progress(bytes_done, bytes_total_or_None)`` during a download."""


# -- downloading --------------------------------------------------------------------------------
def download(
    url: str,
    dest: Path,
    sha256: str,
    *,
    size: int | None = None,
    progress: Progress | None = None,
    timeout: float = 60.0,
) -> Path:
    """Stream ``url`` to ``dest`` atomically; refuse (and delete) it unless sha256/size match.

    ``sha256`` may be a prefix of at least 8 hex digits (torchvision file-name style).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    done = 0
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "neural-layer-filters"})
        with (
            urllib.request.urlopen(request, timeout=timeout) as response,
            os.fdopen(fd, "wb") as out,
        ):
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else size
            last = 0.0
            while block := response.read(1 << 20):
                out.write(block)
                digest.update(block)
                done += len(block)
                now = time.monotonic()
                if progress is not None and (now - last > 0.5 or done == total):
                    progress(done, total)
                    last = now
        if progress is not None:
            progress(done, done)
        got = digest.hexdigest()
        if size is not None and done != size:
            raise WeightsCorrupt(dest.stem, f"downloaded {done} bytes, expected {size}")
        if not digest_matches(got, sha256):
            raise WeightsCorrupt(dest.stem, f"sha256 {got[:16]}… does not match {sha256[:16]}…")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("downloaded %s (%d bytes, sha256 %s)", dest, done, got)
    return dest


def log_progress(done: int, total: int | None) -> None:
    """A ``Progress`` that logs megabytes (and percent when the size is known)."""
    if total:
        log.info("%6.1f / %.1f MB (%3.0f%%)", done / 1e6, total / 1e6, 100.0 * done / total)
    else:
        log.info("%6.1f MB", done / 1e6)
