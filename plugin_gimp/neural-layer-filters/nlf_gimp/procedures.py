"""PDB procedures: one per filter (from ``schema.json``) and the settings; what every run shares.

Runs inside GIMP only. Every procedure works in all three run modes: INTERACTIVE shows a
``GimpUi.ProcedureDialog`` generated from the procedure's arguments, WITH_LAST_VALS reuses the
values GIMP stored after the last successful run, NONINTERACTIVE takes the caller's values.
The batch procedures are in :mod:`.batch`; the ``Gimp.PlugIn`` in the entry file.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable, Sequence

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
from gi.repository import Gimp, GimpUi, GLib, GObject  # noqa: E402

from nlf_client import FilterSpec, session  # noqa: E402
from nlf_client.session.actions import caught  # noqa: E402

from . import store  # noqa: E402
from .arguments import add_arguments, argument_name, read_values  # noqa: E402
from .document import Colours, GimpDocument  # noqa: E402

log = logging.getLogger(__name__)

PLUGIN_ID = "neural-layer-filters"
MENU = "<Image>/Filters/Neural Layer Filters"
SETTINGS_PLACE = "Filters > Neural Layer Filters > Settings"
IMAGE_TYPES = "RGB*, GRAY*"  # grayscale results come back as grayscale layers
SETTINGS = "plug-in-nlf-settings"
RW = GObject.ParamFlags.READWRITE
FILTERS = store.filters()
SETTINGS_FORM = FilterSpec("settings", "Settings", params=session.settings.FORM)


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
    if isinstance(procedure, Gimp.ImageProcedure):
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


class Run(session.Session, session.ProgressLine):
    """One procedure call: the session core's ``Session`` with GIMP's progress bar (the
    ``on_progress`` it gets); connects on first use (auto-starting a local backend)."""

    def __init__(self, label: str) -> None:
        profile = Gimp.directory()
        log_path = os.path.join(profile, session.launch.LOG_NAME)
        session.Session.__init__(self, store.load_settings(profile), SETTINGS_PLACE, log_path)
        bar = (Gimp.progress_set_text, Gimp.progress_update, Gimp.progress_pulse)
        session.ProgressLine.__init__(self, label, *bar)
        self.label, self.on_wait = label, self.text  # in messages / while a backend starts

    def guarded(self, procedure: Any, run_mode: Any, work: Callable[[Run], None]) -> Any:
        """Run ``work(self)``; every failure becomes a readable EXECUTION_ERROR."""
        Gimp.progress_init(self.title + "…")
        try:
            work(self)
        except Exception as exc:  # the action boundary: never crash GIMP
            return fail(procedure, run_mode, self.describe(caught(exc), self.label))
        finally:
            Gimp.progress_end()
            self.forget_client()
        Gimp.displays_flush()
        return result(procedure, Gimp.PDBStatusType.SUCCESS)

    def each(self, count: int, one: Callable, keep_going: bool = False) -> list:
        """Items ``0..count-1`` with overall progress: the session core's ``run_each``."""
        nothing = lambda *a: None  # noqa: E731
        return session.run_each(count, one, self.overall, nothing, lambda: False, keep_going)

    def filter(self, spec: Any, image: Any, drawable: Any, values: Any, report: Any = None):
        """One drawable (+ selection, + layer parameters) through the backend; the named results
        go above it. ``values``: form values (a layer parameter's value is a drawable)."""
        doc = GimpDocument(image, drawable)
        job = session.prepare(doc, spec, values, drawable)
        return session.finish(doc, job, session.execute(self.client(), job, report or self))


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
    try:
        values = session.settings.from_form(read_values(SETTINGS_FORM, config, Colours))
        log.info("settings saved to %s", store.save_settings(profile, values))
    except ValueError as exc:
        return fail(procedure, run_mode, "Settings: %s" % exc)
    except OSError as exc:
        return fail(procedure, run_mode, "Settings: could not save them: %s" % exc)
    return result(procedure, Gimp.PDBStatusType.SUCCESS)


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
