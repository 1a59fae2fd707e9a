"""Unit tests of the Krita plug-in run against ``mock_krita`` (installed as ``krita``) and
PyQt5 on the offscreen platform; the plug-in is imported as Krita imports it (top level)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

QtWidgets = pytest.importorskip("PyQt5.QtWidgets", reason="PyQt5 is needed for the plug-in tests")

from tests.plugin_krita import mock_krita  # noqa: E402

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.modules.setdefault("krita", mock_krita)
PLUGIN_DIR = Path(__file__).resolve().parents[2] / "plugin_krita"
if str(PLUGIN_DIR) not in sys.path:
    sys.path.insert(0, str(PLUGIN_DIR))
_APP = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


@pytest.fixture
def krita():
    """A fresh fake Krita application (settings, documents, window)."""
    mock_krita.Krita._instance = None
    return mock_krita.Krita.instance()
