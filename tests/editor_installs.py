"""The real editor installations the editor tests run in (host side).

Krita 5.1.5 runs on the host (Debian 12); Krita 5.3.4 (Debian sid, Qt 5) and Krita 6.0.4
(Debian experimental, Qt 6 / PyQt6) run in chroots made by ``scripts/setup_chroot.sh``; GIMP
3.0.4 (trixie, ``scripts/setup_gimp.sh``) and GIMP 3.2.6 (the sid chroot) likewise. A chroot
shares the host's network, so an editor in it reaches the backend on the host at 127.0.0.1.

GUI sessions in a chroot get ``/proc``, ``/sys``, a ``/dev/shm`` tmpfs and a new ``devpts``
inside a private mount namespace (``unshare --mount``), so a killed run leaves no mount behind.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CACHE = Path(os.environ.get("NLF_CACHE_DIR", Path.home() / ".cache" / "nlf"))
IN_ROOT = "/opt/nlf-editors"
"""Where a chroot run keeps its profile, scripts and outputs (inside the rootfs)."""

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_MOUNTS = (
    'set -e; R=$1; shift; mount -t proc proc "$R/proc"; mount -t sysfs sysfs "$R/sys";'
    ' mount -t tmpfs -o mode=1777 tmpfs "$R/dev/shm";'
    ' mount -t devpts -o newinstance,ptmxmode=0666 devpts "$R/dev/pts";'
    ' exec chroot "$R" "$@"'
)


@dataclass(frozen=True)
class Install:
    """One editor installation: on the host (``rootfs`` None) or in a chroot."""

    editor: str  # "krita" or "gimp"
    version: str  # "5.1", "6.0", "3.2": the editor's major.minor
    suite: str  # "host", "trixie", "sid", "experimental"
    rootfs: Path | None = None
    setup: str = ""  # the command that makes it

    @property
    def name(self) -> str:
        return f"{self.editor}-{self.version}-{self.suite}"

    def host_path(self, inner: str) -> Path:
        """A path inside the editor's filesystem, seen from the host."""
        return Path(inner) if self.rootfs is None else self.rootfs / inner.lstrip("/")

    def missing(self) -> str | None:
        """Why this installation cannot run here, or None."""
        if self.rootfs is not None and os.geteuid() != 0:
            return f"{self.name}: needs root (chroot)"
        if self.editor == "gimp":
            ok = gimp_binary(self, console=True) is not None
        else:
            ok = self.host_path("/usr/bin/krita").exists()
        if not ok:
            where = "" if self.rootfs is None else f" at {self.rootfs}"
            return f"{self.name}: not installed{where}: run '{self.setup}'"
        return None

    def package_version(self, package: str | None = None) -> str | None:
        """The Debian version of the editor's package there (``1:6.0.4.1+dfsg-1``...)."""
        status = self.host_path("/var/lib/dpkg/status")
        want = f"Package: {package or self.editor}"
        try:
            stanzas = status.read_text(encoding="utf-8", errors="replace").split("\n\n")
        except OSError:
            return None
        for stanza in stanzas:
            lines = stanza.splitlines()
            if lines and lines[0] == want and "Status: install ok installed" in stanza:
                m = re.search(r"^Version: (\S+)", stanza, re.MULTILINE)
                return m.group(1) if m else None
        return None

    def upstream_version(self) -> str:
        """``6.0.4.1`` from ``1:6.0.4.1+dfsg-1`` (empty when not installed)."""
        v = self.package_version() or ""
        return re.sub(r"^\d+:", "", v).split("+")[0].split("-")[0].split("~")[0]

    def command(self, argv: list[str], env: dict[str, str], gui: bool = True) -> list[str]:
        """``argv`` with exactly ``env`` in the installation (mounts for GUI chroot runs)."""
        inner = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv]
        if self.rootfs is None:
            return inner
        if not gui:
            return ["chroot", str(self.rootfs), *inner]
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", _MOUNTS, "sh"] + [
            str(self.rootfs),
            *inner,
        ]


def krita_installs() -> list[Install]:
    return [
        Install("krita", "5.1", "host", None, "bash scripts/setup_krita.sh"),
        Install("krita", "5.3", "sid", CACHE / "sid-rootfs", "bash scripts/setup_chroot.sh sid"),
        Install(
            "krita",
            "6.0",
            "experimental",
            CACHE / "krita6-rootfs",
            "bash scripts/setup_chroot.sh krita6",
        ),
    ]


def gimp_installs() -> list[Install]:
    trixie = Path(os.environ.get("NLF_GIMP_ROOTFS", CACHE / "gimp-rootfs"))
    return [
        Install("gimp", "3.0", "trixie", trixie, "bash scripts/setup_gimp.sh"),
        Install("gimp", "3.2", "sid", CACHE / "sid-rootfs", "bash scripts/setup_chroot.sh sid"),
    ]


def gimp_binary(install: Install, console: bool) -> str | None:
    """The versioned GIMP binary in the installation (``gimp-console-3.2``, ``gimp-3.0``...)."""
    stem = "gimp-console" if console else "gimp"
    found = []
    for p in install.host_path("/usr/bin").glob(f"{stem}-3.*"):
        m = re.fullmatch(rf"{stem}-(3\.\d+)", p.name)
        if m:
            found.append((tuple(int(x) for x in m.group(1).split(".")), p.name))
    return max(found)[1] if found else None


def gimp_console_command(rootfs: Path, binary: str, base: str, script: str, timeout: int) -> list:
    """``gimp-console`` in the chroot with a clean environment, the profile ``base``/profile,
    the plan ``base``/in/plan.json and no auto-started backend, running ``script`` (a path
    inside the chroot) in its Python batch interpreter, then quitting."""
    return [
        "timeout", "-k", "10", str(timeout), "chroot", str(rootfs),
        "env", "-i", "HOME=/root", "PATH=/usr/bin:/bin", "LANG=C.UTF-8",
        f"GIMP3_DIRECTORY={base}/profile", f"NLF_PLAN={base}/in/plan.json", "NLF_AUTOSTART=0",
        binary, "-i", "--no-data", "--no-fonts", "--batch-interpreter=python-fu-eval",
        "-b", f'exec(open("{script}").read())', "--quit",
    ]  # fmt: skip


@dataclass
class ConsoleRun:
    """What one GIMP console session left: its exit code, log, checks' report and duration."""

    rc: int
    log: str
    checks: dict[str, Any]
    seconds: float


def run_gimp_console(
    cmd: list, out: Path, names: tuple[str, str], stop: Callable[[], None], timeout: int
) -> ConsoleRun:
    """Run a :func:`gimp_console_command`, then ``stop`` the test's backend whatever happened;
    the log is kept as ``out``/names[0] and the checks are read from ``out``/names[1] (none when
    the session wrote no report)."""
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30)
    finally:
        stop()
    took = time.monotonic() - t0
    log = proc.stdout + proc.stderr
    (out / names[0]).write_text(log)
    report = out / names[1]
    checks = json.loads(report.read_text())["checks"] if report.exists() else {}
    return ConsoleRun(proc.returncode, log, checks, took)
