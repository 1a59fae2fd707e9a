"""Krita plug-in "Neural Layer Filters": registers the extension (menus) and the docker.

A ``vendor/`` folder next to this file (grpcio + protobuf wheels unpacked by
``python -m backend install-plugin krita``) goes first on ``sys.path`` so Krita builds whose
Python lacks gRPC still work.
"""

from __future__ import annotations

import os
import sys

_VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vendor")
if os.path.isdir(_VENDOR) and _VENDOR not in sys.path:
    sys.path.insert(0, _VENDOR)

from krita import DockWidget, DockWidgetFactory, DockWidgetFactoryBase, Krita  # noqa: E402

from .qt import QLabel, scoped  # noqa: E402

DOCKER_ID = "neural_layer_filters_docker"

try:
    from .docker import NlfDocker
    from .extension import register
except ImportError as exc:  # most often: no grpc in Krita's Python
    _IMPORT_ERROR = f"{exc}. Run: python -m backend install-plugin krita"

    class NlfDocker(DockWidget):  # type: ignore[no-redef]
        """Stand-in docker that says what is missing."""

        def __init__(self) -> None:
            super().__init__()
            self.setWindowTitle("Neural Layer Filters")
            label = QLabel("Neural Layer Filters cannot start: " + _IMPORT_ERROR)
            label.setObjectName("nlf_status")
            label.setWordWrap(True)
            self.setWidget(label)

        def canvasChanged(self, canvas: object) -> None:
            pass

    def register(app: object = None) -> None:  # type: ignore[misc]
        pass


register()
Krita.instance().addDockWidgetFactory(
    DockWidgetFactory(
        DOCKER_ID, scoped(DockWidgetFactoryBase, "DockPosition", "DockRight"), NlfDocker
    )
)
