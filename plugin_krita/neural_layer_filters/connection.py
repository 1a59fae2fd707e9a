"""Reaching the backend: connect, optionally start a local one, describe its status.

Everything here blocks, so it only ever runs on a worker thread.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import time
from typing import List, Optional

from .client import BackendError, Client, Status
from .settings import Settings

log = logging.getLogger(__name__)

SERVE_HINT = "start it with: python -m backend serve"
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_local: Optional[subprocess.Popen] = None


def split_address(address: str) -> tuple:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise BackendError("INVALID_ARGUMENT", f"server address '{address}' is not HOST:PORT")
    return host, int(port)


def connect(settings: Settings, timeout: float = 2.0, start_timeout: float = 120.0) -> Client:
    """A connected client; starts ``python -m backend serve`` first when allowed and needed."""
    try:
        return Client.connect(settings.address, settings.token or None, timeout, _ca(settings))
    except BackendError as exc:
        if exc.code != "UNAVAILABLE" or not settings.autostart:
            raise BackendError(exc.code, f"{exc.message}; {SERVE_HINT}") from None
    proc = start_local(settings)
    deadline = time.monotonic() + start_timeout
    while True:
        try:
            return Client.connect(settings.address, settings.token or None, timeout, _ca(settings))
        except BackendError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BackendError(
                    "UNAVAILABLE", f"the local backend did not start; see {local_log()}"
                ) from None


def _ca(settings: Settings) -> Optional[str]:
    return getattr(settings, "tls_ca", "") or None


def local_log() -> str:
    return os.path.join(tempfile.gettempdir(), "nlf-krita-backend.log")


def local_command(settings: Settings) -> List[str]:
    host, port = split_address(settings.address)
    if host not in _LOCAL_HOSTS:
        raise BackendError(
            "UNAVAILABLE", f"{settings.address} is not local, so it cannot be started from Krita"
        )
    cmd = [settings.python or "python3", "-m", "backend", "serve", "--host", host.strip("[]")]
    cmd += ["--port", str(port)]
    return cmd + (["--token", settings.token] if settings.token else [])


def start_local(settings: Settings) -> subprocess.Popen:
    """Launch the backend (once per Krita session); it is stopped by :func:`stop_local`."""
    global _local
    if _local is not None and _local.poll() is None:
        return _local
    cmd = local_command(settings)
    log.info("starting the backend: %s", " ".join(cmd))
    try:
        with open(local_log(), "ab") as out:
            _local = subprocess.Popen(
                cmd,
                cwd=settings.backend_dir or None,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
    except OSError as exc:
        raise BackendError(
            "UNAVAILABLE", f"cannot start the local backend ({' '.join(cmd)}): {exc}"
        ) from None
    return _local


def stop_local(timeout: float = 5.0) -> None:
    """Stop the backend this Krita session started, if any."""
    global _local
    proc, _local = _local, None
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def describe(status: Status, filter_id: str = "") -> str:
    """One line for the docker: ready / busy / what is missing and the command that fixes it."""
    head = "busy, %d job(s) queued" % status.queue_length if status.queue_length else "ready"
    text = f"Backend {head} ({status.device_name or status.device})"
    fs = status.filter_status(filter_id) if filter_id else None
    if fs is not None and not fs.ready:
        fixes = "; ".join(f"{m.what}: run {m.command}" for m in fs.missing)
        text += f"\nThis filter needs {fixes}" if fixes else "\nThis filter is not ready"
    return text
