"""Vendoring grpcio + protobuf wheels for an editor's own Python (AppImage, Windows, macOS builds).

``pip download --only-binary=:all: --python-version X.Y --platform TAG`` fetches wheels for that
interpreter (not this one); they are unpacked into a ``vendor/`` folder the plug-in puts first on
``sys.path``.
"""

from __future__ import annotations

import logging
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGES = ("grpcio>=1.51", "protobuf>=4.21")
"""Stubs made by protoc 3.21 load on protobuf 4.21 up to 7.x."""


def default_platforms() -> list[str]:
    """pip platform tags for this machine's OS and CPU."""
    machine = platform.machine().lower()
    if sys.platform.startswith("linux"):
        arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
        return [f"manylinux2014_{arch}", f"manylinux_2_17_{arch}"]
    if sys.platform == "win32":
        return ["win_amd64" if machine in ("amd64", "x86_64") else "win_arm64"]
    if sys.platform == "darwin":
        arch = "arm64" if machine == "arm64" else "x86_64"
        return [f"macosx_11_0_{arch}", "macosx_10_9_universal2", f"macosx_10_9_{arch}"]
    raise RuntimeError(f"no wheel platform known for {sys.platform}; pass --platform")


def download_command(
    dest: Path,
    python_version: str,
    platforms: Sequence[str],
    packages: Sequence[str] = PACKAGES,
    pip_args: Sequence[str] = (),
) -> list[str]:
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-cache-dir"]
    cmd += ["--python-version", python_version, "--implementation", "cp", "-d", str(dest)]
    for tag in platforms:
        cmd += ["--platform", tag]
    return [*cmd, *pip_args, *packages]


def vendor(
    vendor_dir: Path,
    python_version: str,
    platforms: Sequence[str] | None = None,
    packages: Sequence[str] = PACKAGES,
    pip_args: Sequence[str] = (),
) -> list[str]:
    """Download wheels for ``python_version`` and unpack them into ``vendor_dir`` (replaced).

    Returns the wheel file names. Raises ``RuntimeError`` with pip's output when pip fails.
    """
    vendor_dir = Path(vendor_dir)
    with tempfile.TemporaryDirectory() as tmp:
        wheels_dir = Path(tmp) / "wheels"
        cmd = download_command(
            wheels_dir, python_version, platforms or default_platforms(), packages, pip_args
        )
        log.info("%s", " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"pip download failed:\n{proc.stdout}\n{proc.stderr}".strip())
        wheels = sorted(wheels_dir.glob("*.whl"))
        if not wheels:
            raise RuntimeError("pip download produced no wheels")
        staged = Path(tmp) / "vendor"
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as zf:
                zf.extractall(staged)
        if vendor_dir.exists():
            shutil.rmtree(vendor_dir)
        vendor_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staged, vendor_dir)
    return [w.name for w in wheels]


def can_import(python: str, modules: Sequence[str] = ("grpc", "google.protobuf")) -> bool:
    """Whether ``python`` imports ``modules`` (run in a subprocess)."""
    code = "; ".join(f"import {m}" for m in modules)
    try:
        proc = subprocess.run([python, "-c", code], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0
