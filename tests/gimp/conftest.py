"""Put the GIMP plug-in folder on sys.path so ``nlf_gimp`` imports without GIMP."""

from __future__ import annotations

import sys

from tests.conftest import ROOT

PLUGIN_DIR = ROOT / "plugin_gimp" / "neural-layer-filters"
if str(PLUGIN_DIR) not in sys.path:
    sys.path.insert(0, str(PLUGIN_DIR))
