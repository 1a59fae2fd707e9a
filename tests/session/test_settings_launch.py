"""The session core's settings and connect-with-autostart (real processes, real backends)."""

from __future__ import annotations

import json
import socket
import sys
import time

import pytest

from nlf_client import BackendError
from nlf_client.session import launch
from nlf_client.session.settings import Settings, merge, read_json, with_env, write_json
from tests.conftest import ROOT


@pytest.fixture(autouse=True)
def _stop_started_backends():
    yield
    launch.stop_started()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_defaults_are_one_port_and_autostart_on():
    s = Settings()
    assert (s.address, s.autostart) == ("127.0.0.1:50051", True)
    assert launch.split_address("example.org") == ("example.org", 50051)
    assert launch.split_address("[::1]:7") == ("::1", 7)
    assert launch.with_port("a,b:2,[::1]") == "a:50051,b:2,[::1]:50051"
    assert launch.with_port("dns:///gpus:1") == "dns:///gpus:1"


def test_stored_strings_and_json_merge_typed_and_env_wins():
    """kritarc gives strings, JSON gives typed values; broken values are skipped, env wins."""
    s = merge(Settings(), {"autostart": "false", "connect_timeout": "7", "backend_cwd": "/src"})
    assert (s.autostart, s.connect_timeout, s.backend_dir) == (False, 7.0, "/src")
    s = merge(s, {"backend_command": ["py", "-m", "backend"], "startup_timeout": "soon"})
    assert s.backend_command == ("py", "-m", "backend") and s.startup_timeout == 120.0
    assert merge(s, {"backend_command": '["x"]'}).backend_command == ("x",)
    env = {"NLF_SERVER": "h:1", "NLF_TOKEN": "t", "NLF_TLS_CA": "ca.pem", "NLF_AUTOSTART": "1"}
    s = with_env(s, env)
    assert (s.address, s.token, s.tls_ca, s.autostart) == ("h:1", "t", "ca.pem", True)
    assert with_env(s, {"NLF_AUTOSTART": "off"}).autostart is False
    assert with_env(s, {"NLF_SERVER": ""}).address == "h:1"  # empty = not set


def test_json_file_keeps_other_keys_and_hides_a_token(tmp_path):
    path = str(tmp_path / "sub" / "s.json")
    write_json(path, {"address": "a:1", "extra": 3})
    write_json(path, {"token": "secret"})
    assert read_json(path) == {"address": "a:1", "extra": 3, "token": "secret"}
    assert (tmp_path / "sub" / "s.json").stat().st_mode & 0o077 == 0
    (tmp_path / "bad.json").write_text("{nope")
    assert read_json(str(tmp_path / "bad.json")) == {}
    assert json.loads((tmp_path / "sub" / "s.json").read_text())["extra"] == 3


def test_serve_command_from_python_or_a_command_template():
    s = Settings(address="127.0.0.1:6001", python="/py", token="t")
    assert launch.serve_command(s) == [
        "/py", "-m", "backend", "serve", "--host", "127.0.0.1", "--port", "6001", "--token", "t",
    ]  # fmt: skip
    s = Settings(address="localhost", backend_command=("b", "--port", "{port}"), python="/py")
    assert launch.serve_command(s) == ["b", "--port", "50051"]
    assert launch.serve_command(Settings()) == []


def test_no_answer_without_autostart_fails_fast():
    s = Settings(address="127.0.0.1:%d" % _free_port(), autostart=False, connect_timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(BackendError) as err:
        launch.connect(s)
    assert err.value.code == "UNAVAILABLE" and time.monotonic() - t0 < 5


def test_remote_address_or_no_command_is_never_started(tmp_path):
    for s in (
        Settings(address="10.255.255.1:%d" % _free_port(), python=sys.executable),
        Settings(address="127.0.0.1:%d" % _free_port()),
    ):
        with pytest.raises(BackendError):
            launch.connect(Settings(**{**s.__dict__, "connect_timeout": 0.3}))
    assert launch.started == []


def test_autostart_reports_a_backend_that_exits_or_cannot_start(tmp_path):
    fake = tmp_path / "backend"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text("import sys\nsys.exit(3)\n")
    address = "127.0.0.1:%d" % _free_port()
    s = Settings(address=address, python=sys.executable, backend_dir=str(tmp_path))
    log = str(tmp_path / "logs" / "b.log")
    with pytest.raises(BackendError, match=r"exited with status 3; see .*b.log"):
        launch.connect(Settings(**{**s.__dict__, "connect_timeout": 0.5}), log)
    missing = Settings(address=address, python=str(tmp_path / "no-python"), connect_timeout=0.5)
    with pytest.raises(BackendError, match=r"starting the backend with .* failed"):
        launch.connect(missing, log)


@pytest.mark.slow
def test_autostart_launches_a_real_backend_once_and_stops_it(tmp_path):
    s = Settings(
        address="127.0.0.1:%d" % _free_port(), python=sys.executable, backend_dir=str(ROOT)
    )
    client = launch.connect(s, str(tmp_path / "b.log"))
    try:
        assert client.status().protocol_version == 1
        (proc,) = launch.started
        launch.connect(s).close()  # answers now: no second process
        assert launch.started == [proc]
    finally:
        client.close()
        launch.stop_started()
    assert proc.poll() is not None and launch.started == []


def test_tls_token_and_address_lists_reach_their_backends(tmp_path, make_backend):
    import grpc

    from tests.test_tls import make_cert

    cert, key = make_cert(tmp_path)
    creds = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    tls = make_backend(token="tok", credentials=creds)
    s = Settings(address=tls.address, token="tok", tls_ca=str(cert), autostart=False)
    with launch.connect(s) as client:
        assert client.status().protocol_version == 1
    two = [make_backend(), make_backend()]
    with launch.connect(Settings(address=",".join(b.address for b in two))) as client:
        assert client.backend_count == 2 and client.status().protocol_version == 1
