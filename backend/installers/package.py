"""Build plug-in folders: copy ``nlf_client`` (and the Krita plug-in) where an editor loads them.

Both installers (``backend.installers.krita``, ``backend.installers.gimp``) use
:func:`copy_client`; they depend on this module and not on each other. :func:`krita_zip` builds a
zip that Krita's "Tools > Scripts > Import Python Plugin from File…" accepts (``scripts/package.py``
is its command line):

    python scripts/package.py krita-zip dist/neural_layer_filters-krita.zip
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KRITA_PLUGIN = "neural_layer_filters"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")


def client_source() -> Path:
    """The ``nlf_client`` package folder (the checkout's, else the installed one)."""
    local = REPO / "nlf_client"
    if (local / "__init__.py").is_file():
        return local
    import nlf_client

    return Path(nlf_client.__file__).resolve().parent


def copy_client(dest_dir: str | Path) -> Path:
    """Copy ``nlf_client/`` into ``dest_dir`` (replacing an older copy); returns the new folder."""
    dest = Path(dest_dir) / "nlf_client"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(client_source(), dest, ignore=_IGNORE)
    return dest


def copy_krita_plugin(pykrita_dir: str | Path, keep_vendor: bool = True) -> Path:
    """Copy the Krita plug-in (.desktop file + package, nlf_client inside) to ``pykrita_dir``.

    The ``.action`` file (default shortcuts) goes to the sibling ``actions/`` folder.

    An existing ``vendor/`` folder (unpacked gRPC wheels) is kept unless ``keep_vendor`` is false.
    Returns the installed package folder.
    """
    src = REPO / "plugin_krita"
    if not (src / KRITA_PLUGIN).is_dir():
        raise FileNotFoundError(f"{src} is missing: install the plug-in from a source checkout")
    pykrita = Path(pykrita_dir)
    pykrita.mkdir(parents=True, exist_ok=True)
    dest = pykrita / KRITA_PLUGIN
    with tempfile.TemporaryDirectory(dir=pykrita) as tmp:
        kept = Path(tmp) / "vendor"
        if keep_vendor and (dest / "vendor").is_dir():
            (dest / "vendor").rename(kept)
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(src / KRITA_PLUGIN, dest, ignore=_IGNORE)
        if kept.is_dir():
            kept.rename(dest / "vendor")
    shutil.copy2(src / f"{KRITA_PLUGIN}.desktop", pykrita / f"{KRITA_PLUGIN}.desktop")
    actions = pykrita.parent / "actions"  # default shortcuts live in the profile's actions/
    actions.mkdir(exist_ok=True)
    shutil.copy2(src / f"{KRITA_PLUGIN}.action", actions / f"{KRITA_PLUGIN}.action")
    copy_client(dest)
    return dest


def krita_zip(out: str | Path) -> Path:
    """A zip with the ``.desktop``, ``.action`` and ``neural_layer_filters/`` at its root."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pykrita = Path(tmp) / "pykrita"
        copy_krita_plugin(pykrita, keep_vendor=False)
        action = Path(tmp) / "actions" / f"{KRITA_PLUGIN}.action"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(pykrita.rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(pykrita).as_posix())
            zf.write(action, action.name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/package.py", description=(__doc__ or "").splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    z = sub.add_parser("krita-zip", help="zip for Krita's 'Import Python Plugin from File'")
    z.add_argument("out", help="the zip file to write")
    args = parser.parse_args(argv)
    print(krita_zip(args.out))
    return 0
