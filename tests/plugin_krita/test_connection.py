"""Reaching the backend from Krita: status lines, and starting a local backend on demand."""

from __future__ import annotations

import pytest

from tests.plugin_krita import qt_binding  # isort: skip

pytest.importorskip(f"{qt_binding.NAME}.QtWidgets", reason=qt_binding.REASON)

import socket
import sys
import time

from nlf_client import BackendError, FilterStatus, Missing, Status
from tests.conftest import ROOT

from neural_layer_filters import connection  # isort: skip
from neural_layer_filters.settings import Settings  # isort: skip


@pytest.fixture(autouse=True)
def _stop_started_backend():
    """Whatever a test asserts, a backend it started is stopped afterwards."""
    yield
    connection.stop_local()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(queue=0, filters=()):
    return Status("0.1", 1, "cpu", "x86_64", 0, 0, queue, tuple(filters))


def test_status_line_says_ready_busy_or_what_is_missing():
    """Ready, busy with the queue length, or the missing pieces with their fix commands."""
    assert connection.describe(_status()) == "Backend ready (x86_64)"
    assert connection.describe(_status(queue=2)).startswith("Backend busy, 2 job(s) queued")
    missing = FilterStatus(
        "dfi", False, (Missing("weights 'vgg19'", "python -m backend weights fetch vgg19"),)
    )
    text = connection.describe(_status(filters=[missing]), "dfi")
    assert "weights 'vgg19': run python -m backend weights fetch vgg19" in text


def test_local_command_starts_the_backend_on_the_configured_port():
    """The command is `python -m backend serve` on the settings' host and port (and token)."""
    s = Settings(address="127.0.0.1:6001", python="/opt/py", token="t")
    assert connection.local_command(s) == [
        "/opt/py",
        "-m",
        "backend",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "6001",
        "--token",
        "t",
    ]
    with pytest.raises(BackendError, match="not local"):
        connection.local_command(Settings(address="10.1.2.3:6001"))
    with pytest.raises(BackendError, match="HOST:PORT"):
        connection.split_address("nowhere")


def test_no_backend_and_no_autostart_names_the_serve_command():
    """Without autostart a dead address fails fast with the command that starts a backend."""
    s = Settings(address=f"127.0.0.1:{_free_port()}")
    t0 = time.monotonic()
    with pytest.raises(BackendError) as err:
        connection.connect(s, timeout=0.5)
    assert err.value.code == "UNAVAILABLE" and "python -m backend serve" in err.value.message
    assert time.monotonic() - t0 < 5


def test_autostart_fails_cleanly_when_the_backend_cannot_start(tmp_path):
    """A backend that exits at once, or no interpreter: an error, not an endless wait."""
    fake = tmp_path / "backend"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text("import sys\nsys.exit(3)\n")
    address = f"127.0.0.1:{_free_port()}"
    s = Settings(address=address, autostart=True, python=sys.executable, backend_dir=str(tmp_path))
    t0 = time.monotonic()
    with pytest.raises(BackendError, match="did not start"):
        connection.connect(s, timeout=0.5, start_timeout=60)
    assert time.monotonic() - t0 < 30
    connection.stop_local()
    missing = Settings(address=address, autostart=True, python=str(tmp_path / "no-python"))
    with pytest.raises(BackendError, match="cannot start the local backend"):
        connection.connect(missing, timeout=0.5)


@pytest.mark.slow
def test_autostart_launches_a_real_backend_and_stops_it():
    """Autostart runs `python -m backend serve` from the checkout; stop_local ends it."""
    s = Settings(
        address=f"127.0.0.1:{_free_port()}",
        autostart=True,
        python=sys.executable,
        backend_dir=str(ROOT),
    )
    client = connection.connect(s, timeout=1.0, start_timeout=90)
    try:
        proc = connection._local
        assert proc is not None and proc.poll() is None
        assert client.status().protocol_version == 1
        assert connection.connect(s, timeout=1.0) is not None  # answers now: no second process
        assert connection._local is proc
    finally:
        client.close()
        connection.stop_local()
    assert proc.poll() is not None and connection._local is None


def test_tls_ca_setting_reaches_a_tls_backend(tmp_path, make_backend):
    """The docker's 'TLS CA file' setting: a TLS backend with a token answers; an address
    list of two backends works as one."""
    import grpc

    from tests.test_tls import make_cert

    cert, key = make_cert(tmp_path)
    creds = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    tls = make_backend(token="tok", credentials=creds)
    client = connection.connect(Settings(address=tls.address, token="tok", tls_ca=str(cert)))
    try:
        assert client.status().protocol_version == 1
    finally:
        client.close()
    two = [make_backend(), make_backend()]
    client = connection.connect(Settings(address=",".join(b.address for b in two)))
    try:
        assert client.backend_count == 2 and client.status().protocol_version == 1
    finally:
        client.close()
