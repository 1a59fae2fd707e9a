"""``python -m backend install-plugin krita|gimp``: install an editor plug-in."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def run(args: argparse.Namespace) -> int:
    if args.editor == "krita":
        from backend.installers.krita import install
    else:
        from backend.installers.gimp import install
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
