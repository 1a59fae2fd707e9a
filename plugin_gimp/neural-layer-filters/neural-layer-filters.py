#!/usr/bin/env python3
"""Neural Layer Filters for GIMP 3: entry point (GIMP starts this file; keep the run bit).

Install with ``python -m backend install-plugin gimp``: this folder (same name as this file) goes
into PROFILE/plug-ins with ``nlf_client`` copied beside ``nlf_gimp``. See docs/gimp.md.
"""

import logging
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
VENDOR = os.path.join(
    HERE, "vendor"
)  # grpcio + protobuf wheels, only when GIMP's Python lacks them
if os.path.isdir(VENDOR) and VENDOR not in sys.path:
    sys.path.insert(0, VENDOR)

logging.basicConfig(
    level=logging.INFO,
    format="[neural-layer-filters] %(levelname)s %(name)s: %(message)s",
    stream=sys.stderr,
)

import gi  # noqa: E402

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp  # noqa: E402
from nlf_gimp.procedures import NeuralLayerFilters  # noqa: E402

Gimp.main(NeuralLayerFilters.__gtype__, sys.argv)
