"""``scripts/package.py`` (copies the plug-ins and ``nlf_client``) loaded as a module.

Both installers (``backend.installers.krita``, ``backend.installers.gimp``) and the
``install-plugin``
command use it; it lives here so that they depend on it and not on each other.
"""

from __future__ import annotations

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
