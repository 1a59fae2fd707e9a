"""What a person does with the plug-in, editor-neutral: refresh, apply, preview, repeat the last
filter, batches over layers or a folder, cancel; and what the editor is told about it.

An editor subclasses :class:`Actions` and supplies threads, its document and its way of showing
things (the hooks below); the rest - which checks come first, what runs off the UI thread and
what on it, result names, batch loops and their failures, the texts - is here, once.

Hooks (the editor's):
    ``start(work, succeeded, failed, item=None, ended=None) -> handle``: run ``work(task)``
    off the UI thread and call the others on it; ``task.progress(Progress)``,
    ``task.preview(Preview)``, ``task.overall(fraction, text)``, ``task.item(i, result)`` (→
    ``item`` on the UI thread), ``task.cancel_event``; the handle has ``cancel()``.
    ``document(required=True) -> (Document or None, active layer ref)``;
    ``batch_refs(doc, mode) -> [layer ref]`` for "selected" / "children";
    ``read_image(path) -> Layer``, ``write_image(layer, path)`` for folder batches;
    ``notify(event, *args)`` with event one of ``EVENTS``; ``store_settings(new) -> Settings``.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..api import FilterSpec, Layer, Preview, Status
from ..errors import BackendError
from .batch import folder_files, folder_summary, run_each
from .document import Document, Job, execute, finish, prepare, result_names
from .messages import UserError
from .naming import output_paths
from .pixels import rgba8
from .request import build_request
from .session import Session
from .settings import Settings, from_form

log = logging.getLogger(__name__)
Values = Dict[str, Any]
EVENTS = {
    "filters_changed": "(list of FilterSpec) after each refresh that fetched them",
    "status_changed": "(text, backend answers)",
    "busy_changed": "(busy) a job started or ended",
    "progressed": "(fraction, text)",
    "previewed": "(Preview) a preview to show",
    "finished": "(text) what a job did",
    "failed": "(text) what went wrong, in words",
}
BATCH_MODES = (
    ("selected", "Every selected layer"),
    ("children", "Every layer in the active group"),
    ("folder", "Every image in a folder"),
)


def caught(exc: Exception) -> Exception:
    """A failure as the editor shows it: the backend's or the person's input (a ``UserError``,
    ``ValueError``, ``OSError``) as it is; anything else logged, as an INTERNAL ``BackendError``."""
    if isinstance(exc, (BackendError, UserError, ValueError, OSError)):
        return exc
    log.error("job failed", exc_info=exc)
    return BackendError("INTERNAL", "%s: %s" % (type(exc).__name__, exc))


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The action boundary: any error is logged and told as ``failed``, never the editor's
    traceback dialog; the method then returns None."""

    @functools.wraps(fn)
    def wrapper(self: Actions, *args: Any, **kw: Any) -> Any:
        try:
            return fn(self, *args, **kw)
        except (UserError, OSError, ValueError) as exc:
            self.notify("failed", str(exc))
        except Exception as exc:
            log.exception("%s failed", fn.__name__)
            self.notify("failed", "%s: %s" % (type(exc).__name__, exc))
        return None

    return wrapper


class Actions(Session):
    """A :class:`Session` that runs the person's actions (see the module docstring)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        Session.__init__(self, *args, **kw)
        self.job: Any = None
        """The handle of the running job (one at a time), None when idle."""
        self.want_previews = False
        self._label = ""

    # -- the editor's hooks --
    def start(self, work: Callable[[Any], Any], succeeded: Callable[[Any], None],
              failed: Callable[[Exception], None], item: Optional[Callable[..., None]] = None,
              ended: Optional[Callable[[], None]] = None) -> Any:  # fmt: skip
        raise NotImplementedError

    def document(self, required: bool = True) -> Tuple[Optional[Document], Any]:
        raise NotImplementedError

    def batch_refs(self, doc: Document, mode: str) -> List[Any]:
        raise NotImplementedError

    def read_image(self, path: str) -> Layer:
        raise NotImplementedError

    def write_image(self, layer: Layer, path: str) -> None:
        raise NotImplementedError

    def notify(self, event: str, *args: Any) -> None:
        raise NotImplementedError

    def store_settings(self, new: Settings) -> Settings:
        """Keep ``new`` where the editor keeps settings; returns them as read back."""
        raise NotImplementedError

    def set_settings(self, new: Settings) -> None:
        self.use_settings(self.store_settings(new))
        self.refresh()

    @guarded
    def change_settings(self, values: Values) -> None:
        """A settings form was saved: keep its values, reconnect with them."""
        self.set_settings(replace(self.settings, **from_form(values)))

    # -- the backend link --
    def refresh(self, filters: bool = True) -> Any:
        """Fetch status (and the filter list) in the background."""
        lost = lambda exc: self.notify("status_changed", self.lost(exc), False)  # noqa: E731
        return self.start(lambda task: self.fetch(filters), lambda r: self._refreshed(*r), lost)

    def _refreshed(self, status: Status, specs: Optional[List[FilterSpec]]) -> None:
        line = self.update(status, specs)
        if specs is not None:
            self.notify("filters_changed", specs)
        self.notify("status_changed", line, True)

    def describe_status(self, filter_id: str) -> None:
        line = self.status_line(filter_id)
        if line:
            self.notify("status_changed", line, True)

    # -- jobs --
    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _prepare(self, filter_id: str, values: Values, need_doc: bool = True) -> Tuple[Any, Job]:
        """(document, job on its active layer), read on the UI thread."""
        if self.job is not None:
            raise UserError("a filter is already running; wait or cancel it")
        spec = self.spec(filter_id)
        doc, source = self.document(required=need_doc)
        if not need_doc:
            return doc, Job(spec, values, build_request(spec, values, doc), None)  # type: ignore[arg-type]
        return doc, prepare(doc, spec, values, source)  # type: ignore[arg-type]

    def _start(self, label: str, work: Callable[[Any], Any], done: Callable[[Any], None],
               item: Optional[Callable[[int, Any], None]] = None) -> Any:  # fmt: skip
        self._label = label
        on_item = None if item is None else (lambda i, result: self._guard(item, i, result))
        done_guarded = lambda result: self._guard(done, result)  # noqa: E731
        self.notify("busy_changed", True)
        self.notify("progressed", 0.0, "sending")
        self.job = pending = object()  # an editor may run the job at once (and end it)
        handle = self.start(work, done_guarded, self._job_failed, on_item, self._job_ended)
        if self.job is pending:
            self.job = handle
        return handle

    @guarded
    def _guard(self, fn: Callable[..., None], *args: Any) -> None:
        fn(*args)

    def _job_failed(self, exc: Exception) -> None:
        if isinstance(exc, BackendError) and exc.code == "UNAVAILABLE":
            self.notify("status_changed", self.lost(exc), False)
        self.notify("failed", self.describe(exc, self._label, run=True))

    def _job_ended(self) -> None:
        self.job = None
        self.notify("busy_changed", False)
        if self._client is not None:
            self.refresh(filters=False)

    def _execute(self, task: Any, job: Job, report: Any = None, previews: bool = False) -> Any:
        on_preview = task.preview if previews else None
        return execute(self.client(), job, report or task.progress, on_preview, task.cancel_event)

    @guarded
    def apply(self, filter_id: str, values: Values) -> Any:
        """Run a filter on the active layer + selection; the result goes in above it."""
        doc, job = self._prepare(filter_id, values)
        self.remember(filter_id, values)

        def done(result: Any) -> None:
            finish(doc, job, result)
            self.notify("finished", "Added " + ", ".join(result_names(job, result)))

        previews = self.want_previews
        run = lambda task: self._execute(task, job, previews=previews)  # noqa: E731
        return self._start(job.spec.label, run, done)

    @guarded
    def preview(self, filter_id: str, values: Values, longest: int = 256) -> Any:
        """A quick low-resolution run of the active layer, shown, nothing added."""
        job = self._prepare(filter_id, values)[1].scaled(longest)

        def done(result: Any) -> None:
            if not result.layers:
                raise UserError("the filter returned nothing")
            out = result.layers[0]
            w, h = out.width, out.height
            self.notify("previewed", Preview(rgba8(out), w, h))
            self.notify("finished", "Preview at %dx%d; Apply to add a layer" % (w, h))

        return self._start(job.spec.label, lambda task: self._execute(task, job), done)

    @guarded
    def repeat_last(self) -> Any:
        if self.last is None:
            raise UserError("no filter has run yet in this session")
        return self.apply(*self.last)

    @guarded
    def apply_batch(
        self, filter_id: str, values: Values, mode: str, in_dir: str = "", out_dir: str = ""
    ) -> Any:
        """Run a filter over the selected layers, the active group's children, or a folder
        (results as image files named by :mod:`.naming`; a bad image does not stop it)."""
        folder, files = mode == "folder", []  # type: Tuple[bool, List[str]]
        doc, first = self._prepare(filter_id, values, need_doc=not folder)
        if folder:
            files = folder_files(in_dir, out_dir)
            jobs = [lambda f=f: replace(first, layer=self.read_image(f)) for f in files]
        else:
            ready = [replace(first, layer=_read(doc, ref), source=ref)
                     for ref in self.batch_refs(doc, mode)]  # fmt: skip
            jobs = [lambda j=j: j for j in ready]
        self.remember(filter_id, values)

        def save(i: int, result: Any) -> None:
            paths = output_paths(files[i], out_dir, first.spec.id, len(result.layers))
            for layer, path in zip(result.layers, paths):  # noqa: B905 (3.9)
                self.write_image(layer, path)

        def run(task: Any) -> Any:
            one = lambda i, report: self._execute(task, jobs[i](), report)  # noqa: E731
            each, stop = save if folder else task.item, task.cancel_event.is_set
            return run_each(len(jobs), one, task.overall, each, stop, folder)

        def done(failures: List[Tuple[int, str]]) -> None:
            text = folder_summary(files, failures, out_dir) if folder else ""
            self.notify("finished", text or "Filtered %d layer(s)" % len(jobs))

        insert = lambda i, result: finish(doc, jobs[i](), result)  # noqa: E731
        return self._start(first.spec.label, run, done, None if folder else insert)


def _read(doc: Any, ref: Any) -> Layer:
    layer = doc.read(ref)
    if layer is None:
        raise UserError("the layer to filter no longer exists")
    return layer
