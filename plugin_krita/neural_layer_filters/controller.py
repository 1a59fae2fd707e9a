"""What the docker and the actions share: settings, the backend link, the filter list, the jobs.

The session core (``nlf_client.session``) does the editor-neutral work; this module runs it on
Krita documents, on worker threads, and reports through Qt signals.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import replace
from typing import Any, Callable, Dict, List, Optional, Tuple

from krita import Krita

from .client import BackendError, FilterSpec, Preview, Status, UserError, session
from .document import KritaDocument, batch_nodes, node_id, read_image, write_image
from .qt import QObject, pyqtSignal
from .worker import Job

Values = Dict[str, Any]
log = logging.getLogger(__name__)
GROUP = "neural_layer_filters"
"""kritarc section of the settings (the installer writes python and backend_dir there)."""
STORED = ("address", "token", "tls_ca", "autostart", "python", "backend_dir", "backend_command")
SETTINGS_PLACE = "the docker's Settings tab"


def load_settings() -> Any:
    """kritarc's values over the defaults; the environment wins (NLF_SERVER & co.)."""
    raw = {k: Krita.instance().readSetting(GROUP, k, "") for k in STORED}
    return session.with_env(session.merge(session.Settings(), {k: v for k, v in raw.items() if v}))


def save_settings(s: Any) -> None:
    for key in session.settings.USER_FIELDS:
        value = getattr(s, key)
        text = str(value).lower() if isinstance(value, bool) else value
        Krita.instance().writeSetting(GROUP, key, text)


def boundary(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The action boundary: any error is logged and shown in the docker, never as Krita's
    traceback dialog; the method then returns None."""

    @functools.wraps(fn)
    def wrapper(self: Controller, *args: Any, **kw: Any) -> Any:
        try:
            return fn(self, *args, **kw)
        except (UserError, OSError, ValueError) as exc:
            self.failed.emit(str(exc))
        except Exception as exc:
            log.exception("%s failed", fn.__name__)
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        return None

    return wrapper


class Controller(QObject, session.Session):
    """The session core's ``Session`` with Qt signals, Krita settings and worker threads."""

    filters_changed = pyqtSignal(object)
    """list[FilterSpec], after each successful refresh."""
    status_changed = pyqtSignal(str, bool)
    """(text, backend answers)."""
    busy_changed = pyqtSignal(bool)
    progressed = pyqtSignal(float, str)
    previewed = pyqtSignal(object)
    finished = pyqtSignal(str)
    failed = pyqtSignal(str)
    filter_requested = pyqtSignal(str)
    """A Filter-menu entry asks the dockers to show this filter."""

    def __init__(self) -> None:
        QObject.__init__(self)
        session.Session.__init__(self, load_settings(), SETTINGS_PLACE)
        self.job: Optional[Job] = None
        self.want_previews = False
        self._label = ""

    def set_settings(self, new: Any) -> None:
        save_settings(new)
        self.use_settings(load_settings())
        self.refresh()

    def refresh(self, filters: bool = True) -> Job:
        """Fetch status (and the filter list) in the background."""
        job = Job(lambda job: self.fetch(filters))
        job.succeeded.connect(lambda result: self._refreshed(*result))
        job.failed.connect(lambda exc: self.status_changed.emit(self.lost(exc), False))
        return job.start_job()

    def _refreshed(self, status: Status, specs: Optional[List[FilterSpec]]) -> None:
        line = self.update(status, specs)
        if specs is not None:
            self.filters_changed.emit(specs)
        self.status_changed.emit(line, True)

    def describe_status(self, filter_id: str) -> None:
        line = self.status_line(filter_id)
        if line:
            self.status_changed.emit(line, True)

    def shutdown(self, wait_ms: int = 3000) -> None:
        """Krita is quitting: stop the running job, close the link, stop a started backend."""
        if self.job is not None:
            self.job.cancel()
            self.job.wait(wait_ms)
        self.close()

    # -- jobs --
    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _prepare(self, filter_id: str, values: Values, need_doc: bool = True) -> Tuple[Any, Any]:
        """(document, session job on its active layer), read on the UI thread."""
        if self.job is not None:
            raise UserError("a filter is already running; wait or cancel it")
        spec, doc = self.spec(filter_id), Krita.instance().activeDocument()
        if not need_doc:
            kdoc = KritaDocument(doc) if doc else None
            return kdoc, session.Job(spec, values, session.build_request(spec, values, kdoc), None)
        kdoc = KritaDocument(doc)
        return kdoc, session.prepare(kdoc, spec, values, node_id(kdoc.active_node()))

    def _start(
        self,
        label: str,
        fn: Callable[[Job], Any],
        on_success: Callable[[Any], None],
        on_item: Optional[Callable[[int, Any], None]] = None,
    ) -> Job:
        job = Job(fn)
        self.job, self._label = job, label
        if on_item is not None:
            job.item_done.connect(lambda i, result: self._guard(on_item, i, result))
        job.progressed.connect(self.progressed)
        job.previewed.connect(self.previewed)
        job.succeeded.connect(lambda result: self._guard(on_success, result))
        job.failed.connect(self._job_failed)
        job.finished.connect(self._job_ended)
        self.busy_changed.emit(True)
        self.progressed.emit(0.0, "sending")
        return job.start_job()

    @boundary
    def _guard(self, fn: Callable[..., None], *args: Any) -> None:
        fn(*args)

    def _job_failed(self, exc: Exception) -> None:
        if isinstance(exc, BackendError) and exc.code == "UNAVAILABLE":
            self.status_changed.emit(self.lost(exc), False)
        self.failed.emit(self.describe(exc, self._label, run=True))

    def _job_ended(self) -> None:
        self.job = None
        self.busy_changed.emit(False)
        if self._client is not None:
            self.refresh(filters=False)

    def _execute(self, job: Job, prepared: Any, report: Any = None, previews: bool = False) -> Any:
        on_preview = job.preview if previews else None
        report = report or job.progress
        return session.execute(self.client(), prepared, report, on_preview, job.cancel_event)

    def _insert(self, kdoc: KritaDocument, prepared: Any, result: Any) -> List[Any]:
        if kdoc.doc not in Krita.instance().documents():
            raise UserError("the image was closed; the result was dropped")
        return session.finish(kdoc, prepared, result)

    @boundary
    def apply(self, filter_id: str, values: Values) -> Optional[Job]:
        """Run a filter on the active layer + selection; the result goes in above it."""
        kdoc, prepared = self._prepare(filter_id, values)
        self.remember(filter_id, values)

        def done(result: Any) -> None:
            created = self._insert(kdoc, prepared, result)
            self.finished.emit("Added " + ", ".join(c.name() for c in created))

        run = lambda job: self._execute(job, prepared, previews=self.want_previews)  # noqa: E731
        return self._start(prepared.spec.label, run, done)

    @boundary
    def preview(self, filter_id: str, values: Values, longest: int = 256) -> Optional[Job]:
        """A quick low-resolution run of the active layer, shown in the docker, nothing added."""
        prepared = self._prepare(filter_id, values)[1].scaled(longest)

        def done(result: Any) -> None:
            if not result.layers:
                raise UserError("the filter returned nothing")
            out = result.layers[0]
            self.previewed.emit(Preview(session.rgba8(out), out.width, out.height))
            self.finished.emit(f"Preview at {out.width}x{out.height}; Apply to add a layer")

        return self._start(prepared.spec.label, lambda job: self._execute(job, prepared), done)

    @boundary
    def repeat_last(self) -> Optional[Job]:
        if self.last is None:
            raise UserError("no filter has run yet in this session")
        return self.apply(*self.last)

    @boundary
    def apply_batch(
        self, filter_id: str, values: Values, mode: str, in_dir: str = "", out_dir: str = ""
    ) -> Optional[Job]:
        """Run a filter over the selected layers, the active group's children, or a folder
        (results as image files named by the session core; a bad image does not stop it)."""
        kdoc, first = self._prepare(filter_id, values, need_doc=mode != "folder")
        if mode == "folder":
            files = session.image_files(in_dir)
            if not out_dir:
                raise UserError("choose an output folder")
            os.makedirs(out_dir, exist_ok=True)
            jobs = [lambda f=f: replace(first, layer=read_image(f)) for f in files]
        else:
            view = Krita.instance().activeWindow()
            view = view.activeView() if view else None
            nodes = batch_nodes(mode, kdoc.doc.activeNode(), view.selectedNodes() if view else [])
            ready = [replace(first, layer=kdoc.layer_pixels(n), source=node_id(n)) for n in nodes]
            jobs = [lambda p=p: p for p in ready]
        self.remember(filter_id, values)

        def save(i: int, result: Any) -> None:
            paths = session.output_paths(files[i], out_dir, first.spec.id, len(result.layers))
            for layer, path in zip(result.layers, paths, strict=True):
                write_image(layer, path)

        def run(job: Job) -> Any:
            one = lambda i, report: self._execute(job, jobs[i](), report)  # noqa: E731
            each = save if mode == "folder" else job.item_done.emit
            stop, folder = job.cancel_event.is_set, mode == "folder"
            return session.run_each(len(jobs), one, job.progressed.emit, each, stop, folder)

        def done(failures: List[Tuple[int, str]]) -> None:
            if mode != "folder":
                return self.finished.emit(f"Filtered {len(jobs)} layer(s)")
            text = f"Wrote {len(files) - len(failures)} image(s) to {out_dir}"
            why = [f"{os.path.basename(files[i])}: {reason}" for i, reason in failures]
            self.finished.emit("; ".join([text + (f"; {len(why)} failed" if why else "")] + why))

        insert = lambda i, result: self._insert(kdoc, jobs[i](), result)  # noqa: E731
        return self._start(first.spec.label, run, done, None if mode == "folder" else insert)


_instance: Optional[Controller] = None


def instance() -> Controller:
    global _instance
    if _instance is None:
        _instance = Controller()
    return _instance
