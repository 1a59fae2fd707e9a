"""Connecting with auto-start: one behaviour, one default port, for every editor.

A missing port is 50051. When nothing answers at a loopback address and ``autostart`` is on
with a known command, the backend is started (detached, output appended to ``log_path``) and
waited for. Backends started here are remembered; :func:`stop_started` ends them (Krita calls it
when it quits; GIMP's plug-in process is short-lived and leaves its backend running).
Everything here blocks: call it from a worker thread in an editor with an event loop.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import subprocess
import tempfile
import time
from typing import Callable, List, Optional, Tuple

from ..client import Client
from ..errors import BackendError
from .settings import DEFAULT_PORT, Settings

log = logging.getLogger(__name__)

LOG_NAME = "neural-layer-filters-backend.log"
SERVE_COMMAND = "python -m backend serve"
started: List[subprocess.Popen] = []
"""Backends this process started."""


def split_address(address: str) -> Tuple[str, int]:
    """``host[:port]`` -> (host, port); ``[::1]:5`` works; a missing port is 50051."""
    text = address.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            host, port = text, ""
    return host, int(port) if port.isdigit() else DEFAULT_PORT


def with_port(address: str) -> str:
    """Each ``host`` of a comma-separated address gets ``:50051``; gRPC targets stay as they are."""
    if "://" in address or address.split(":", 1)[0] in ("dns", "ipv4", "ipv6", "unix", "vsock"):
        return address
    out = []
    for part in address.split(","):
        host, port = split_address(part)
        out.append("%s:%d" % ("[%s]" % host if ":" in host else host, port))
    return ",".join(out)


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_command(s: Settings) -> List[str]:
    """The argv that starts a backend for ``s.address`` ([] when none is configured)."""
    host, port = split_address(s.address)
    if s.backend_command:
        argv = [a.replace("{port}", str(port)).replace("{host}", host) for a in s.backend_command]
    elif s.python:
        argv = [s.python, "-m", "backend", "serve", "--host", host or "127.0.0.1"]
        argv += ["--port", str(port)]
    else:
        return []
    if s.token and "--token" not in argv:
        argv += ["--token", s.token]
    return argv


def default_log_path() -> str:
    return os.path.join(tempfile.gettempdir(), LOG_NAME)


def start_backend(s: Settings, log_path: str) -> subprocess.Popen:
    argv = serve_command(s)
    log.info("starting the backend: %s (log %s)", " ".join(argv), log_path)
    os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            argv,
            cwd=s.backend_dir or None,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started.append(proc)
    return proc


def _connect(s: Settings, timeout: float) -> Client:
    return Client.connect(with_port(s.address), s.token or None, timeout, s.tls_ca or None)


def connect(
    s: Settings, log_path: str = "", on_wait: Optional[Callable[[str], None]] = None
) -> Client:
    """A connected client; auto-starts a local backend when allowed and needed.

    Raises BackendError (UNAVAILABLE with what was tried, or the backend's own code).
    """
    try:
        return _connect(s, s.connect_timeout)
    except BackendError as exc:
        argv = serve_command(s)
        local = "," not in s.address and is_loopback(split_address(s.address)[0])
        if exc.code != "UNAVAILABLE" or not (s.autostart and argv and local):
            raise
        first = exc
    log_path = log_path or default_log_path()
    if on_wait is not None:
        on_wait("Starting the Neural Layer Filters backend…")
    try:
        running = [p for p in started if p.poll() is None and p.args == argv]
        proc = running[0] if running else start_backend(s, log_path)
    except OSError as exc:
        raise BackendError(
            "UNAVAILABLE",
            "%s; starting the backend with '%s' failed: %s" % (first.message, " ".join(argv), exc),
        ) from None
    deadline = time.monotonic() + s.startup_timeout
    while time.monotonic() < deadline:
        try:
            return _connect(s, 1.0)
        except BackendError:
            code = proc.poll()
            if code is not None:
                raise BackendError(
                    "UNAVAILABLE",
                    "the auto-started backend ('%s') exited with status %d; see %s"
                    % (" ".join(argv), code, log_path),
                ) from None
    raise BackendError(
        "UNAVAILABLE",
        "the auto-started backend did not answer within %g s; see %s"
        % (s.startup_timeout, log_path),
    )


def stop_started(timeout: float = 5.0) -> None:
    """Stop every backend this process started that still runs."""
    while started:
        proc = started.pop()
        if proc.poll() is not None:
            continue
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
