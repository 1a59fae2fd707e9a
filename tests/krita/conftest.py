"""Unit tests of the Krita plug-in run against ``mock_krita`` (installed as ``krita``) and
PyQt5 (PyQt6 with NLF_TEST_QT=6) on the offscreen platform; the plug-in is imported as Krita
imports it (top level).

Without that PyQt only the installer tests run; the others skip.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "plugin_krita"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from tests.krita import qt_binding  # noqa: E402

try:
    QtWidgets = qt_binding.load("QtWidgets")
except ImportError:
    QtWidgets = None
else:
    from tests.krita import mock_krita

    sys.modules.setdefault("krita", mock_krita)
    if str(PLUGIN_DIR) not in sys.path:
        sys.path.insert(0, str(PLUGIN_DIR))
    _APP = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


@pytest.fixture
def krita():
    """A fresh fake Krita application (settings, documents, window)."""
    mock_krita.Krita._instance = None
    return mock_krita.Krita.instance()
