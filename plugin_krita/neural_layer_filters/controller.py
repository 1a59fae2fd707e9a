"""What the docker and the actions share: the backend link, the filter list, the running job."""

from __future__ import annotations

import functools
import logging
import os
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from krita import Krita

from . import batch, connection, settings
from .client import Client, FilterSpec, Layer, Preview, Status
from .document import (
    DocumentError,
    KritaDocument,
    downscale,
    find_node,
    node_id,
    result_layer_name,
    rgba8,
)
from .qt import QObject, pyqtSignal
from .worker import Job

Values = Dict[str, Any]
log = logging.getLogger(__name__)


def boundary(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The action boundary: any error is logged and shown in the docker, never as Krita's
    traceback dialog; the method then returns None."""

    @functools.wraps(fn)
    def wrapper(self: Controller, *args: Any, **kw: Any) -> Any:
        try:
            return fn(self, *args, **kw)
        except (DocumentError, OSError) as exc:
            self.failed.emit(str(exc))
        except Exception as exc:
            log.exception("%s failed", fn.__name__)
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        return None

    return wrapper


class Controller(QObject):
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
        super().__init__()
        self.settings = settings.load()
        self.filters: Dict[str, FilterSpec] = {}
        self.status: Optional[Status] = None
        self.last: Optional[Tuple[str, Values]] = None
        self.job: Optional[Job] = None
        self.want_previews = False
        self.current_filter = ""
        self._client: Optional[Client] = None
        self._lock = threading.Lock()

    # -- backend link (the client is only used on worker threads) --
    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                self._client = connection.connect(self.settings)
            return self._client

    def forget_client(self) -> None:
        with self._lock:
            old, self._client = self._client, None
        if old is not None:
            old.close()

    def set_settings(self, new: settings.Settings) -> None:
        settings.save(new)
        self.settings = settings.load()
        self.forget_client()
        self.refresh()

    def refresh(self) -> Job:
        """Fetch status and the filter list in the background."""

        def fetch(job: Job) -> Tuple[Status, List[FilterSpec]]:
            c = self.client()
            return c.status(), c.list_filters()

        job = Job(fetch)
        job.succeeded.connect(self._refreshed)
        job.failed.connect(self._refresh_failed)
        return job.start_job()

    def refresh_status(self) -> Job:
        """Fetch only the status line (after each job: ready / busy / missing)."""
        job = Job(lambda job: self.client().status())
        job.succeeded.connect(self._status_fetched)
        job.failed.connect(self._refresh_failed)
        return job.start_job()

    def _status_fetched(self, status: Status) -> None:
        self.status = status
        self.status_changed.emit(connection.describe(status, self.current_filter), True)

    def shutdown(self, wait_ms: int = 3000) -> None:
        """Krita is quitting: stop the running job, close the link, stop a started backend."""
        job = self.job
        if job is not None:
            job.cancel()
            job.wait(wait_ms)
        self.forget_client()
        connection.stop_local()

    def _refreshed(self, result: Tuple[Status, List[FilterSpec]]) -> None:
        self.status, specs = result
        self.filters = {f.id: f for f in specs}
        self.filters_changed.emit(specs)
        self.status_changed.emit(connection.describe(self.status, self.current_filter), True)

    def _refresh_failed(self, code: str, message: str) -> None:
        self.forget_client()
        self.status = None
        self.status_changed.emit(f"Backend at {self.settings.address}: {message}", False)

    def describe_status(self, filter_id: str) -> None:
        self.current_filter = filter_id
        if self.status is not None:
            self.status_changed.emit(connection.describe(self.status, filter_id), True)

    # -- jobs --
    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _spec(self, filter_id: str) -> FilterSpec:
        if filter_id not in self.filters:
            raise DocumentError(f"filter '{filter_id}' is not offered by the backend (refresh?)")
        return self.filters[filter_id]

    def _request(
        self, kdoc: Optional[KritaDocument], spec: FilterSpec, values: Values
    ) -> Tuple[Values, Dict[str, Layer], Dict[str, str]]:
        """(params, extra layers, extra layer names) from the form's values."""
        params: Values = {}
        extras: Dict[str, Layer] = {}
        names: Dict[str, str] = {}
        for p in spec.params:
            value = values.get(p.name, p.default)
            if p.kind != "layer":
                params[p.name] = value
            elif value:
                node = find_node(kdoc.doc.rootNode(), value) if kdoc else None
                if node is None:
                    raise DocumentError(f"the layer chosen for '{p.label}' no longer exists")
                extras[p.name], names[p.name] = kdoc.layer_pixels(node), node.name()
            elif p.required:
                raise DocumentError(f"choose a layer for '{p.label}'")
        return params, extras, names

    def _start(
        self,
        fn: Callable[[Job], Any],
        on_success: Callable[[Any], None],
        on_item: Optional[Callable[[int, Any], None]] = None,
    ) -> Job:
        job = Job(fn)
        self.job = job
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

    def _job_failed(self, code: str, message: str) -> None:
        if code == "CANCELLED":
            self.failed.emit(f"Cancelled ({message}); nothing else was changed")
            return
        if code == "UNAVAILABLE":
            self.forget_client()
            self.status_changed.emit(f"Backend at {self.settings.address}: {message}", False)
        self.failed.emit(f"{message} [{code}]; the image was not changed")

    def _job_ended(self) -> None:
        self.job = None
        self.busy_changed.emit(False)
        if self._client is not None:
            self.refresh_status()

    def _busy(self) -> bool:
        if self.job is not None:
            self.failed.emit("a filter is already running; wait or cancel it")
        return self.job is not None

    @boundary
    def apply(self, filter_id: str, values: Values) -> Optional[Job]:
        """Run a filter on the active layer + selection; the result goes in above it."""
        if self._busy():
            return None
        spec = self._spec(filter_id)
        kdoc = KritaDocument(Krita.instance().activeDocument())
        node = kdoc.active_node()
        params, extras, names = self._request(kdoc, spec, values)
        layer, mask = kdoc.layer_pixels(node), kdoc.selection_mask()
        if spec.needs_mask and mask is None:
            raise DocumentError(f"{spec.label} needs a selection")
        self.last = (filter_id, dict(values))
        source = node_id(node)

        def run(job: Job) -> Any:
            on_preview = job.preview if self.want_previews else None
            return self.client().run(
                spec.id, layer, mask, params, extras, job.progress, on_preview, job.cancel_event
            )

        def done(result: Any) -> None:
            if kdoc.doc not in Krita.instance().documents():
                raise DocumentError("the image was closed; the result was dropped")
            above = find_node(kdoc.doc.rootNode(), source)
            if above is None:
                raise DocumentError("the source layer was deleted; the result was dropped")
            n = len(result.layers)
            labels = [result_layer_name(spec, values, names, r.name, n) for r in result.layers]
            created = kdoc.insert_layers(result.layers, labels, above)
            self.finished.emit("Added " + ", ".join(c.name() for c in created))

        return self._start(run, done)

    @boundary
    def preview(self, filter_id: str, values: Values, longest: int = 256) -> Optional[Job]:
        """A quick low-resolution run of the active layer, shown in the docker, nothing added."""
        if self._busy():
            return None
        spec = self._spec(filter_id)
        kdoc = KritaDocument(Krita.instance().activeDocument())
        layer = kdoc.layer_pixels(kdoc.active_node())
        params, extras, _ = self._request(kdoc, spec, values)
        layer, mask = downscale(layer, kdoc.selection_mask(), longest)
        extras = {k: downscale(v, None, longest)[0] for k, v in extras.items()}

        def run(job: Job) -> Any:
            return self.client().run(
                spec.id, layer, mask, params, extras, job.progress, None, job.cancel_event
            )

        def done(result: Any) -> None:
            if not result.layers:
                raise DocumentError("the filter returned nothing")
            out = result.layers[0]
            self.previewed.emit(Preview(rgba8(out), out.width, out.height))
            self.finished.emit(f"Preview at {out.width}x{out.height}; Apply to add a layer")

        return self._start(run, done)

    @boundary
    def repeat_last(self) -> Optional[Job]:
        if self.last is None:
            self.failed.emit("no filter has run yet in this session")
            return None
        return self.apply(*self.last)

    @boundary
    def apply_batch(
        self, filter_id: str, values: Values, mode: str, in_dir: str = "", out_dir: str = ""
    ) -> Optional[Job]:
        """Run a filter over the selected layers, the active group's children, or a folder."""
        if self._busy():
            return None
        app = Krita.instance()
        spec = self._spec(filter_id)
        kdoc = KritaDocument(app.activeDocument()) if app.activeDocument() else None
        params, extras, names = self._request(kdoc, spec, values)
        if mode == "folder":
            files = batch.image_files(in_dir)
            if not out_dir:
                raise DocumentError("choose an output folder")
            os.makedirs(out_dir, exist_ok=True)
        else:
            if kdoc is None:
                raise DocumentError("open an image first")
            view = app.activeWindow().activeView() if app.activeWindow() else None
            selected = view.selectedNodes() if view is not None else []
            nodes = batch.target_nodes(mode, kdoc.doc.activeNode(), selected)
            inputs = [kdoc.layer_pixels(n) for n in nodes]
            mask, sources = kdoc.selection_mask(), [node_id(n) for n in nodes]
        self.last = (filter_id, dict(values))

        def run_one(layer: Layer, msk: Any, job: Job, report: Callable) -> Any:
            return self.client().run(
                spec.id, layer, msk, params, extras, report, None, job.cancel_event
            )

        if mode == "folder":

            def run(job: Job) -> int:
                def one(i: int, report: Callable) -> Any:
                    return run_one(batch.read_image(files[i]), None, job, report)

                def save(i: int, result: Any) -> None:
                    paths = batch.output_paths(files[i], out_dir, spec.id, len(result.layers))
                    for layer, path in zip(result.layers, paths, strict=True):
                        batch.write_image(layer, path)

                return batch.run_each(
                    len(files), one, job.progressed.emit, save, job.cancel_event.is_set
                )

            return self._start(
                run, lambda n: self.finished.emit(f"Wrote {n} image(s) to {out_dir}")
            )

        def run_layers(job: Job) -> int:
            return batch.run_each(
                len(inputs),
                lambda i, report: run_one(inputs[i], mask, job, report),
                job.progressed.emit,
                job.item_done.emit,
                job.cancel_event.is_set,
            )

        def insert(i: int, result: Any) -> None:
            above = find_node(kdoc.doc.rootNode(), sources[i])
            if above is None:
                raise DocumentError(f"layer {i + 1} was deleted; its result was dropped")
            n = len(result.layers)
            labels = [result_layer_name(spec, values, names, r.name, n) for r in result.layers]
            kdoc.insert_layers(result.layers, labels, above)

        return self._start(
            run_layers, lambda n: self.finished.emit(f"Filtered {n} layer(s)"), insert
        )


_instance: Optional[Controller] = None


def instance() -> Controller:
    global _instance
    if _instance is None:
        _instance = Controller()
    return _instance
