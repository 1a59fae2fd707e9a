#!/usr/bin/env python3
"""Neural Layer Filters for GIMP 3: entry point (GIMP starts this file; keep the run bit).

Install with ``python -m backend install-plugin gimp``: this folder (same name as this file) goes
into PROFILE/plug-ins with ``nlf_client`` copied beside ``nlf_gimp``. See docs/gimp.md.
"""

import logging
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VENDOR = os.path.join(HERE, "vendor")  # grpcio + protobuf wheels when GIMP's Python lacks them
sys.path[:0] = [p for p in (VENDOR, HERE) if os.path.isdir(p) and p not in sys.path]
FORMAT = "[neural-layer-filters] %(levelname)s %(name)s: %(message)s"
logging.basicConfig(level=logging.INFO, format=FORMAT, stream=sys.stderr)

import gi  # noqa: E402

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp  # noqa: E402
from nlf_gimp import batch, procedures  # noqa: E402

EXTRA = {
    batch.BATCH_LAYERS: batch.create_batch_layers_procedure,
    batch.BATCH_FOLDER: batch.create_batch_folder_procedure,
    procedures.SETTINGS: procedures.create_settings_procedure,
}


class NeuralLayerFilters(Gimp.PlugIn):
    """Procedures are created on demand from the schema snapshot."""

    def do_query_procedures(self):
        return list(procedures.FILTERS) + list(EXTRA)

    def do_set_i18n(self, name):
        return False

    def do_create_procedure(self, name):
        return EXTRA.get(name, procedures.create_filter_procedure)(self, name)


Gimp.main(NeuralLayerFilters.__gtype__, sys.argv)
