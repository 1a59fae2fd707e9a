"""The batch procedures: one filter over every layer of an image, or over a folder of images.

Planning, progress, failures and result file names come from the session core; here: GIMP's
layers and files. Runs inside GIMP only.
"""

from __future__ import annotations

from functools import partial
from operator import methodcaller
from typing import Any

from gi.repository import Gimp, Gio, GLib

from nlf_client.session import UserError, folder_files, output_paths
from nlf_client.session.batch import folder_batch, layer_batch, suffixes
from nlf_client.session.form import choice_label

from .document import find_layer, pixel_layers
from .procedures import FILTERS, RW, Run, cancelled_dialog, new_procedure, result

BATCH_LAYERS = "plug-in-nlf-batch-layers"
BATCH_FOLDER = "plug-in-nlf-batch-folder"
IMAGE_EXTENSIONS = "png,jpg,jpeg,tif,tiff,webp,xcf"
SPECS = {s.id: s for s in FILTERS.values()}
DOCS = {  # menu label, blurb, help
    BATCH_LAYERS: (
        "Batch: filter every layer…",
        "Run one Neural Layer Filter on every layer of the image",
        "Each pixel layer (groups descended; layers named by layer parameters skipped) gets its "
        "results above it, using the current selection. 'params' is a JSON object of parameter "
        'values, e.g. {"amount": 0.5}; layer parameters name a layer of the image. One undo '
        "step for the whole batch.",
    ),
    BATCH_FOLDER: (
        "Batch: filter a folder of images…",
        "Run one Neural Layer Filter on every image file in a folder",
        "Each image (its visible layers merged) is filtered as a whole and every result layer is "
        "saved as OUTPUT/<name>.<filter>.png (<name>.<filter>.<N>.png for several results). "
        "'params' is a JSON object of parameter values.",
    ),
}


def _filter_choice() -> Any:
    choice = Gimp.Choice.new()
    for i, spec in enumerate(SPECS.values()):
        choice.add(spec.id, i, spec.label or choice_label(spec.id), spec.description)
    return choice


def _add_filter_arguments(proc: Any) -> None:
    default = next(iter(SPECS), "")
    proc.add_choice_argument("filter", "Filter", "Which filter", _filter_choice(), default, RW)
    hint = 'e.g. {"strength": 1.5}; missing = defaults'
    proc.add_string_argument("params", "Parameters (JSON)", hint, "{}", RW)


def _filter_args(config: Any) -> tuple:
    """The filter and params arguments: (filter id, JSON values)."""
    return tuple(config.get_property(k) for k in ("filter", "params"))


def run_on_layers(procedure, run_mode, image, drawables, config, run_data):
    if cancelled_dialog(procedure, run_mode, config, "Run a filter on every layer"):
        return result(procedure, Gimp.PDBStatusType.CANCEL)

    def work(run: Run) -> None:
        find, key = partial(find_layer, image), methodcaller("get_id")
        layers = pixel_layers(image.get_layers())
        spec, values, targets = layer_batch(SPECS, *_filter_args(config), layers, find, key)
        run.title = spec.label
        image.undo_group_start()  # one undo step for the whole batch
        try:
            run.each(
                len(targets), lambda i, report: run.filter(spec, image, targets[i], values, report)
            )
        finally:
            image.undo_group_end()

    return Run("Batch over layers").guarded(procedure, run_mode, work)


def create_batch_layers_procedure(plugin: Any, name: str) -> Any:
    proc = new_procedure(plugin, name, run_on_layers, DOCS[name], image=True)
    mask = Gimp.ProcedureSensitivityMask
    proc.set_sensitivity_mask(mask.DRAWABLE | mask.DRAWABLES | mask.NO_DRAWABLES)
    _add_filter_arguments(proc)
    return proc


def _folder(config: Any, name: str) -> str:
    f = config.get_property(name)
    path = f.get_path() if f is not None else None
    if not path:
        raise ValueError("choose the %s" % name.replace("-", " "))
    return path


def _filter_file(run: Run, spec: Any, values: Any, out_dir: str, path: str, report: Any) -> None:
    """Load one file, run the filter on its (merged) layer, save each result as PNG."""
    image, mode = None, Gimp.RunMode.NONINTERACTIVE
    try:
        image = Gimp.file_load(mode, Gio.File.new_for_path(path))
        if image is None:
            raise UserError("GIMP could not open it")
        if image.get_base_type() != Gimp.ImageBaseType.RGB:
            image.convert_rgb()
        layers = image.get_layers()
        merged = len(layers) > 1
        source = image.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE) if merged else layers[0]
        created = run.filter(spec, image, source, values, report)
        outs = output_paths(path, out_dir, spec.id, len(created))
        for new, out in zip(created, outs, strict=True):
            for lay in image.get_layers():
                lay.set_visible(lay.get_id() == new.get_id())
            if not Gimp.file_save(mode, image, Gio.File.new_for_path(out), None):
                raise UserError("could not save %s" % out)
    except GLib.Error as exc:  # GIMP's own failure to open or save the file
        raise UserError(exc.message) from None
    finally:
        if image is not None:
            image.delete()


def run_folder(procedure, config, run_data):
    run_mode = config.get_property("run-mode")
    if cancelled_dialog(procedure, run_mode, config, "Run a filter on a folder of images"):
        return result(procedure, Gimp.PDBStatusType.CANCEL)

    def work(run: Run) -> None:
        spec, values = folder_batch(SPECS, *_filter_args(config))
        exts = suffixes(config.get_property("extensions"))
        out_dir = _folder(config, "output-folder")
        files = folder_files(_folder(config, "input-folder"), out_dir, exts)
        run.title = spec.label
        run.each_file(files, out_dir, partial(_filter_file, run, spec, values, out_dir))

    return Run("Batch over a folder").guarded(procedure, run_mode, work)


def create_batch_folder_procedure(plugin: Any, name: str) -> Any:
    proc = new_procedure(plugin, name, run_folder, DOCS[name], image=False)
    _add_filter_arguments(proc)
    action = Gimp.FileChooserAction
    proc.add_file_argument(
        "input-folder", "Input folder", "Images to filter", action.SELECT_FOLDER, False, None, RW
    )
    hint = "Where the PNG results go (created if needed)"
    proc.add_file_argument(
        "output-folder", "Output folder", hint, action.CREATE_FOLDER, False, None, RW
    )
    hint = "Comma-separated extensions to pick up"
    proc.add_string_argument("extensions", "File types", hint, IMAGE_EXTENSIONS, RW)
    return proc
