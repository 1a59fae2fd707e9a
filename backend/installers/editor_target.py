"""What the *target* editor runs: its Python version, its Qt major, whether that Python has gRPC.

``install-plugin`` must judge the editor's own Python, not the one running the installer (Krita
6 in Debian experimental embeds Python 3.14 with PyQt6; the host may run 3.11). Everything here
reads files only, under ``root`` (``/`` for this machine; a chroot, an unpacked AppImage's
``squashfs-root`` and so on otherwise), so it works for an editor this machine cannot execute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

KRITA_LIB_GLOBS = (
    "usr/lib/*/kritaplugins/kritapykrita.so",
    "usr/lib/kritaplugins/kritapykrita.so",
    "usr/lib64/kritaplugins/kritapykrita.so",
    "usr/local/lib/*/kritaplugins/kritapykrita.so",
    "usr/local/lib/kritaplugins/kritapykrita.so",
)


@dataclass(frozen=True)
class Target:
    """An editor's embedded Python as found on disk."""

    python_version: str  # "3.14"
    qt_major: int | None  # 5 or 6 (Krita); None when unknown or irrelevant (GIMP)
    found_in: Path  # the file the facts came from

    def describe(self) -> str:
        qt = f", Qt {self.qt_major}" if self.qt_major else ""
        return f"Python {self.python_version}{qt} (from {self.found_in})"


def find_krita(root: Path = Path("/")) -> Target | None:
    """Krita's Python version and Qt major from the ``kritapykrita.so`` under ``root``."""
    for pattern in KRITA_LIB_GLOBS:
        for lib in sorted(Path(root).glob(pattern)):
            data = lib.read_bytes()
            m = re.search(rb"libpython(3\.\d+)", data)
            if m is None:
                continue
            qt = 6 if b"libQt6Core" in data else 5 if b"libQt5Core" in data else None
            return Target(m.group(1).decode(), qt, lib)
    return None


def find_python3(root: Path) -> Target | None:
    """The ``python3`` under ``root`` (what GIMP runs plug-ins with), from its link name."""
    for name in ("usr/bin/python3", "usr/local/bin/python3"):
        path = Path(root) / name
        if not path.is_symlink() and not path.exists():
            continue
        target = path.readlink().name if path.is_symlink() else path.name
        m = re.fullmatch(r"python(3\.\d+)", target)
        if m:
            return Target(m.group(1), None, path)
    return None


def site_dirs(root: Path, version: str) -> list[Path]:
    """The folders a Debian-style (or bundled) Python ``version`` imports from, under root."""
    root = Path(root)
    return [
        root / f"usr/local/lib/python{version}/dist-packages",
        root / "usr/lib/python3/dist-packages",
        root / f"usr/lib/python{version}/site-packages",
        root / f"usr/lib/python{version}/dist-packages",
        root / f"usr/lib/python{version}",
    ]


def _grpc_for(folder: Path, version: str) -> bool:
    """``grpc`` in ``folder`` with a compiled core that this CPython version can load."""
    cython = folder / "grpc" / "_cython"
    if not (folder / "grpc" / "__init__.py").is_file() or not cython.is_dir():
        return False
    tag = "cpython-" + version.replace(".", "")
    return any(tag in p.name or ".abi3." in p.name for p in cython.glob("cygrpc*"))


def has_grpc(root: Path, version: str) -> bool:
    """Whether Python ``version`` under ``root`` finds grpc (for its ABI) and protobuf."""
    dirs = [d for d in site_dirs(root, version) if d.is_dir()]
    grpc = any(_grpc_for(d, version) for d in dirs)
    protobuf = any((d / "google" / "protobuf" / "__init__.py").is_file() for d in dirs)
    return grpc and protobuf


def has_pyqt(root: Path, version: str, major: int) -> bool:
    """Whether Python ``version`` under ``root`` has PyQt5 or PyQt6 (Krita's Python plug-ins
    need the one matching Krita's Qt)."""
    return any((d / f"PyQt{major}").is_dir() for d in site_dirs(root, version))
