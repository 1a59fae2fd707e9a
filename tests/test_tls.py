"""TLS and tokens: a self-signed certificate made here, the real server, client and CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grpc
import numpy as np
import pytest
from PIL import Image

from backend.cli import main
from nlf_client import BackendError, Client
from tests.conftest import ROOT
from tests.fakes import as_array, make_layer

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
TOKEN = "s3cret-token"


def make_cert(
    folder: Path, name: str = "server", san: str = "DNS:localhost,IP:127.0.0.1"
) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for localhost and 127.0.0.1 (it is its own CA)."""
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", str(key)]
        + ["-out", str(cert), "-addext", f"subjectAltName={san}"],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_backend(make_backend, tmp_path: Path):
    cert, key = make_cert(tmp_path)
    creds = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    return make_backend(token=TOKEN, credentials=creds), cert


def test_job_over_tls_with_token_as_call_credentials(tls_backend) -> None:
    """With the CA file the client runs a real job; the token travels as TLS call credentials."""
    backend, ca = tls_backend
    layer = make_layer(8, 6, seed=1)
    with Client.connect(backend.address, token=TOKEN, tls_ca=str(ca), timeout=5) as c:
        assert c._t._metadata == []  # not as plain metadata: grpc's access-token credentials
        (out,) = c.run("test_invert", layer).layers
    assert np.array_equal(as_array(out)[..., :3], 255 - as_array(layer)[..., :3])


def test_tls_over_a_list_of_named_backends(make_backend, tmp_path: Path) -> None:
    """``localhost:p1,localhost:p2`` with a certificate naming only ``localhost``: the names
    became IP addresses for round_robin, and the certificate is still checked by name."""
    cert, key = make_cert(tmp_path, san="DNS:localhost")
    creds = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    backends = [make_backend(token=TOKEN, credentials=creds) for _ in range(2)]
    address = ",".join(f"localhost:{b.port}" for b in backends)
    with Client.connect(address, token=TOKEN, tls_ca=str(cert), timeout=5) as c:
        assert c.backend_count == 2
        for _ in range(2):
            (out,) = c.run("test_invert", make_layer(4, 4, seed=2)).layers
            assert out.width == 4


def test_tls_wrong_token_is_unauthenticated(tls_backend) -> None:
    backend, ca = tls_backend
    c = Client.connect(backend.address, token="wrong", tls_ca=str(ca), timeout=5)
    with c, pytest.raises(BackendError) as info:
        c.status()
    assert info.value.code == "UNAUTHENTICATED"


def test_tls_untrusted_certificate_is_refused(tls_backend, tmp_path: Path) -> None:
    """A CA that did not sign the server's certificate: no connection, nothing sent."""
    backend, _ = tls_backend
    other, _ = make_cert(tmp_path, "other")
    with pytest.raises(BackendError) as info:
        Client.connect(backend.address, token=TOKEN, tls_ca=str(other), timeout=2)
    assert info.value.code == "UNAVAILABLE"


def test_cleartext_client_cannot_talk_to_tls_server(tls_backend) -> None:
    backend, _ = tls_backend
    with pytest.raises(BackendError) as info:
        Client.connect(backend.address, token=TOKEN, timeout=2)
    assert info.value.code == "UNAVAILABLE"


@pytest.mark.parametrize(
    "address", ["192.0.2.7:50051", "127.0.0.1:1,192.0.2.7:2", "dns:///gpu.example:50051"]
)
def test_token_never_sent_in_cleartext_off_this_machine(address: str) -> None:
    """Refused before any connection, with a message that says what to do."""
    with pytest.raises(BackendError) as info:
        Client.connect(address, token=TOKEN, timeout=1)
    assert info.value.code == "FAILED_PRECONDITION"
    assert "--tls-ca" in info.value.message and "cleartext" in info.value.message


def test_bad_ca_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate")
    for path in (tmp_path / "ca.pem", tmp_path / "missing.pem"):
        with pytest.raises(BackendError) as info:
            Client.connect("127.0.0.1:1", tls_ca=str(path), timeout=1)
        assert info.value.code == "INVALID_ARGUMENT" and str(path) in info.value.message


def test_apply_over_tls_with_token_from_env(
    tls_backend, tmp_path: Path, monkeypatch, capsys
) -> None:
    """The CLI's remote mode: --tls-ca, token from $NLF_TOKEN (not on the command line)."""
    backend, ca = tls_backend
    arr = np.random.default_rng(0).integers(0, 256, (5, 7, 4), dtype=np.uint8)
    arr[..., 3] = 255
    Image.fromarray(arr, "RGBA").save(tmp_path / "in.png")
    monkeypatch.setenv("NLF_TOKEN", TOKEN)
    argv = ["apply", "test_invert", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png")]
    rc = main([*argv, "--server", backend.address, "--tls-ca", str(ca)])
    assert rc == 0, capsys.readouterr()
    got = np.asarray(Image.open(tmp_path / "out.png"))
    assert np.array_equal(got[..., :3], 255 - arr[..., :3])


def test_serve_tls_with_token_file(tmp_path: Path) -> None:
    """``serve --tls-cert --tls-key --token-file`` as a process; a client with the CA talks."""
    cert, key = make_cert(tmp_path)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    dirs = [f"--{d}-dir={tmp_path / d}" for d in ("weights", "attributes", "models")]
    cmd = [sys.executable, "-m", "backend", "serve", "--port", "0", "--device", "cpu", *dirs]
    cmd += ["--tls-cert", str(cert), "--tls-key", str(key), "--token-file", str(token_file)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    env.pop("NLF_TOKEN", None)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:") and "(TLS)" in line, line
        port = int(line.split(":")[1].split()[0])
        with Client.connect(f"localhost:{port}", token=TOKEN, tls_ca=str(cert), timeout=10) as c:
            assert c.status().protocol_version == 1
        with Client.connect(f"localhost:{port}", token="nope", tls_ca=str(cert)) as c:
            with pytest.raises(BackendError) as info:
                c.status()
            assert info.value.code == "UNAUTHENTICATED"
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--tls-cert", "c.pem"], "go together"),
        (["--tls-cert", "missing.pem", "--tls-key", "k.pem"], "cannot read"),
        (["--token-file", "missing-token"], "cannot read"),
    ],
)
def test_serve_refuses_bad_tls_flags(tmp_path: Path, monkeypatch, flags, says) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["serve", "--port", "0", *flags])
    assert says in str(info.value)
