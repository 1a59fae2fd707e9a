"""The Qt compatibility module is the only place that knows PyQt5 from PyQt6."""

from __future__ import annotations

import re
import sys

import pytest

from tests.krita import qt_binding  # isort: skip
from tests.krita.conftest import PLUGIN_DIR

pytest.importorskip(f"{qt_binding.NAME}.QtWidgets", reason=qt_binding.REASON)

from neural_layer_filters import qt  # isort: skip

PACKAGE = PLUGIN_DIR / "neural_layer_filters"


def test_only_qt_module_imports_a_binding():
    """No other plug-in module names PyQt5 or PyQt6 in an import."""
    pattern = re.compile(r"^\s*(from|import)\s+PyQt[56]\b", re.MULTILINE)
    offenders = [
        p.name for p in PACKAGE.glob("*.py") if p.name != "qt.py" and pattern.search(p.read_text())
    ]
    assert offenders == []
    assert pattern.search((PACKAGE / "qt.py").read_text())


def test_uses_the_binding_already_loaded():
    """The binding the host (Krita, here the tests) loaded wins; the other one is never loaded."""
    assert int(qt_binding.NAME[-1]) == qt.QT_MAJOR
    other = "PyQt5" if qt_binding.NAME == "PyQt6" else "PyQt6"
    assert f"{other}.QtCore" not in sys.modules


def test_qaction_from_the_right_place():
    """QAction: QtWidgets in Qt 5, QtGui in Qt 6."""
    where = qt.QtGui if qt.QT_MAJOR == 6 else qt.QtWidgets
    assert qt.QAction is where.QAction


def test_scoped_enums_used_by_the_plugin_resolve():
    assert qt.QImage.Format.Format_RGBA8888 is not None
    assert qt.Qt.TextInteractionFlag.TextSelectableByMouse is not None
    assert qt.QLineEdit.EchoMode.Password is not None
    assert qt.QColorDialog.ColorDialogOption.ShowAlphaChannel is not None


def test_scoped_prefers_the_scoped_name_and_falls_back_to_the_flat_one():
    class Flat:
        DockRight = 2

    class Scoped:
        class DockPosition:
            DockRight = 3

    assert qt.scoped(Scoped, "DockPosition", "DockRight") == 3
    assert qt.scoped(Flat, "DockPosition", "DockRight") == 2
