"""The committed stubs work on the editors' old Debian runtimes, not only on PyPI's."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT, Backend, require_editors

PROTO_DIR = ROOT / "nlf_client" / "proto"
DEBIAN_PYTHON = Path("/usr/bin/python3")


def test_stubs_need_no_new_runtime() -> None:
    """No generated file imports protobuf's runtime_version (absent before protobuf 5)."""
    for path in PROTO_DIR.glob("*.py"):
        assert "runtime_version" not in path.read_text(), path


def _debian_grpc() -> bool:
    if not DEBIAN_PYTHON.exists():
        return False
    probe = [str(DEBIAN_PYTHON), "-I", "-c", "import grpc, google.protobuf"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def test_old_runtime_client_runs_a_job(live_server: Backend) -> None:
    """Debian's python3-grpcio 1.51 / protobuf 4.21 (Krita's runtime) runs a real job."""
    if not _debian_grpc():
        if require_editors():
            pytest.fail("/usr/bin/python3 lacks python3-grpcio/python3-protobuf")
        pytest.skip("Debian's python3-grpcio / python3-protobuf are not installed")
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        import google.protobuf, grpc
        assert google.protobuf.__version__.startswith("4.21"), google.protobuf.__version__
        from nlf_client import Client, Layer, Mask
        c = Client.connect({live_server.address!r})
        assert any(f.id == "test_invert" for f in c.list_filters())
        layer = Layer(bytes([10, 20, 30, 255]) * 4, 2, 2)
        out = c.run("test_invert", layer, Mask(bytes([255, 0, 0, 0]), 2, 2)).layers[0]
        assert out.pixels[:4] == bytes([245, 235, 225, 255]), out.pixels[:4]
        assert out.pixels[4:] == layer.pixels[4:]
        print("ok", grpc.__version__, google.protobuf.__version__)
        """
    )
    done = subprocess.run(
        [str(DEBIAN_PYTHON), "-I", "-W", "error::DeprecationWarning", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok 1.51")
