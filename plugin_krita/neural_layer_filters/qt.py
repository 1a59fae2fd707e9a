"""The one module that knows Krita 5 (Qt 5, PyQt5) from Krita 6 (Qt 6, PyQt6).

Other modules import Qt names from here (``from .qt import QLabel``): any name of QtCore, QtGui
or QtWidgets resolves. The binding Krita already loaded wins (a second Qt in the process would
crash it); otherwise PyQt6, then PyQt5. Enums are written scoped
(``Qt.TextInteractionFlag.TextSelectableByMouse``), which PyQt6 requires and PyQt5 5.11+
accepts; Krita's own enums through :func:`scoped`. ``QAction`` resolves from QtWidgets (Qt 5)
or QtGui (Qt 6) like any other name.
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

    QT_MAJOR = 6
else:
    from PyQt5 import QtCore, QtGui, QtWidgets  # type: ignore[no-redef]

    QT_MAJOR = 5
Qt = QtCore.Qt
pyqtSignal = QtCore.pyqtSignal


def __getattr__(name: str) -> Any:
    for module in (QtWidgets, QtGui, QtCore):
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(name)


def scoped(owner: Any, enum: str, member: str) -> Any:
    """``owner.enum.member``: Krita 6's bindings scope their enums; older ones may only have
    ``owner.member``."""
    value = getattr(getattr(owner, enum, None), member, None)
    return value if value is not None else getattr(owner, member)
