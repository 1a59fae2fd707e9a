"""The plug-in: one PDB procedure per filter (from ``schema.json``), two batch procedures, settings.

Runs inside GIMP only. Every procedure works in all three run modes: INTERACTIVE shows a
``GimpUi.ProcedureDialog`` generated from the procedure's arguments, WITH_LAST_VALS reuses the
values GIMP stored after the last successful run, NONINTERACTIVE takes the caller's values.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, List

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
from gi.repository import Gimp, GimpUi, Gio, GLib, GObject  # noqa: E402

from nlf_client import BackendError  # noqa: E402

from . import launcher, settings  # noqa: E402
from .arguments import (  # noqa: E402
    add_to_procedure,
    arguments_for,
    choice_label,
    missing_layers,
    read_values,
    values_from_json,
)
from .document import (  # noqa: E402
    Colours,
    GimpProgress,
    UserError,
    find_layer,
    pixel_layers,
    run_on_drawable,
)
from .filter_schema import by_procedure, load_schema  # noqa: E402
from .messages import describe  # noqa: E402

log = logging.getLogger(__name__)

PLUGIN_ID = "neural-layer-filters"
MENU = "<Image>/Filters/Neural Layer Filters"
IMAGE_TYPES = "RGB*, GRAY*"  # grayscale results come back as grayscale layers
BATCH_LAYERS = "plug-in-nlf-batch-layers"
BATCH_FOLDER = "plug-in-nlf-batch-folder"
SETTINGS = "plug-in-nlf-settings"
IMAGE_EXTENSIONS = "png,jpg,jpeg,tif,tiff,webp,xcf"
RW = GObject.ParamFlags.READWRITE

SPECS = load_schema()
FILTERS = by_procedure(SPECS)
BY_ID = {s.id: s for s in SPECS}


def _result(procedure: Any, status: Any, message: str = "") -> Any:
    return procedure.new_return_values(status, GLib.Error(message) if message else GLib.Error())


def _fail(procedure: Any, run_mode: Any, message: str) -> Any:
    """EXECUTION_ERROR carrying ``message``; shown to the person unless called by a script."""
    log.error("%s", message)
    if run_mode != Gimp.RunMode.NONINTERACTIVE:
        Gimp.message(message)
    return _result(procedure, Gimp.PDBStatusType.EXECUTION_ERROR, message)


def _dialog(procedure: Any, config: Any, title: str) -> bool:
    """The generated dialog (no hand-built widgets); False when the person cancels."""
    GimpUi.init(PLUGIN_ID)
    dialog = GimpUi.ProcedureDialog.new(procedure, config, title)
    if isinstance(procedure, Gimp.ImageProcedure):
        dialog.fill(None)  # run-mode, image and drawables are not shown
    else:  # a plain procedure: everything but its run-mode argument
        dialog.fill([a.get_name() for a in procedure.get_arguments() if a.get_name() != "run-mode"])
    answer = _test_answer(procedure.get_name())
    if answer:
        _answer_by_itself(dialog, procedure.get_name(), answer)
    ok = dialog.run()
    dialog.destroy()
    return bool(ok)


def _test_answer(name: str) -> str:
    """Test hook: NLF_TEST_DIALOG="proc=ok,other-proc=cancel" answers those dialogs by itself."""
    for item in os.environ.get("NLF_TEST_DIALOG", "").split(","):
        proc, _, answer = item.partition("=")
        if proc.strip() == name:
            return answer.strip()
    return ""


def _widget_types(widget: Any) -> List[str]:
    names = [widget.__gtype__.name]
    if hasattr(widget, "get_children"):
        for child in widget.get_children():
            names.extend(_widget_types(child))
    return names


def _answer_by_itself(dialog: Any, name: str, answer: str) -> None:
    """Once the dialog is shown: log its widget types (for the test), then click its OK or
    Cancel button."""
    gi.require_version("Gtk", "3.0")
    from gi.repository import Gtk

    def respond() -> bool:
        types = sorted(set(_widget_types(dialog)))
        log.info("NLF_DIALOG %s %s", name, " ".join(types))
        response = Gtk.ResponseType.OK if answer == "ok" else Gtk.ResponseType.CANCEL
        button = dialog.get_widget_for_response(response)
        if button is None or not button.get_visible() or not button.get_sensitive():
            log.info("NLF_DIALOG_BUTTON %s none", name)
            dialog.response(Gtk.ResponseType.DELETE_EVENT)  # neither OK nor Cancel: tests fail
        else:  # click the dialog's own button, as a user does
            log.info("NLF_DIALOG_BUTTON %s %s", name, button.get_label())
            button.clicked()
        return False

    GLib.timeout_add(500, respond)


def _profile() -> str:
    return Gimp.directory()


def _guard(procedure: Any, run_mode: Any, label: str, address: str, work: Any) -> Any:
    """Run ``work()``; turn every failure into a readable EXECUTION_ERROR."""
    try:
        work()
    except BackendError as exc:
        return _fail(procedure, run_mode, describe(exc, label, address))
    except UserError as exc:
        return _fail(procedure, run_mode, "%s: %s" % (label, exc))
    except ValueError as exc:
        return _fail(procedure, run_mode, "%s: %s" % (label, exc))
    except Exception as exc:  # the action boundary: log everything, show it, never crash GIMP
        log.exception("%s failed", label)
        return _fail(procedure, run_mode, "%s failed unexpectedly: %s" % (label, exc))
    Gimp.displays_flush()
    return _result(procedure, Gimp.PDBStatusType.SUCCESS)


# --- one procedure per filter -------------------------------------------------------------


def run_filter(procedure, run_mode, image, drawables, config, run_data):
    spec = FILTERS[procedure.get_name()]
    if run_mode == Gimp.RunMode.INTERACTIVE and not _dialog(procedure, config, spec.label):
        return _result(procedure, Gimp.PDBStatusType.CANCEL)
    if len(drawables) != 1:
        return _result(
            procedure,
            Gimp.PDBStatusType.CALLING_ERROR,
            "%s works on exactly one layer; %d are selected." % (spec.label, len(drawables)),
        )
    s = settings.load(_profile())

    def work() -> None:
        args = arguments_for(spec)
        values, layer_items = read_values(args, config, Colours)
        missing = missing_layers(args, layer_items)
        if missing:
            raise UserError("choose a layer for: %s" % ", ".join(missing))
        progress = GimpProgress(spec.label)
        try:
            with launcher.connect(s, _profile(), progress.text) as client:
                run_on_drawable(client, spec, image, drawables[0], values, layer_items, progress)
        finally:
            progress.end()

    return _guard(procedure, run_mode, spec.label, s.address, work)


def create_filter_procedure(plugin: Any, name: str) -> Any:
    spec = FILTERS[name]
    proc = Gimp.ImageProcedure.new(plugin, name, Gimp.PDBProcType.PLUGIN, run_filter, None)
    proc.set_image_types(IMAGE_TYPES)
    proc.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
    proc.set_menu_label(spec.label + "…")
    proc.add_menu_path(MENU)
    proc.set_documentation(
        spec.description or spec.label,
        "Runs the '%s' filter of the Neural Layer Filters backend on the layer (inside the "
        "selection) and adds the results as new layers above it; the layer itself is not "
        "changed." % spec.id,
        name,
    )
    proc.set_attribution("Neural Layer Filters", "Neural Layer Filters", "2026")
    add_to_procedure(proc, arguments_for(spec), Gimp, GObject, Colours)
    return proc


# --- batch ------------------------------------------------------------------------------------


def _filter_choice() -> Any:
    choice = Gimp.Choice.new()
    for i, spec in enumerate(SPECS):
        choice.add(spec.id, i, spec.label or choice_label(spec.id), spec.description)
    return choice


def _batch_spec(config: Any) -> Any:
    filter_id = config.get_property("filter")
    if filter_id not in BY_ID:
        raise ValueError("unknown filter '%s'; known: %s" % (filter_id, ", ".join(BY_ID)))
    return BY_ID[filter_id]


def run_batch_layers(procedure, run_mode, image, drawables, config, run_data):
    if run_mode == Gimp.RunMode.INTERACTIVE and not _dialog(
        procedure, config, "Run a filter on every layer"
    ):
        return _result(procedure, Gimp.PDBStatusType.CANCEL)
    s = settings.load(_profile())
    label = "Batch over layers"

    def work() -> None:
        spec = _batch_spec(config)
        values, layer_names = values_from_json(spec, config.get_property("params"))
        layer_items = {k: find_layer(image, n) for k, n in layer_names.items()}
        skip = {item.get_id() for item in layer_items.values()}
        targets = [lay for lay in pixel_layers(image) if lay.get_id() not in skip]
        progress = GimpProgress(spec.label)
        image.undo_group_start()  # one undo step for the whole batch
        try:
            with launcher.connect(s, _profile(), progress.text) as client:
                for i, layer in enumerate(targets):
                    progress.label = "%s (layer %d of %d: %s)" % (
                        spec.label,
                        i + 1,
                        len(targets),
                        layer.get_name(),
                    )
                    run_on_drawable(client, spec, image, layer, values, layer_items, progress)
        finally:
            image.undo_group_end()
            progress.end()

    return _guard(procedure, run_mode, label, s.address, work)


def create_batch_layers_procedure(plugin: Any, name: str) -> Any:
    proc = Gimp.ImageProcedure.new(plugin, name, Gimp.PDBProcType.PLUGIN, run_batch_layers, None)
    proc.set_image_types(IMAGE_TYPES)
    proc.set_sensitivity_mask(
        Gimp.ProcedureSensitivityMask.DRAWABLE
        | Gimp.ProcedureSensitivityMask.DRAWABLES
        | Gimp.ProcedureSensitivityMask.NO_DRAWABLES
    )
    proc.set_menu_label("Batch: filter every layer…")
    proc.add_menu_path(MENU)
    proc.set_documentation(
        "Run one Neural Layer Filter on every layer of the image",
        "Each pixel layer (groups descended; layers named by layer parameters skipped) gets its "
        "results above it, using the current selection. 'params' is a JSON object of parameter "
        'values, e.g. {"amount": 0.5}; layer parameters name a layer of the image. One undo '
        "step for the whole batch.",
        name,
    )
    proc.set_attribution("Neural Layer Filters", "Neural Layer Filters", "2026")
    default = SPECS[0].id if SPECS else ""
    proc.add_choice_argument("filter", "Filter", "Which filter", _filter_choice(), default, RW)
    proc.add_string_argument(
        "params", "Parameters (JSON)", 'e.g. {"strength": 1.5}; missing = defaults', "{}", RW
    )
    return proc


def _folder(config: Any, name: str) -> str:
    f = config.get_property(name)
    path = f.get_path() if f is not None else None
    if not path:
        raise ValueError("choose the %s" % name.replace("-", " "))
    return path


def run_batch_folder(procedure, config, run_data):
    run_mode = config.get_property("run-mode")
    if run_mode == Gimp.RunMode.INTERACTIVE and not _dialog(
        procedure, config, "Run a filter on a folder of images"
    ):
        return _result(procedure, Gimp.PDBStatusType.CANCEL)
    s = settings.load(_profile())
    label = "Batch over a folder"
    failures: List[str] = []

    def work() -> None:
        spec = _batch_spec(config)
        values, layer_names = values_from_json(spec, config.get_property("params"))
        if layer_names:
            raise ValueError("layer parameters cannot be used in a folder batch")
        in_dir, out_dir = _folder(config, "input-folder"), _folder(config, "output-folder")
        exts = {e.strip().lower().lstrip(".") for e in config.get_property("extensions").split(",")}
        names = sorted(
            n
            for n in os.listdir(in_dir)
            if os.path.splitext(n)[1].lower().lstrip(".") in exts
            and os.path.isfile(os.path.join(in_dir, n))
        )
        if not names:
            raise ValueError("no images (%s) in %s" % (", ".join(sorted(exts)), in_dir))
        os.makedirs(out_dir, exist_ok=True)
        progress = GimpProgress(spec.label)
        try:
            with launcher.connect(s, _profile(), progress.text) as client:
                for i, fname in enumerate(names):
                    progress.label = "%s (%d of %d: %s)" % (spec.label, i + 1, len(names), fname)
                    try:
                        _filter_file(client, spec, values, in_dir, out_dir, fname, progress)
                    except BackendError as exc:
                        if exc.code == "UNAVAILABLE":
                            raise
                        failures.append("%s: %s" % (fname, describe(exc, spec.label, s.address)))
                    except (UserError, GLib.Error, RuntimeError, ValueError) as exc:
                        failures.append("%s: %s" % (fname, exc))
        finally:
            progress.end()
        if failures:
            raise ValueError(
                "%d of %d images failed:\n%s" % (len(failures), len(names), "\n".join(failures))
            )

    return _guard(procedure, run_mode, label, s.address, work)


def _filter_file(client, spec, values, in_dir, out_dir, fname, progress) -> None:
    """Load one file, run the filter on its (merged) layer, save each result as PNG."""
    image = Gimp.file_load(
        Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(os.path.join(in_dir, fname))
    )
    if image is None:
        raise UserError("GIMP could not open it")
    try:
        if image.get_base_type() != Gimp.ImageBaseType.RGB:
            image.convert_rgb()
        layers = image.get_layers()
        source = (
            layers[0]
            if len(layers) == 1
            else image.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE)
        )
        created = run_on_drawable(client, spec, image, source, values, {}, progress)
        stem = os.path.splitext(fname)[0]
        for j, new in enumerate(created):
            for lay in image.get_layers():
                lay.set_visible(lay.get_id() == new.get_id())
            suffix = "" if len(created) == 1 else "-%d" % (j + 1)
            out = os.path.join(out_dir, "%s-%s%s.png" % (stem, spec.id, suffix))
            if not Gimp.file_save(
                Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(out), None
            ):
                raise UserError("could not save %s" % out)
    finally:
        image.delete()


def create_batch_folder_procedure(plugin: Any, name: str) -> Any:
    proc = Gimp.Procedure.new(plugin, name, Gimp.PDBProcType.PLUGIN, run_batch_folder, None)
    proc.set_menu_label("Batch: filter a folder of images…")
    proc.add_menu_path(MENU)
    proc.set_documentation(
        "Run one Neural Layer Filter on every image file in a folder",
        "Each image (its visible layers merged) is filtered as a whole and every result layer is "
        "saved as OUTPUT/<name>-<filter>[-N].png. 'params' is a JSON object of parameter values.",
        name,
    )
    proc.set_attribution("Neural Layer Filters", "Neural Layer Filters", "2026")
    proc.add_enum_argument(
        "run-mode", "Run mode", "The run mode", Gimp.RunMode, Gimp.RunMode.NONINTERACTIVE, RW
    )
    default = SPECS[0].id if SPECS else ""
    proc.add_choice_argument("filter", "Filter", "Which filter", _filter_choice(), default, RW)
    proc.add_string_argument(
        "params", "Parameters (JSON)", 'e.g. {"strength": 1.5}; missing = defaults', "{}", RW
    )
    proc.add_file_argument(
        "input-folder",
        "Input folder",
        "Images to filter",
        Gimp.FileChooserAction.SELECT_FOLDER,
        False,
        None,
        RW,
    )
    proc.add_file_argument(
        "output-folder",
        "Output folder",
        "Where the PNG results go (created if needed)",
        Gimp.FileChooserAction.CREATE_FOLDER,
        False,
        None,
        RW,
    )
    proc.add_string_argument(
        "extensions", "File types", "Comma-separated extensions to pick up", IMAGE_EXTENSIONS, RW
    )
    return proc


# --- settings ---------------------------------------------------------------------------------


def run_settings(procedure, config, run_data):
    run_mode = config.get_property("run-mode")
    profile = _profile()
    if run_mode == Gimp.RunMode.INTERACTIVE:
        current = settings.load(profile, env={})
        config.set_property("address", current.address)
        config.set_property("token", current.token)
        config.set_property("tls-ca", current.tls_ca)
        config.set_property("autostart", current.autostart)
        if not _dialog(procedure, config, "Neural Layer Filters settings"):
            return _result(procedure, Gimp.PDBStatusType.CANCEL)
    address = (config.get_property("address") or "").strip()
    if not address:
        return _fail(procedure, run_mode, "Settings: the backend address must not be empty")
    try:
        path = settings.save_user(
            profile,
            address,
            config.get_property("token") or "",
            config.get_property("autostart"),
            config.get_property("tls-ca") or "",
        )
    except OSError as exc:
        return _fail(procedure, run_mode, "Settings: could not save them: %s" % exc)
    log.info("settings saved to %s", path)
    return _result(procedure, Gimp.PDBStatusType.SUCCESS)


def create_settings_procedure(plugin: Any, name: str) -> Any:
    proc = Gimp.Procedure.new(plugin, name, Gimp.PDBProcType.PLUGIN, run_settings, None)
    proc.set_menu_label("Settings…")
    proc.add_menu_path(MENU)
    proc.set_documentation(
        "Backend address(es), token, TLS CA file and auto-start for Neural Layer Filters",
        "Saved to neural-layer-filters.json in the GIMP profile folder. The environment "
        "variables NLF_SERVER, NLF_TOKEN and NLF_AUTOSTART override the file.",
        name,
    )
    proc.set_attribution("Neural Layer Filters", "Neural Layer Filters", "2026")
    proc.add_enum_argument(
        "run-mode", "Run mode", "The run mode", Gimp.RunMode, Gimp.RunMode.NONINTERACTIVE, RW
    )
    proc.add_string_argument(
        "address",
        "Backend address",
        "host:port; several separated by commas, or dns:///name:port",
        settings.DEFAULT_ADDRESS,
        RW,
    )
    proc.add_string_argument("token", "Token", "empty = none (local backend)", "", RW)
    proc.add_string_argument(
        "tls-ca", "TLS CA file", "PEM file of a TLS backend's CA; empty = no TLS", "", RW
    )
    proc.add_boolean_argument(
        "autostart",
        "Start a local backend when none answers",
        "uses the command saved by 'python -m backend install-plugin gimp'",
        True,
        RW,
    )
    return proc


_EXTRA: Dict[str, Any] = {
    BATCH_LAYERS: create_batch_layers_procedure,
    BATCH_FOLDER: create_batch_folder_procedure,
    SETTINGS: create_settings_procedure,
}


class NeuralLayerFilters(Gimp.PlugIn):
    """The GIMP plug-in object: procedures are created on demand from the schema snapshot."""

    def do_query_procedures(self):
        return list(FILTERS) + list(_EXTRA)

    def do_set_i18n(self, name):
        return False

    def do_create_procedure(self, name):
        if name in FILTERS:
            return create_filter_procedure(self, name)
        return _EXTRA[name](self, name)
