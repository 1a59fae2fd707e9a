"""``python -m backend install-plugin krita|gimp``: install an editor plug-in."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from types import ModuleType

PACKAGE_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "package.py"


def load_package() -> ModuleType:
    """``scripts/package.py`` as a module (``copy_client``, ``copy_krita_plugin``)."""
    spec = importlib.util.spec_from_file_location("nlf_package", PACKAGE_SCRIPT)
    if spec is None or spec.loader is None or not PACKAGE_SCRIPT.is_file():
        raise FileNotFoundError(f"{PACKAGE_SCRIPT} is missing: install from a source checkout")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(args: argparse.Namespace) -> int:
    if args.editor == "krita":
        from backend.install_krita import install
    else:
        from backend.install_gimp import install
    return int(install(args) or 0)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "install-plugin",
        help="install the Krita or GIMP plug-in",
        description="Copy the plug-in and nlf_client into an editor profile and enable it.",
    )
    p.add_argument("editor", choices=("krita", "gimp"))
    p.add_argument("--profile", help="editor profile folder (Krita: the one holding pykrita/)")
    p.add_argument(
        "--python-version",
        help="the editor's Python X.Y: vendor grpcio + protobuf wheels for it into the plug-in",
    )
    p.add_argument(
        "--root",
        help="the filesystem the editor is installed in (a chroot, an unpacked AppImage); "
        "its Python is judged from its files",
    )
    p.add_argument(
        "--qt", type=int, choices=(5, 6), help="Krita's Qt major when no Krita is found to read"
    )
    p.add_argument("--platform", action="append", help="wheel platform tag (repeatable)")
    p.add_argument("--kritarc", help="Krita's kritarc (default: next to the profile)")
    p.add_argument("--index-url", help="package index for the vendored wheels")
    p.set_defaults(func=run)
