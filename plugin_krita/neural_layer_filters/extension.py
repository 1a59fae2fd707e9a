"""Menu actions: Filter > Neural Layer Filters > one entry per filter, "Repeat last", the docker."""

from __future__ import annotations

from typing import Any, Sequence

from krita import Extension, Krita

from . import controller
from .client import FilterSpec
from .qt import QApplication, QMenu

MENU_ACTION = "nlf_menu"
REPEAT_ACTION = "nlf_repeat_last"
SHOW_ACTION = "nlf_show_docker"


class NlfExtension(Extension):
    """Builds the menu; the per-filter entries follow the backend's filter list."""

    def __init__(self, parent: Any) -> None:
        super().__init__(parent)
        self.menus: list = []

    def setup(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(controller.instance().shutdown)
        controller.instance().filters_changed.connect(self._fill_menus)

    def createActions(self, window: Any) -> None:
        ctl = controller.instance()
        menu_action = window.createAction(MENU_ACTION, "Neural Layer Filters", "filter")
        menu = QMenu("Neural Layer Filters", window.qwindow())
        menu.setObjectName("nlf_filter_menu")
        menu_action.setMenu(menu)
        self.menus.append(menu)
        show = window.createAction(SHOW_ACTION, "Neural Layer Filters…", "filter")
        show.triggered.connect(lambda: ctl.filter_requested.emit(ctl.current_filter))
        repeat = window.createAction(REPEAT_ACTION, "Repeat Last Neural Filter", "filter")
        repeat.triggered.connect(lambda _checked=False: ctl.repeat_last())
        self._fill_menus(list(ctl.filters.values()))

    def _fill_menus(self, specs: Sequence[FilterSpec]) -> None:
        ctl = controller.instance()
        for menu in self.menus:
            menu.clear()
            if not specs:
                menu.addAction("(backend not connected: open the docker)").setEnabled(False)
            for spec in specs:
                action = menu.addAction(spec.label + "…")
                action.setObjectName(f"nlf_filter_{spec.id}")
                action.setToolTip(spec.description)
                action.triggered.connect(
                    lambda _=False, fid=spec.id: ctl.filter_requested.emit(fid)
                )


def register(app: Any = None) -> None:
    app = app or Krita.instance()
    app.addExtension(NlfExtension(app))
