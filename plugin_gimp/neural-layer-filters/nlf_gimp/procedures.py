"""PDB procedures: one per filter (from ``schema.json``) and the settings; what every run shares.

Runs inside GIMP only. Every procedure works in all three run modes: INTERACTIVE shows a
``GimpUi.ProcedureDialog`` generated from the procedure's arguments, WITH_LAST_VALS reuses the
values GIMP stored after the last successful run, NONINTERACTIVE takes the caller's values.
The batch procedures are in :mod:`.batch`; the ``Gimp.PlugIn`` in the entry file.
"""

from __future__ import annotations

import logging
import os
from functools import partial
from typing import Any, Callable, Sequence

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
from gi.repository import Gimp, GimpUi, GLib, GObject  # noqa: E402

from nlf_client import session  # noqa: E402

from . import store  # noqa: E402
from .arguments import add_arguments, argument_name, fill_dialog, read_values  # noqa: E402
from .document import Colours, GimpDocument  # noqa: E402

log = logging.getLogger(__name__)

PLUGIN_ID = "neural-layer-filters"
MENU = "<Image>/Filters/Neural Layer Filters"
SETTINGS_PLACE = "Filters > Neural Layer Filters > Settings"
IMAGE_TYPES = "RGB*, GRAY*"  # grayscale results come back as grayscale layers
SETTINGS = "plug-in-nlf-settings"
RW = GObject.ParamFlags.READWRITE
SUCCESS = Gimp.PDBStatusType.SUCCESS
FILTERS = store.filters()
SETTINGS_FORM = session.settings.FORM_SPEC


def new_procedure(plugin: Any, name: str, run: Any, docs: Sequence[str], image: bool) -> Any:
    """A procedure in the plug-in's menu; ``docs`` = (menu label, blurb, help). An image
    procedure's ``run`` takes the image and its drawables; a plain one gets a run-mode argument."""
    kind = Gimp.ImageProcedure if image else Gimp.Procedure
    proc = kind.new(plugin, name, Gimp.PDBProcType.PLUGIN, run, None)
    proc.set_menu_label(docs[0])
    proc.add_menu_path(MENU)
    proc.set_documentation(docs[1], docs[2], name)
    proc.set_attribution("Neural Layer Filters", "Neural Layer Filters", "2026")
    if image:
        proc.set_image_types(IMAGE_TYPES)
    else:
        mode = Gimp.RunMode.NONINTERACTIVE
        proc.add_enum_argument("run-mode", "Run mode", "The run mode", Gimp.RunMode, mode, RW)
    return proc


def result(procedure: Any, status: Any, message: str = "") -> Any:
    return procedure.new_return_values(status, GLib.Error(message) if message else GLib.Error())


def fail(procedure: Any, run_mode: Any, message: str) -> Any:
    """EXECUTION_ERROR carrying ``message``; shown to the person unless called by a script."""
    log.error("%s", message)
    if run_mode != Gimp.RunMode.NONINTERACTIVE:
        Gimp.message(message)
    return result(procedure, Gimp.PDBStatusType.EXECUTION_ERROR, message)


def cancelled_dialog(procedure: Any, run_mode: Any, config: Any, title: str) -> bool:
    """INTERACTIVE: show the generated dialog (no hand-built widgets); True when cancelled."""
    if run_mode != Gimp.RunMode.INTERACTIVE:
        return False
    GimpUi.init(PLUGIN_ID)
    dialog = GimpUi.ProcedureDialog.new(procedure, config, title)
    spec = FILTERS.get(procedure.get_name())
    if spec is not None:  # a filter: plus what a running backend says of its installed models
        settings = store.load_settings(Gimp.directory())
        fill_dialog(dialog, spec, session.fetch_notes(settings, spec))
    elif isinstance(procedure, Gimp.ImageProcedure):
        dialog.fill(None)  # run-mode, image and drawables are not shown
    else:  # a plain procedure: everything but its run-mode argument
        dialog.fill([a.get_name() for a in procedure.get_arguments() if a.get_name() != "run-mode"])
    try:  # only where tests/gimp installed it: answers the dialog by itself
        from .test_dialog import answer_later
    except ImportError:
        pass
    else:
        answer_later(dialog, procedure.get_name())
    ok = dialog.run()
    dialog.destroy()
    return not ok


class Run(session.BlockingRun):
    """One procedure call: the session core's ``BlockingRun`` on GIMP's progress bar and the
    settings GIMP keeps."""

    def __init__(self, label: str) -> None:
        profile = Gimp.directory()
        log_path = os.path.join(profile, session.launch.LOG_NAME)
        bar = (Gimp.progress_set_text, Gimp.progress_update, Gimp.progress_pulse)
        settings = store.load_settings(profile)
        session.BlockingRun.__init__(self, label, settings, SETTINGS_PLACE, log_path, *bar)

    def guarded(self, procedure: Any, run_mode: Any, work: Callable[[Run], None]) -> Any:
        """Run ``work(self)``; every failure becomes a readable EXECUTION_ERROR."""
        Gimp.progress_init(self.title + "…")
        try:
            failure = self.attempt(work)
            if failure:
                return fail(procedure, run_mode, failure)
        finally:
            Gimp.progress_end()
        Gimp.displays_flush()
        return result(procedure, SUCCESS)

    def filter(self, spec: Any, image: Any, drawable: Any, values: Any, report: Any = None):
        """One drawable through the backend, the results above it (``BlockingRun.run_on``);
        ``values``: form values (a layer parameter's value is a drawable)."""
        return self.run_on(GimpDocument(image, drawable), spec, values, drawable, report)


def run_on_drawable(procedure, run_mode, image, drawables, config, run_data):
    spec = FILTERS[procedure.get_name()]
    if cancelled_dialog(procedure, run_mode, config, spec.label):
        return result(procedure, Gimp.PDBStatusType.CANCEL)
    if len(drawables) != 1:
        message = "%s works on exactly one layer; %d are selected." % (spec.label, len(drawables))
        return result(procedure, Gimp.PDBStatusType.CALLING_ERROR, message)
    values = read_values(spec, config, Colours)
    work = lambda run: run.filter(spec, image, drawables[0], values)  # noqa: E731
    return Run(spec.label).guarded(procedure, run_mode, work)


def create_filter_procedure(plugin: Any, name: str) -> Any:
    spec = FILTERS[name]
    text = (
        "Runs the '%s' filter of the Neural Layer Filters backend on the layer (inside the "
        "selection) and adds the results as new layers above it; the layer itself is not "
        "changed." % spec.id
    )
    docs = (spec.label + "…", spec.description or spec.label, text)
    proc = new_procedure(plugin, name, run_on_drawable, docs, image=True)
    proc.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
    add_arguments(proc, spec, Gimp, GObject, Colours)
    return proc


def run_settings(procedure, config, run_data):
    run_mode, profile = config.get_property("run-mode"), Gimp.directory()
    if run_mode == Gimp.RunMode.INTERACTIVE:  # the dialog shows what is stored, not the env
        current = store.load_settings(profile, env={})
        for p in SETTINGS_FORM.params:
            config.set_property(argument_name(p.name), getattr(current, p.name))
    if cancelled_dialog(procedure, run_mode, config, "Neural Layer Filters settings"):
        return result(procedure, Gimp.PDBStatusType.CANCEL)
    read = partial(read_values, SETTINGS_FORM, config, Colours)
    failure = session.settings.save_form(read, partial(store.save_settings, profile))
    return fail(procedure, run_mode, failure) if failure else result(procedure, SUCCESS)


def create_settings_procedure(plugin: Any, name: str) -> Any:
    docs = (
        "Settings…",
        "Backend address(es), token, TLS CA file and auto-start (the Python that has the "
        "backend) for Neural Layer Filters; the same form as in Krita",
        "Saved to neural-layer-filters.json in the GIMP profile folder. The environment "
        "variables NLF_SERVER, NLF_TOKEN, NLF_TLS_CA and NLF_AUTOSTART override the file.",
    )
    proc = new_procedure(plugin, name, run_settings, docs, image=False)
    add_arguments(proc, SETTINGS_FORM, Gimp, GObject, Colours)
    return proc
