"""Error messages, settings precedence and the launcher's address handling (no GIMP)."""

from __future__ import annotations

import json
import stat
import sys
import time
from pathlib import Path

import pytest
from nlf_gimp import launcher, settings
from nlf_gimp.messages import describe

from nlf_client.errors import BackendError


@pytest.mark.parametrize(
    ("code", "needle"),
    [
        ("UNAVAILABLE", "cannot reach"),
        ("FAILED_PRECONDITION", "needs something installed"),
        ("INVALID_ARGUMENT", "DFI: "),
        ("NOT_FOUND", "does not know"),
        ("CANCELLED", "cancelled"),
        ("RESOURCE_EXHAUSTED", "busy"),
        ("UNAUTHENTICATED", "token"),
        ("INTERNAL", "failed: INTERNAL"),
    ],
)
def test_describe_keeps_server_words(code: str, needle: str) -> None:
    """Every message names the filter, says what to do and keeps the server's own text."""
    text = describe(BackendError(code, "SERVER SAYS x"), "DFI", "127.0.0.1:9")
    assert needle in text
    assert text.startswith("DFI")
    if code != "CANCELLED":
        assert "SERVER SAYS x" in text
    if code == "UNAVAILABLE":
        assert "127.0.0.1:9" in text and "python -m backend serve" in text
        again = describe(
            BackendError(code, "no backend answers at 127.0.0.1:9"), "DFI", "127.0.0.1:9"
        )
        assert again.count("127.0.0.1:9") == 1


def test_settings_precedence(tmp_path: Path) -> None:
    """defaults < install.json < user file < environment."""
    install = tmp_path / "install.json"
    install.write_text(json.dumps({"backend_command": ["py", "-m", "backend"], "address": "a:1"}))
    profile = tmp_path / "profile"
    s = settings.load(str(profile), env={}, install_file=str(install))
    assert (s.address, s.backend_command, s.autostart) == ("a:1", ["py", "-m", "backend"], True)
    settings.save_user(str(profile), "b:2", "", False)
    s = settings.load(str(profile), env={}, install_file=str(install))
    assert (s.address, s.autostart, s.backend_command) == ("b:2", False, ["py", "-m", "backend"])
    env = {"NLF_SERVER": "c:3", "NLF_TOKEN": "t", "NLF_AUTOSTART": "1"}
    s = settings.load(str(profile), env=env, install_file=str(install))
    assert (s.address, s.token, s.autostart) == ("c:3", "t", True)
    assert settings.as_dict(s)["token"] == "***"


def test_save_user_keeps_other_keys_and_protects_token(tmp_path: Path) -> None:
    """Saving rewrites only the three user keys; a file with a token is private (0600)."""
    path = Path(settings.user_file(str(tmp_path)))
    path.write_text(json.dumps({"connect_timeout": 7}))
    settings.save_user(str(tmp_path), " h:5 ", "secret", True)
    data = json.loads(path.read_text())
    assert data == {"connect_timeout": 7, "address": "h:5", "token": "secret", "autostart": True}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert settings.load(str(tmp_path), env={}, install_file="/nonexistent").connect_timeout == 7


def test_broken_settings_file_is_ignored(tmp_path: Path) -> None:
    """An unreadable user file falls back to defaults instead of breaking the plug-in."""
    Path(settings.user_file(str(tmp_path))).write_text("{not json")
    s = settings.load(str(tmp_path), env={}, install_file="/nonexistent")
    assert s.address == settings.DEFAULT_ADDRESS
    Path(settings.user_file(str(tmp_path))).write_text(
        json.dumps({"connect_timeout": "soon", "backend_command": "py", "address": "h:1"})
    )
    s = settings.load(str(tmp_path), env={}, install_file="/nonexistent")
    assert (s.address, s.connect_timeout, s.backend_command) == ("h:1", 3.0, [])


def test_address_helpers() -> None:
    """host:port parsing (IPv6 too) and loopback detection decide whether auto-start applies."""
    assert launcher.split_address("127.0.0.1:6000") == ("127.0.0.1", 6000)
    assert launcher.split_address("[::1]:7") == ("::1", 7)
    assert launcher.split_address("localhost") == ("localhost", 50051)
    assert launcher.is_loopback("::1") and launcher.is_loopback("localhost")
    assert not launcher.is_loopback("192.168.1.2") and not launcher.is_loopback("example.org")


def test_backend_argv_fills_port_and_token() -> None:
    """The auto-start command gets the address's port and the token."""
    s = settings.Settings(
        address="127.0.0.1:6123", token="tok", backend_command=["py", "serve", "--port", "{port}"]
    )
    assert launcher.backend_argv(s) == ["py", "serve", "--port", "6123", "--token", "tok"]


def _free_address() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def test_connect_without_autostart_fails_fast(tmp_path: Path) -> None:
    """Nobody listening and auto-start off: UNAVAILABLE within the connect timeout."""
    s = settings.Settings(address=_free_address(), autostart=False, connect_timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(BackendError) as info:
        launcher.connect(s, str(tmp_path))
    assert info.value.code == "UNAVAILABLE"
    assert time.monotonic() - t0 < 5


def test_autostart_reports_a_backend_that_dies(tmp_path: Path) -> None:
    """An auto-start command that exits at once gives a message pointing at its log."""
    s = settings.Settings(
        address=_free_address(),
        connect_timeout=0.3,
        startup_timeout=20,
        backend_command=[sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"],
    )
    with pytest.raises(BackendError) as info:
        launcher.connect(s, str(tmp_path))
    assert "exited with status 3" in info.value.message
    assert "boom" in (tmp_path / launcher.LOG_NAME).read_text()


@pytest.mark.slow
def test_autostart_starts_a_real_backend(tmp_path: Path) -> None:
    """With auto-start on, the plug-in starts 'python -m backend serve' and connects to it."""
    from tests.conftest import ROOT

    address = _free_address()
    cmd = [sys.executable, "-m", "backend", "serve", "--port", "{port}", "--device", "cpu"]
    for flag in ("--weights-dir", "--attributes-dir", "--models-dir"):
        cmd += [flag, str(tmp_path)]
    s = settings.Settings(
        address=address,
        connect_timeout=0.3,
        startup_timeout=90,
        backend_command=cmd,
        backend_cwd=str(ROOT),
    )
    waits: list[str] = []
    launcher.started.clear()
    try:
        client = launcher.connect(s, str(tmp_path / "logs"), waits.append)
        with client:
            assert waits and "Starting" in waits[0]
            assert client.list_filters()
    finally:
        for proc in launcher.started:  # only the process this test started
            proc.terminate()
            proc.wait(timeout=30)
    assert len(launcher.started) == 1
    assert "listening on 127.0.0.1" in (tmp_path / "logs" / launcher.LOG_NAME).read_text()


def test_tls_ca_setting_and_address_list_reach_real_backends(tmp_path: Path, make_backend) -> None:
    """tls_ca is saved, overridden by $NLF_TLS_CA, and used: a TLS backend with a token, then
    two backends behind one comma-separated address."""
    import grpc

    from tests.test_tls import make_cert

    profile = tmp_path / "profile"
    settings.save_user(str(profile), "h:1", "", False, " /ca.pem ")
    assert settings.load(str(profile), env={}, install_file="/nonexistent").tls_ca == "/ca.pem"
    env = {"NLF_TLS_CA": "/other.pem"}
    assert settings.load(str(profile), env=env, install_file="/nonexistent").tls_ca == "/other.pem"

    cert, key = make_cert(tmp_path)
    creds = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    tls = make_backend(token="tok", credentials=creds)
    s = settings.Settings(address=tls.address, token="tok", tls_ca=str(cert), autostart=False)
    with launcher.connect(s, str(tmp_path)) as client:
        assert client.status().protocol_version == 1
    two = [make_backend(), make_backend()]
    s = settings.Settings(address=",".join(b.address for b in two), autostart=False)
    with launcher.connect(s, str(tmp_path)) as client:
        assert client.backend_count == 2 and client.status().protocol_version == 1
