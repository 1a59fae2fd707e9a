"""What the plug-in keeps on disk: the filter snapshot, how to start the backend, the settings.

Settings, later wins: the session core's defaults < ``install.json`` beside the plug-in (written
by ``python -m backend install-plugin gimp``: how to start the backend) < the user's
``neural-layer-filters.json`` in the GIMP profile (written by the Settings procedure) < the
environment (``NLF_SERVER``, ``NLF_TOKEN``, ``NLF_TLS_CA``, ``NLF_AUTOSTART``).
No ``gi`` here: unit-tested without GIMP.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Mapping, Optional

from nlf_client.api import FilterSpec
from nlf_client.session.schema import load_schema
from nlf_client.session.settings import Settings, load_files, write_json

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA_FILE = os.path.join(PLUGIN_DIR, "schema.json")
INSTALL_FILE = os.path.join(PLUGIN_DIR, "install.json")
USER_FILE = "neural-layer-filters.json"
PROCEDURE_PREFIX = "plug-in-nlf-"


def procedure_name(filter_id: str) -> str:
    """PDB name of a filter's procedure: ``dfi`` -> ``plug-in-nlf-dfi`` (``_`` becomes ``-``)."""
    return PROCEDURE_PREFIX + filter_id.lower().replace("_", "-")


def filters(path: str = SCHEMA_FILE) -> Dict[str, FilterSpec]:
    """The snapshot's filters by procedure name (GIMP registers them before any backend runs)."""
    return {procedure_name(s.id): s for s in load_schema(path)}


def load_settings(
    profile: str, env: Optional[Mapping[str, str]] = None, install_file: str = INSTALL_FILE
) -> Settings:
    """The effective settings (see the module docstring); ``env={}``: the stored ones only."""
    return load_files((install_file, os.path.join(profile, USER_FILE)), env)


def save_settings(profile: str, values: Mapping[str, Any]) -> str:
    """Write the fields the Settings procedure edits (other keys kept); returns the file."""
    return write_json(os.path.join(profile, USER_FILE), values)
