"""The editors' session core: everything a plug-in does that is not document I/O, UI, threading
or registration. Stdlib + grpcio + protobuf only; runs on Python 3.9-3.14 (no 3.10+ syntax at
run time). Plug-ins import from here (``from nlf_client.session import ...``).

Settings (:mod:`.settings`)
    ``Settings`` (frozen dataclass: address, token, tls_ca, autostart=True, python,
    backend_command, backend_dir, connect_timeout, startup_timeout); ``merge(base, mapping)``
    reads stored values (strings like "true" too; "backend_cwd" is read as backend_dir);
    ``with_env(s, env=None)`` applies NLF_SERVER / NLF_TOKEN / NLF_TLS_CA / NLF_AUTOSTART;
    ``as_dict``, ``read_json(path)``, ``write_json(path, changes)``, ``load_files(paths,
    env)`` (JSON files, later wins), ``save_form(read, write) -> failure text``; ``FORM`` /
    ``FORM_SPEC``; ``DEFAULT_PORT`` 50051,
    ``USER_FIELDS`` (what a settings form edits).
Session (:mod:`.session`)
    ``Session(settings, settings_place, log_path)``: ``client()`` (lazy, thread-safe connect),
    ``forget_client()``, ``use_settings(s)``, ``fetch(filters=True) -> (status, specs)``,
    ``update(status, specs) -> status line``, ``status_line(filter_id)``, ``lost(exc)``,
    ``spec(filter_id)``, ``remember(filter_id, values)`` / ``last``, ``describe(exc, what, run)``,
    ``close()``; attributes ``settings``, ``filters``, ``status``, ``current_filter``.
Connecting (:mod:`.launch`)
    ``connect(s, log_path="", on_wait=None) -> Client``: a missing port is 50051; when nothing
    answers at a loopback address, ``autostart`` is on and a command is known
    (``serve_command(s)``: backend_command with {host}/{port}, else ``python -m backend
    serve``), starts it detached and waits; ``stop_started()`` ends what this process started.
    ``split_address``, ``with_port``, ``is_loopback``.
Messages (:mod:`.messages`)
    ``describe(exc, what, address, settings_place) -> str`` for a BackendError (ends with
    ``[CODE]``); ``status_line(status, filter_id)``; ``UserError`` for what the person can fix.
Schema snapshot (:mod:`.schema`)
    ``load_schema(path)``, ``filter_from_json``, ``filter_to_json``, ``schema_to_json``.
Actions (:mod:`.actions`)
    ``Actions(Session)``: apply, preview, repeat_last, apply_batch (layers or a folder),
    cancel, refresh, change_settings; the editor supplies threads, documents and the way it
    shows events (hooks in the module docstring). ``caught(exc)``, ``guarded``, ``BATCH_MODES``.
Blocking runs (:mod:`.blocking`)
    ``BlockingRun(label, settings, settings_place, log_path, set_text, set_fraction, pulse)``:
    one action run on the calling thread (GIMP): ``attempt(work) -> failure text or ""``,
    ``each(count, one, keep_going)``, ``each_file(files, out_dir, one)`` (a folder: past
    failures, then their summary), ``run_on(doc, spec, values, source, report)``.
Forms (:mod:`.form`)
    ``plan(param, limit=None) -> Field`` (range, step, decimals, default, choices and labels,
    row label, tooltip) for Krita's widgets and GIMP's arguments alike; ``typed(kind, value)``.
Live painting (:mod:`.live`)
    ``Strokes`` (settle, coalesce, restore from history, reset), ``LiveLoop`` (the polling
    flow: one run at a time, stale answers dropped; the editor's hooks in its docstring),
    ``paint_digest``, ``clip``, ``run_live``, ``paint_param``, ``live_target``, ``run_values``,
    ``stopped_text``, ``LiveError``.
Live notes (:mod:`.notes`)
    ``fetch_notes(settings, snapshot_spec, timeout=1.0) -> {param: text}``: what the running
    backend says about each dynamic parameter beyond the snapshot (installed models, their
    inferred architecture and classes); ``{}`` when no backend answers (none is started).
    ``dynamic_notes(snapshot_spec, live_spec)``.
Requests (:mod:`.request`)
    ``build_request(spec, values, doc) -> Request(params, extras, layer_names)``;
    ``values_from_json(spec, text) -> (values, {layer param: layer name})``,
    ``filter_values_from_json(specs, filter_id, text)`` (a batch's filter too).
Runs against a document (:mod:`.document`)
    ``Document`` protocol: ``read(ref) -> Layer|None``, ``selection() -> Mask|None``,
    ``insert(above_ref, layers, names) -> list``. ``prepare(doc, spec, values, source_ref)
    -> Job`` (UI thread), ``execute(client, job, on_progress, on_preview)`` (any thread; cancel
    with ``job.cancel.set()``), ``finish(doc, job, result)`` (UI thread: named result layers
    above the source); ``Job.scaled(longest)`` for previews; ``progress_text(progress)``;
    ``ProgressLine`` (a progress bar's text and fraction from reports).
Layers (:mod:`.layers`)
    Over an editor's layer tree (``children``, ``kind``: "mask" / "group" / other, ``name``):
    ``labelled(nodes, ...)`` (a layer picker's "group / child" list), ``pixel_layers``,
    ``batch_targets(mode, active, selected, ...)`` ("selected" / "children").
Batches and names (:mod:`.batch`, :mod:`.naming`)
    ``layer_batch(specs, filter_id, json, layers, find, key)``, ``folder_batch(specs,
    filter_id, json)``, ``suffixes(text)``, ``image_files(folder, suffixes)``,
    ``run_each(count, run_one, progressed, done_one, cancelled, keep_going=False) ->
    failures``; ``layer_name(spec, values, layer_names, result_name, count)`` = "[NLF] <label>
    <key params>"; ``file_names(stem, filter_id, n)`` / ``output_paths(src, out_dir,
    filter_id, n)`` = ``<stem>.<filter>.png`` (``.<k>.png`` for several results) - the CLI's
    ``apply`` uses the same.
Colours and pixels (:mod:`.colours`, :mod:`.pixels`)
    ``parse_colour("#rrggbb[aa]")``, ``colour_hex(c, alpha=True)``; ``convert(data, src, dst,
    swap=False)`` between u8/u16/f16/f32 (swap = BGRA<->RGBA), ``native_to_wire(data, depth)``
    / ``wire_to_native(data, fmt, depth)`` (an editor's colour depth, ``NATIVE_FORMAT``),
    ``selection_mask(coverage, w, h, layer)``, ``rgba8(layer)``, ``downscale(layer, mask,
    longest)``.
"""

from . import actions, form, layers, live
from .actions import Actions
from .batch import IMAGE_SUFFIXES, folder_files, folder_summary, image_files, run_each
from .blocking import BlockingRun
from .colours import colour_hex, parse_colour
from .document import (
    Document,
    Job,
    ProgressLine,
    execute,
    finish,
    prepare,
    progress_text,
    result_names,
)
from .launch import connect, serve_command, split_address, stop_started, with_port
from .messages import UserError, describe, status_line
from .naming import file_names, layer_name, output_paths
from .notes import dynamic_notes, fetch_notes
from .pixels import convert, downscale, native_to_wire, rgba8, selection_mask, wire_to_native
from .request import Request, build_request, filter_values_from_json, values_from_json
from .schema import filter_from_json, filter_to_json, load_schema, schema_to_json
from .session import Session
from .settings import DEFAULT_ADDRESS, DEFAULT_PORT, Settings, merge, with_env

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_PORT",
    "IMAGE_SUFFIXES",
    "Actions",
    "BlockingRun",
    "Document",
    "Job",
    "ProgressLine",
    "Request",
    "Session",
    "Settings",
    "UserError",
    "actions",
    "build_request",
    "colour_hex",
    "connect",
    "convert",
    "describe",
    "downscale",
    "dynamic_notes",
    "execute",
    "fetch_notes",
    "file_names",
    "filter_from_json",
    "filter_to_json",
    "filter_values_from_json",
    "finish",
    "folder_files",
    "folder_summary",
    "form",
    "image_files",
    "layer_name",
    "layers",
    "live",
    "load_schema",
    "merge",
    "native_to_wire",
    "output_paths",
    "parse_colour",
    "prepare",
    "progress_text",
    "result_names",
    "rgba8",
    "run_each",
    "schema_to_json",
    "selection_mask",
    "serve_command",
    "split_address",
    "status_line",
    "stop_started",
    "values_from_json",
    "wire_to_native",
    "with_env",
    "with_port",
]
