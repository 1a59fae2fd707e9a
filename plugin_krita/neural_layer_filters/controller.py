"""What the docker and the actions share: the session core's ``Actions`` on Krita documents,
worker threads and Qt signals (the editor-neutral work is in ``nlf_client.session``)."""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

from krita import Krita

from .client import session
from .document import KritaDocument, batch_nodes, node_id, read_image, write_image
from .qt import QObject, pyqtSignal
from .worker import Job

GROUP = "neural_layer_filters"
"""kritarc section of the settings (the installer writes python and backend_dir there)."""
STORED = ("address", "token", "tls_ca", "autostart", "python", "backend_dir", "backend_command")
SETTINGS_PLACE = "the docker's Settings tab"


def load_settings() -> Any:
    """kritarc's values over the defaults; the environment wins (NLF_SERVER & co.)."""
    return session.settings.load(lambda key: Krita.instance().readSetting(GROUP, key, ""), STORED)


def save_settings(s: Any) -> None:
    for key, text in session.settings.as_text(s).items():
        Krita.instance().writeSetting(GROUP, key, text)


class Controller(QObject, session.Actions):
    """The session core's ``Actions`` with Qt signals (its events), Krita settings, documents
    and worker threads."""

    filters_changed = pyqtSignal(object)
    status_changed = pyqtSignal(str, bool)
    busy_changed = pyqtSignal(bool)
    progressed = pyqtSignal(float, str)
    previewed = pyqtSignal(object)
    finished = pyqtSignal(str)
    failed = pyqtSignal(str)
    filter_requested = pyqtSignal(str)
    """A Filter-menu entry asks the dockers to show this filter."""

    def __init__(self) -> None:
        QObject.__init__(self)
        session.Actions.__init__(self, load_settings(), SETTINGS_PLACE)

    def shutdown(self, wait_ms: int = 3000) -> None:
        """Krita is quitting: stop the running job, close the link, stop a started backend."""
        if self.job is not None:
            self.job.cancel()
            self.job.wait(wait_ms)
        self.close()

    # -- the session core's hooks --
    def notify(self, event: str, *args: Any) -> None:
        getattr(self, event).emit(*args)

    def start(self, work: Callable[[Job], Any], succeeded: Callable[[Any], None],
              failed: Callable[[Exception], None], item: Optional[Callable[..., None]] = None,
              ended: Optional[Callable[[], None]] = None) -> Job:  # fmt: skip
        job = Job(work)
        for signal, slot in ((job.item_done, item), (job.progressed, self.progressed),
                             (job.previewed, self.previewed), (job.succeeded, succeeded),
                             (job.failed, failed), (job.finished, ended)):  # fmt: skip
            if slot is not None:
                signal.connect(slot)
        return job.start_job()

    def document(self, required: bool = True) -> Tuple[Optional[KritaDocument], Any]:
        doc = Krita.instance().activeDocument()
        if doc is None and not required:
            return None, None
        kdoc = KritaDocument(doc, lambda d: d in Krita.instance().documents())
        return kdoc, node_id(kdoc.active_node()) if required else None

    def store_settings(self, new: Any) -> Any:
        save_settings(new)
        return load_settings()

    def batch_refs(self, doc: Any, mode: str) -> List[str]:
        view = Krita.instance().activeWindow()
        view = view.activeView() if view else None
        nodes = batch_nodes(mode, doc.doc.activeNode(), view.selectedNodes() if view else [])
        return [node_id(n) for n in nodes]

    read_image, write_image = staticmethod(read_image), staticmethod(write_image)  # QImage


_instance: Optional[Controller] = None


def instance() -> Controller:
    global _instance
    if _instance is None:
        _instance = Controller()
    return _instance
