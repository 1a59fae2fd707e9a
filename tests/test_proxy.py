"""docs/proxy/nginx-grpc.conf as shipped: nginx in front of three backends, one TLS address.

The config file is used as it is, with only its ports rewritten to free ones; nginx runs as
its own instance in a temporary folder (pid, logs, certificate). Skipped when nginx is not
installed (scripts/test.sh installs Debian's nginx-core in CI).
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from nlf_client import BackendError, Client
from tests.conftest import ROOT
from tests.fakes import as_array, make_layer
from tests.test_tls import make_cert

CONFIG = ROOT / "docs" / "proxy" / "nginx-grpc.conf"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
)
TOKEN = "proxy-token"

pytestmark = pytest.mark.skipif(
    NGINX is None or shutil.which("openssl") is None,
    reason="needs nginx (Debian: apt-get install nginx-core) and the openssl CLI",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(backend_ports: list[int], listen: int) -> str:
    """The shipped config with its backend and listening ports replaced, nothing else."""
    text = CONFIG.read_text()
    shipped = re.findall(r"server 127\.0\.0\.1:(\d+) ", text)
    assert len(shipped) == 3 == len(backend_ports)
    for old, new in zip(shipped, backend_ports, strict=True):
        text = text.replace(f"server 127.0.0.1:{old} ", f"server 127.0.0.1:{new} ")
    assert "listen 8443 ssl http2;" in text
    return text.replace("listen 8443 ssl http2;", f"listen 127.0.0.1:{listen} ssl http2;")


@pytest.fixture
def proxy(make_backend, tmp_path: Path):
    """Three backends (token required) behind nginx; yields (address, CA file, backends)."""
    backends = [make_backend(token=TOKEN) for _ in range(3)]
    counts = [0] * 3
    for i, b in enumerate(backends):  # count the jobs each backend takes
        submit = b.worker.submit

        def counting(ticket, _submit=submit, _i=i):
            counts[_i] += 1
            return _submit(ticket)

        b.worker.submit = counting
    make_cert(tmp_path, "nlf")
    port = _free_port()
    conf = tmp_path / "nlf-grpc.conf"
    conf.write_text(_config([b.port for b in backends], port))
    cmd = [NGINX, "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"]
    test = subprocess.run([*cmd, "-t"], capture_output=True, text=True)
    assert test.returncode == 0, test.stderr
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.05)
        yield f"localhost:{port}", tmp_path / "nlf.pem", backends, counts
    finally:
        proc.terminate()
        proc.wait(10)


def test_jobs_through_nginx_spread_over_three_backends(proxy) -> None:
    """TLS to nginx, the token through to the backends, big layers streamed both ways, and
    every backend gets jobs."""
    address, ca, _, counts = proxy
    big = make_layer(1100, 900, "u16", seed=3)  # 7.9 MB: several 3 MiB chunks each way
    with Client.connect(address, token=TOKEN, tls_ca=str(ca), timeout=10, shared_memory=False) as c:
        (out,) = c.run("test_invert", big).layers  # streamed, as for a remote user
        assert c._t.shared_jobs == 0
        assert np.array_equal(as_array(out)[..., :3], 65535 - as_array(big)[..., :3])
        slow = {"steps": 3, "delay": 0.02}
        with ThreadPoolExecutor(3) as pool:
            jobs = [pool.submit(c.run, "test_slow", make_layer(8, 8), None, slow) for _ in range(9)]
            assert all(len(j.result(60).layers) == 1 for j in jobs)
    assert sum(counts) == 10 and all(n > 0 for n in counts), counts


def test_a_stopped_backend_loses_no_job(proxy) -> None:
    """One backend stopped: nginx sends the following jobs to the others."""
    address, ca, backends, counts = proxy
    backends[1].worker.close()
    backends[1].server.stop(0).wait()
    with Client.connect(address, token=TOKEN, tls_ca=str(ca), timeout=10) as c:
        for i in range(6):
            (out,) = c.run("test_invert", make_layer(16, 16, seed=i)).layers
            assert out.width == 16
    assert counts[1] == 0 and counts[0] + counts[2] == 6


def test_wrong_token_is_refused_by_the_backends_behind_nginx(proxy) -> None:
    address, ca, _, counts = proxy
    with (
        Client.connect(address, token="wrong", tls_ca=str(ca), timeout=10) as c,
        pytest.raises(BackendError) as info,
    ):
        c.run("test_invert", make_layer(4, 4))
    assert info.value.code == "UNAUTHENTICATED"
    assert sum(counts) == 0
