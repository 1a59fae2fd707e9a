"""Filter instances for one process: created lazily from the registered classes, one Context."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from backend.errors import Missing, UnknownFilter, shown
from backend.filters import load_all, registered
from backend.filters.base import Context, Filter
from backend.params import ParamSpec, schema_of

log = logging.getLogger(__name__)


class Registry:
    """The filters a server (or the in-process CLI) offers, sharing one :class:`Context`."""

    def __init__(self, ctx: Context, classes: Iterable[type[Filter]] | None = None) -> None:
        if classes is None:
            load_all()
            classes = registered().values()
        self.ctx = ctx
        self._classes = {c.id: c for c in classes}
        self._instances: dict[str, Filter] = {}
        self._lock = threading.Lock()

    def ids(self) -> list[str]:
        return sorted(self._classes)

    def get(self, filter_id: str) -> Filter:
        cls = self._classes.get(filter_id)
        if cls is None:
            known = ", ".join(self.ids()) or "none"
            raise UnknownFilter(f"no filter '{shown(filter_id)}'; this server offers: {known}")
        with self._lock:
            if filter_id not in self._instances:
                self._instances[filter_id] = cls(self.ctx)
            return self._instances[filter_id]

    def schema(self, filter_id: str) -> list[ParamSpec]:
        flt = self.get(filter_id)
        return schema_of(flt.params, flt.dynamic_choices(), flt.dynamic_notes())

    def missing(self, filter_id: str) -> list[Missing]:
        """What the filter still needs; never raises for a filter that is merely not ready."""
        try:
            flt = self.get(filter_id)
            items = self.ctx.backbone_missing() if flt.uses_backbone else []
            items += [m for m in flt.missing() if m.command not in {i.command for i in items}]
            return items
        except Missing as exc:
            return [exc]
        except Exception as exc:  # a broken install must not break GetStatus
            log.exception("missing() of %s failed", filter_id)
            return [Missing(f"a working {filter_id} ({exc})", "see the backend log")]
