"""``python -m backend install-plugin gimp``: copy the GIMP 3 plug-in into a GIMP profile.

PROFILE/plug-ins/neural-layer-filters/ receives the plug-in folder (entry file with its run bit;
folder name = file name, as GIMP requires), ``nlf_client`` beside ``nlf_gimp``, and
``install.json`` telling the plug-in how to auto-start this checkout's backend. GIMP runs the
plug-in with ``python3`` from PATH; when that Python cannot ``import grpc`` (or
``--python-version`` is given), grpcio + protobuf wheels are vendored into ``vendor/``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from backend.installers import editor_target, package, vendor

log = logging.getLogger(__name__)

PLUGIN = "neural-layer-filters"
REPO = Path(__file__).resolve().parent.parent.parent
SOURCE = REPO / "plugin_gimp" / PLUGIN
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "install.json", "vendor")


def default_profile() -> Path:
    """GIMP 3's profile: ``$GIMP3_DIRECTORY`` or ``~/.config/GIMP/3.0``."""
    env = os.environ.get("GIMP3_DIRECTORY")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "GIMP" / "3.0"


def backend_command() -> list[str]:
    """How the plug-in auto-starts a local backend: this Python, this checkout."""
    return [sys.executable, "-m", "backend", "serve", "--host", "127.0.0.1", "--port", "{port}"]


def copy_plugin(profile: Path, keep_vendor: bool = True) -> Path:
    """Copy the plug-in folder + nlf_client into PROFILE/plug-ins; returns the installed folder."""
    plug_ins = Path(profile) / "plug-ins"
    plug_ins.mkdir(parents=True, exist_ok=True)
    dest = plug_ins / PLUGIN
    staged = plug_ins / f".{PLUGIN}.new"
    if staged.exists():
        shutil.rmtree(staged)
    shutil.copytree(SOURCE, staged, ignore=_IGNORE)
    if keep_vendor and (dest / "vendor").is_dir():
        shutil.copytree(dest / "vendor", staged / "vendor")
    package.copy_client(staged)
    if dest.exists():
        shutil.rmtree(dest)
    staged.rename(dest)
    entry = dest / f"{PLUGIN}.py"
    entry.chmod(0o755)  # without the run bit GIMP silently ignores the plug-in
    now = time.time()
    os.utime(entry, (now, now))  # a newer mtime makes GIMP query the procedures again
    return dest


def write_install_info(dest: Path, command: Sequence[str], cwd: Path | None) -> Path:
    path = dest / "install.json"
    info = {"backend_command": list(command), "backend_cwd": str(cwd) if cwd else ""}
    path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return path


def gimp_python_version(python: Sequence[str]) -> str | None:
    """X.Y of the Python GIMP starts plug-ins with (``python3`` on PATH), None if not found."""
    try:
        out = subprocess.run(
            [*python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def grpc_plan(python: Sequence[str], forced_version: str | None) -> str | None:
    """The Python version to vendor wheels for, or None when GIMP's Python has gRPC."""
    if forced_version:
        return forced_version
    version = gimp_python_version(python)
    if version is None:
        log.warning("no %s found to check; pass --python-version X.Y to vendor gRPC", python[0])
        return None
    code = subprocess.run(
        [*python, "-c", "import grpc, google.protobuf"], capture_output=True, timeout=60
    ).returncode
    if code == 0:
        log.info("GIMP's Python %s has grpc and protobuf", version)
        return None
    log.info("GIMP's Python %s lacks grpc or protobuf: vendoring wheels", version)
    return version


def install_plugin(
    profile: Path,
    python: Sequence[str] | None = ("python3",),
    python_version: str | None = None,
    platforms: Sequence[str] | None = None,
    pip_args: Sequence[str] = (),
) -> Path:
    """Install into ``profile``; ``python`` = how GIMP's Python is run (None: skip the check)."""
    dest = copy_plugin(profile, keep_vendor=not python_version)
    cwd = REPO if (REPO / "pyproject.toml").is_file() else None
    write_install_info(dest, backend_command(), cwd)
    version = grpc_plan(python, python_version) if python else python_version
    if version is not None:
        wheels = vendor.vendor(dest / "vendor", version, platforms or None, pip_args=pip_args)
        log.info("vendored for Python %s: %s", version, ", ".join(wheels))
    return dest


def root_plan(root: Path) -> str | None:
    """Like :func:`grpc_plan` for a GIMP under ``root`` (a chroot...), from its files only."""
    target = editor_target.find_python3(root)
    if target is None:
        raise SystemExit(f"no python3 under {root}: pass --python-version X.Y")
    if editor_target.has_grpc(root, target.python_version):
        log.info("GIMP's Python %s has grpc and protobuf", target.python_version)
        return None
    return target.python_version


def install(args: argparse.Namespace) -> int:
    profile = Path(args.profile).expanduser() if args.profile else default_profile()
    pip_args = ["--index-url", args.index_url] if getattr(args, "index_url", None) else []
    forced = getattr(args, "python_version", None)
    root = getattr(args, "root", None)
    if root and not forced and Path(root).resolve() != Path("/"):
        forced = root_plan(Path(root))
        target = editor_target.find_python3(Path(root))
        print(f"target GIMP: {target.describe() if target else '?'}")
        python = None
    else:
        python = ("python3",)
    dest = install_plugin(
        profile,
        python=python,
        python_version=forced,
        platforms=getattr(args, "platform", None),
        pip_args=pip_args,
    )
    vendored = " (gRPC vendored)" if (dest / "vendor").is_dir() else ""
    print(
        f"installed {dest}{vendored}\nrestart GIMP, then use Filters > Neural Layer Filters "
        "(Settings… there sets the backend address)"
    )
    return 0
