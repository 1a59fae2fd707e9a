"""Generate the committed gRPC stubs in nlf_client/proto from protos/ (or check they are current).

Stubs come from grpcio-tools==1.51.1 (libprotoc 3.21): they import on the editors' Debian runtimes
(protobuf 4.21, grpcio 1.51) as well as on PyPI's protobuf 7.x. grpcio-tools 1.51.1 pins
protobuf<5, so it lives in its own virtual environment, created on first use.

    python scripts/gen_protos.py          # regenerate
    python scripts/gen_protos.py --check  # fail when the committed stubs drift from the .proto
"""

from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
DEST = ROOT / "nlf_client" / "proto"
TOOLS = "grpcio-tools==1.51.1"
VENV = Path(os.environ.get("NLF_PROTOC_VENV", Path.home() / ".cache" / "nlf" / "protoc-venv"))
FILES = ("filters_pb2.py", "filters_pb2.pyi", "filters_pb2_grpc.py")


def _python() -> Path:
    py = VENV / "bin" / "python"
    probe = [str(py), "-c", "import grpc_tools, sys; sys.exit(0)"]
    if py.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return py
    venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    subprocess.run([str(py), "-m", "pip", "install", "-q", TOOLS], check=True)
    return py


def generate(dest: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            str(_python()),
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTOS}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            str(PROTOS / "nlf" / "v1" / "filters.proto"),
        ]
        subprocess.run(cmd, check=True)
        for name in FILES:
            text = (Path(tmp) / "nlf" / "v1" / name).read_text()
            text = text.replace("from nlf.v1 import filters_pb2", "from . import filters_pb2")
            (dest / name).write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    if not args.check:
        generate(DEST)
        print(f"wrote {', '.join(FILES)} to {DEST.relative_to(ROOT)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        stale = [n for n in FILES if not filecmp.cmp(Path(tmp) / n, DEST / n, shallow=False)]
    if stale:
        print(f"stubs drift from the .proto: {stale}; run python scripts/gen_protos.py")
        return 1
    print("stubs are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
