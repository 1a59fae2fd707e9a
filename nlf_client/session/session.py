"""One editor session's link to the backend: settings, a lazily connected client, the filter
list and status, the last run, and messages in the editor's words.

Editors keep one ``Session`` (Krita: for the whole Krita run; GIMP: per plug-in call) and call
the blocking methods (``client``, ``fetch``) off their UI thread.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..api import FilterSpec, Status
from ..client import Client
from ..errors import BackendError
from .launch import connect, stop_started
from .messages import UserError, describe, status_line
from .settings import Settings


class Session:
    def __init__(
        self,
        settings: Optional[Settings] = None,
        settings_place: str = "Settings",
        log_path: str = "",
    ) -> None:
        self.settings = settings or Settings()
        self.settings_place = settings_place
        """Where the editor shows the settings (named in messages)."""
        self.log_path = log_path
        self.on_wait: Optional[Callable[[str], None]] = None
        """Told what happens while a local backend starts (a progress text)."""
        self.filters: Dict[str, FilterSpec] = {}
        self.status: Optional[Status] = None
        self.current_filter = ""
        self.last: Optional[Tuple[str, Dict[str, Any]]] = None
        """(filter id, form values) of the last run, for "repeat last"."""
        self._client: Optional[Client] = None
        self._lock = threading.Lock()

    def client(self) -> Client:
        """The connected client (connects, auto-starting a local backend, on first use)."""
        with self._lock:
            if self._client is None:
                self._client = connect(self.settings, self.log_path, self.on_wait)
            return self._client

    def forget_client(self) -> None:
        with self._lock:
            old, self._client = self._client, None
        if old is not None:
            old.close()

    def use_settings(self, settings: Settings) -> None:
        self.settings = settings
        self.forget_client()

    def fetch(self, filters: bool = True) -> Tuple[Status, Optional[List[FilterSpec]]]:
        """The backend's status (and filter list); blocking."""
        c = self.client()
        return c.status(), (c.list_filters() if filters else None)

    def update(self, status: Status, specs: Optional[List[FilterSpec]] = None) -> str:
        """Keep what :meth:`fetch` returned; returns the status line."""
        self.status = status
        if specs is not None:
            self.filters = {f.id: f for f in specs}
        return self.status_line()

    def status_line(self, filter_id: Optional[str] = None) -> str:
        if filter_id is not None:
            self.current_filter = filter_id
        return status_line(self.status, self.current_filter) if self.status else ""

    def lost(self, exc: Exception) -> str:
        """The backend failed to answer: forget the link; returns the status line to show."""
        self.forget_client()
        self.status = None
        return self.describe(exc, "Backend")

    def spec(self, filter_id: str) -> FilterSpec:
        if not filter_id:
            raise UserError("no filter available: is the backend running?")
        if filter_id not in self.filters:
            raise UserError("filter '%s' is not offered by the backend (refresh?)" % filter_id)
        return self.filters[filter_id]

    def remember(self, filter_id: str, values: Mapping[str, Any]) -> None:
        self.last = (filter_id, dict(values))

    def describe(self, exc: Exception, what: str, run: bool = False) -> str:
        """A failure in words (``run``: a filter run, the image was left as it was)."""
        if isinstance(exc, BackendError):
            return describe(exc, what, self.settings.address, self.settings_place, run)
        return "%s: %s" % (what, exc)

    def close(self) -> None:
        """The editor quits: close the link and stop the backends this process started."""
        self.forget_client()
        stop_started()
