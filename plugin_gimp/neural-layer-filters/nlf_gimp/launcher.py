"""Connect to the backend, starting a local one first when configured (auto-start).

No ``gi`` here: unit-tested without GIMP (with a real backend started from the host venv).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import subprocess
import time
from typing import Callable, List, Optional

from nlf_client import BackendError, Client

from .settings import Settings

log = logging.getLogger(__name__)

LOG_NAME = "neural-layer-filters-backend.log"
started: List[subprocess.Popen] = []
"""Backends this process started (they keep running after the plug-in exits)."""


def split_address(address: str) -> tuple:
    """``host:port`` -> (host, port); ``[::1]:5`` works; a missing port is 50051."""
    text = address.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            host, port = text, ""
    return host, int(port) if port.isdigit() else 50051


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def backend_argv(s: Settings) -> List[str]:
    """The command that starts a backend for ``s.address`` (``{port}`` filled in, token added)."""
    _, port = split_address(s.address)
    argv = [part.replace("{port}", str(port)) for part in s.backend_command]
    if s.token and argv and "--token" not in argv:
        argv += ["--token", s.token]
    return argv


def start_backend(s: Settings, log_dir: str) -> subprocess.Popen:
    """Start the backend detached from GIMP (it outlives the plug-in); output goes to a log."""
    argv = backend_argv(s)
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, LOG_NAME)
    log.info("starting backend: %s (log %s)", " ".join(argv), log_path)
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            argv,
            cwd=s.backend_cwd or None,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started.append(proc)
    return proc


def connect(s: Settings, log_dir: str, on_wait: Optional[Callable[[str], None]] = None) -> Client:
    """A connected client; auto-starts a local backend when nobody answers and that is enabled.

    Raises BackendError("UNAVAILABLE", ...) with a message saying what was tried.
    """
    try:
        return Client.connect(
            s.address, token=s.token or None, timeout=s.connect_timeout, tls_ca=s.tls_ca or None
        )
    except BackendError as exc:
        host, _ = split_address(s.address)
        if exc.code != "UNAVAILABLE" or not s.autostart or not s.backend_command:
            raise
        if not is_loopback(host):
            raise
        first_error = exc
    if on_wait:
        on_wait("Starting the Neural Layer Filters backend…")
    try:
        proc = start_backend(s, log_dir)
    except OSError as exc:
        raise BackendError(
            "UNAVAILABLE",
            "%s; starting the backend with '%s' failed: %s"
            % (first_error.message, " ".join(backend_argv(s)), exc),
        ) from None
    deadline = time.monotonic() + s.startup_timeout
    while time.monotonic() < deadline:
        try:
            return Client.connect(
                s.address, token=s.token or None, timeout=1.0, tls_ca=s.tls_ca or None
            )
        except BackendError:
            code = proc.poll()
            if code is not None:
                raise BackendError(
                    "UNAVAILABLE",
                    "the auto-started backend ('%s') exited with status %d; see %s"
                    % (" ".join(backend_argv(s)), code, os.path.join(log_dir, LOG_NAME)),
                ) from None
    raise BackendError(
        "UNAVAILABLE",
        "the auto-started backend did not answer within %g s; see %s"
        % (s.startup_timeout, os.path.join(log_dir, LOG_NAME)),
    )
