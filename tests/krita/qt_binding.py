"""Which PyQt the plug-in's unit tests run on: PyQt5 (the dev dependency) unless NLF_TEST_QT=6.

``NLF_TEST_QT=6 python -m pytest tests/krita`` runs the same tests on PyQt6, as in
Krita 6. The plug-in's own ``neural_layer_filters.qt`` then picks the binding loaded here.
"""

from __future__ import annotations

import importlib
import os

NAME = "PyQt6" if os.environ.get("NLF_TEST_QT") == "6" else "PyQt5"
REASON = f"the plug-in tests need {NAME} (pip install {NAME})"


def load(module: str):
    """``load("QtWidgets")`` -> PyQt5.QtWidgets or PyQt6.QtWidgets (ImportError if missing)."""
    return importlib.import_module(f"{NAME}.{module}")
