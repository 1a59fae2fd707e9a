"""The one module that knows Krita 5 (Qt 5, PyQt5) from Krita 6 (Qt 6, PyQt6).

Every other module of the plug-in imports its Qt names from here. Krita 6's Python has PyQt6
only (``import PyQt5`` raises "This version of Krita is not compatible with PyQt5!"); Krita 5's
has PyQt5. The binding Krita itself already loaded wins (loading the other Qt into the same
process would crash it); otherwise PyQt6 first, then PyQt5.

The rest of the plug-in writes enums scoped (``Qt.TextInteractionFlag.TextSelectableByMouse``,
``QImage.Format.Format_RGBA8888``), which PyQt6 requires and PyQt5 5.11+ accepts, and runs
dialogs and loops through :func:`exec_` (PyQt6 has only ``exec``); Krita's own enums go through
:func:`scoped`.
"""

from __future__ import annotations

import sys
from typing import Any


def _binding() -> str:
    for name in ("PyQt6", "PyQt5"):  # the one Krita (or a test) has already loaded
        if f"{name}.QtCore" in sys.modules:
            return name
    try:
        import PyQt6.QtCore  # noqa: F401
    except ImportError:
        return "PyQt5"
    return "PyQt6"


if _binding() == "PyQt6":
    from PyQt6 import QtCore, QtGui, QtWidgets
    from PyQt6.QtGui import QAction  # QtGui in Qt 6

    QT_MAJOR = 6
    PYQT_VERSION = QtCore.PYQT_VERSION_STR
else:
    from PyQt5 import QtCore, QtGui, QtWidgets  # type: ignore[no-redef]
    from PyQt5.QtWidgets import QAction  # type: ignore[no-redef,assignment]  # QtWidgets in Qt 5

    QT_MAJOR = 5
    PYQT_VERSION = QtCore.PYQT_VERSION_STR

Qt = QtCore.Qt
QObject = QtCore.QObject
QThread = QtCore.QThread
QTimer = QtCore.QTimer
QEventLoop = QtCore.QEventLoop
pyqtSignal = QtCore.pyqtSignal

QColor = QtGui.QColor
QImage = QtGui.QImage
QPixmap = QtGui.QPixmap

QApplication = QtWidgets.QApplication
QCheckBox = QtWidgets.QCheckBox
QColorDialog = QtWidgets.QColorDialog
QComboBox = QtWidgets.QComboBox
QDockWidget = QtWidgets.QDockWidget
QDoubleSpinBox = QtWidgets.QDoubleSpinBox
QFileDialog = QtWidgets.QFileDialog
QFormLayout = QtWidgets.QFormLayout
QHBoxLayout = QtWidgets.QHBoxLayout
QLabel = QtWidgets.QLabel
QLineEdit = QtWidgets.QLineEdit
QMenu = QtWidgets.QMenu
QProgressBar = QtWidgets.QProgressBar
QPushButton = QtWidgets.QPushButton
QScrollArea = QtWidgets.QScrollArea
QSpinBox = QtWidgets.QSpinBox
QTabWidget = QtWidgets.QTabWidget
QVBoxLayout = QtWidgets.QVBoxLayout
QWidget = QtWidgets.QWidget


def exec_(obj: Any) -> Any:
    """Run a dialog's or event loop's ``exec`` (``exec_`` in PyQt5, ``exec`` in PyQt6)."""
    run = getattr(obj, "exec", None) or obj.exec_
    return run()


def scoped(owner: Any, enum: str, member: str) -> Any:
    """``owner.enum.member``: Krita 6's own bindings (like PyQt6) scope their enums
    (``DockWidgetFactoryBase.DockPosition.DockRight``); older Qt 5 bindings may only have
    ``owner.member``."""
    scope = getattr(owner, enum, None)
    value = getattr(scope, member, None) if scope is not None else None
    return value if value is not None else getattr(owner, member)


def binding() -> str:
    """``"PyQt6 6.11.0"``: for the docker's "about" line and bug reports."""
    return f"PyQt{QT_MAJOR} {PYQT_VERSION}"


__all__ = [
    "PYQT_VERSION",
    "QT_MAJOR",
    "QAction",
    "QApplication",
    "QCheckBox",
    "QColor",
    "QColorDialog",
    "QComboBox",
    "QDockWidget",
    "QDoubleSpinBox",
    "QEventLoop",
    "QFileDialog",
    "QFormLayout",
    "QHBoxLayout",
    "QImage",
    "QLabel",
    "QLineEdit",
    "QMenu",
    "QObject",
    "QPixmap",
    "QProgressBar",
    "QPushButton",
    "QScrollArea",
    "QSpinBox",
    "QTabWidget",
    "QThread",
    "QTimer",
    "QVBoxLayout",
    "QWidget",
    "Qt",
    "QtCore",
    "QtGui",
    "QtWidgets",
    "binding",
    "exec_",
    "pyqtSignal",
    "scoped",
]  # fmt: skip
