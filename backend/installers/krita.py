"""``python -m backend install-plugin krita``: copy the plug-in into a Krita profile and enable it.

The plug-in and a copy of ``nlf_client`` go into ``PROFILE/pykrita``; ``kritarc`` gets
``enable_neural_layer_filters=true`` under ``[python]`` and, under ``[neural_layer_filters]``, the
interpreter (and checkout) that can run ``python -m backend serve`` for the "start a local
backend" setting. When Krita's own Python cannot ``import grpc`` (AppImage, Windows and macOS builds
ship their own Python), grpcio + protobuf wheels for that Python are unpacked into the plug-in's
``vendor/`` folder.

The target Krita is judged by its own files (``backend.installers.editor_target``): the Python
version and
Qt major its ``kritapykrita.so`` links, and whether that Python's folders hold grpc for its ABI.
``--root`` points at another filesystem holding Krita (a chroot, an unpacked AppImage);
``--python-version``/``--qt`` say it outright when no Krita is found.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

from backend.installers import editor_target, package, vendor

log = logging.getLogger(__name__)

PLUGIN = "neural_layer_filters"
REPO = Path(__file__).resolve().parent.parent.parent
_LIB_DIRS = ("lib", "lib64")
_LIB_GLOBS = (
    "/usr/lib/*/kritaplugins/kritapykrita.so",
    "/usr/lib/kritaplugins/kritapykrita.so",
    "/usr/lib64/kritaplugins/kritapykrita.so",
    "/usr/local/lib/*/kritaplugins/kritapykrita.so",
)


def default_profile() -> Path:
    home = Path.home()
    if sys.platform == "win32":
        return home / "AppData" / "Roaming" / "krita"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "krita"
    return home / ".local" / "share" / "krita"


def default_kritarc(profile: Path | None) -> Path:
    """kritarc for a profile; a ``HOME/.local/share/krita`` profile maps to ``HOME/.config``."""
    if profile is not None and profile.parts[-3:] == (".local", "share", "krita"):
        return profile.parent.parent.parent / ".config" / "kritarc"
    home = Path.home()
    if sys.platform == "win32":
        return home / "AppData" / "Local" / "kritarc"
    if sys.platform == "darwin":
        return home / "Library" / "Preferences" / "kritarc"
    return home / ".config" / "kritarc"


def set_ini(path: Path, section: str, key: str, value: str, overwrite: bool = True) -> bool:
    """Set ``key=value`` in ``[section]`` of a Qt INI file, leaving every other line alone.

    Returns whether the file changed.
    """
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    start = next((i for i, line in enumerate(lines) if line.strip() == f"[{section}]"), None)
    if start is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines += [f"[{section}]", f"{key}={value}"]
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines)
        )
        found = next(
            (i for i in range(start + 1, end) if lines[i].split("=", 1)[0].strip() == key), None
        )
        if found is None:
            lines.insert(start + 1, f"{key}={value}")
        elif overwrite and lines[found] != f"{key}={value}":
            lines[found] = f"{key}={value}"
        else:
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return True


def enable_plugin(kritarc: Path, name: str) -> None:
    set_ini(kritarc, "python", f"enable_{name}", "true")


def krita_python() -> tuple[str, Path] | None:
    """(X.Y, interpreter path) of the libpython this machine's Krita embeds, if one is found.

    The interpreter is the one installed next to that library (``/usr/bin/python3.11`` for a
    Krita under ``/usr/lib``): it sees the same ``dist-packages`` as Krita.
    """
    for pattern in _LIB_GLOBS:
        for lib in sorted(Path("/").glob(pattern.lstrip("/"))):
            m = re.search(rb"libpython(3\.\d+)", lib.read_bytes())
            if m:
                version = m.group(1).decode()
                parts = lib.parts
                prefix = Path(*parts[: max(i for i, p in enumerate(parts) if p in _LIB_DIRS)])
                return version, prefix / "bin" / f"python{version}"
    return None


def _root(args: argparse.Namespace) -> Path | None:
    root = getattr(args, "root", None)
    return Path(root).expanduser() if root and Path(root).resolve() != Path("/") else None


def describe_target(args: argparse.Namespace) -> str:
    """One line on the Krita installed for: Python, Qt, and a warning when its PyQt is missing."""
    root = _root(args) or Path("/")
    found = editor_target.find_krita(root)
    qt = getattr(args, "qt", None) or (found.qt_major if found else None)
    version = args.python_version or (found.python_version if found else None)
    if version is None:
        return "target Krita: not found (pass --python-version X.Y and --qt 5|6)"
    line = f"target Krita: Python {version}, Qt {qt or '?'}"
    if found is not None:
        line += f" ({found.found_in})"
        if qt and not editor_target.has_pyqt(root, version, int(qt)):
            line += f"\nwarning: Krita's Python has no PyQt{qt}: Krita loads no Python plug-in"
    return line


def _grpc_plan(args: argparse.Namespace) -> str | None:
    """The Python version to vendor wheels for, or None when Krita's Python has gRPC."""
    if args.python_version:
        return args.python_version
    root = _root(args)
    if root is not None:  # another filesystem: judge by its files, never run its programs
        target = editor_target.find_krita(root)
        if target is None:
            raise SystemExit(f"no Krita under {root}: pass --python-version X.Y")
        if editor_target.has_grpc(root, target.python_version):
            log.info("Krita's Python %s has grpc and protobuf", target.python_version)
            return None
        log.info("Krita's Python %s lacks grpc or protobuf: vendoring", target.python_version)
        return target.python_version
    found = krita_python()
    if found is None:
        log.warning(
            "no Krita found on this machine to check its Python; if the docker says gRPC is "
            "missing, re-run with --python-version X.Y (Krita's Python)"
        )
        return None
    version, python = found
    if python.is_file() and vendor.can_import(str(python)):
        log.info("Krita's Python %s (%s) has grpc and protobuf", version, python)
        return None
    log.info("Krita's Python %s lacks grpc or protobuf: vendoring wheels", version)
    return version


def install(args: argparse.Namespace) -> int:
    profile = Path(args.profile).expanduser() if args.profile else None
    pykrita = (profile or default_profile()) / "pykrita"
    kritarc = Path(args.kritarc).expanduser() if args.kritarc else default_kritarc(profile)
    dest = package.copy_krita_plugin(pykrita, keep_vendor=not args.python_version)
    enable_plugin(kritarc, PLUGIN)
    if _root(args) is None:  # this interpreter can start a backend only for a Krita here
        set_ini(kritarc, PLUGIN, "python", sys.executable, overwrite=False)
        if (REPO / "pyproject.toml").is_file():
            set_ini(kritarc, PLUGIN, "backend_dir", str(REPO), overwrite=False)
    print(describe_target(args))
    version = _grpc_plan(args)
    if version is not None:
        pip_args = ["--index-url", args.index_url] if args.index_url else []
        wheels = vendor.vendor(dest / "vendor", version, args.platform or None, pip_args=pip_args)
        print(f"vendored for Python {version}: {', '.join(wheels)}")
    print(
        f"installed {dest}\nenabled it in {kritarc}; restart Krita, then open "
        "Settings > Dockers > Neural Layer Filters"
    )
    return 0
