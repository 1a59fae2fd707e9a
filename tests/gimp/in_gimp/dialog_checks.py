# In-GIMP checks of the INTERACTIVE path (GimpUi.ProcedureDialog), run by python-fu-eval in the
# GUI binary gimp-3.x under Xvfb. The plug-in answers its own dialogs because the test sets
# NLF_TEST_DIALOG="proc=ok|cancel,..."; it prints "NLF_DIALOG <proc> <widget types>" for each.
# Writes OUT/dialog_report.json through harness.run_all (see harness.py).
import json
import os
import sys

with open(os.environ["NLF_PLAN"]) as _fh:
    sys.path.insert(0, json.load(_fh)["tests_dir"])

from gi.repository import Gegl, Gimp
from harness import PDB, PLAN, check, run_all

W, H = 32, 24


def image_with_layer():
    img = Gimp.Image.new(W, H, Gimp.ImageBaseType.RGB)
    layer = Gimp.Layer.new(img, "bg", W, H, Gimp.ImageType.RGBA_IMAGE, 100.0, Gimp.LayerMode.NORMAL)
    img.insert_layer(layer, None, 0)
    data = [bytes((x * 8 % 256, y * 10 % 256, 50, 255)) for y in range(H) for x in range(W)]
    buf = layer.get_buffer()
    buf.set(Gegl.Rectangle.new(0, 0, W, H), "R'G'B'A u8", b"".join(data))
    buf.flush()
    return img, layer


def interactive(name, img=None, layer=None):
    proc = PDB.lookup_procedure(name)
    assert proc is not None, name
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
    if img is not None:
        cfg.set_property("image", img)
        cfg.set_core_object_array("drawables", [layer])
    res = proc.run(cfg)
    return res.index(0), (res.index(1) if res.length() > 1 else "")


@check("dialog_ok_runs_filter")
def _():
    img, layer = image_with_layer()
    status, message = interactive("plug-in-nlf-test-invert", img, layer)
    assert status == Gimp.PDBStatusType.SUCCESS, (status, message)
    assert len(img.get_layers()) == 2, [lay.get_name() for lay in img.get_layers()]
    return "layers %s" % [lay.get_name() for lay in img.get_layers()]


@check("dialog_cancel_changes_nothing")
def _():
    img, layer = image_with_layer()
    status, _ = interactive("plug-in-nlf-test-slow", img, layer)
    assert status == Gimp.PDBStatusType.CANCEL, status
    assert len(img.get_layers()) == 1
    return "cancelled"


@check("dialogs_for_every_filter")
def _():
    seen = []
    assert PLAN["dialog_cancel"], "no filter dialogs in the plan: nothing to check"
    for proc in PLAN["dialog_cancel"]:
        img, layer = image_with_layer()
        status, message = interactive(proc, img, layer)
        assert status == Gimp.PDBStatusType.CANCEL, (proc, status, message)
        seen.append(proc)
    return seen


@check("settings_dialog")
def _():
    status, message = interactive("plug-in-nlf-settings")
    assert status == Gimp.PDBStatusType.SUCCESS, (status, message)
    with open("/opt/nlf/profile/neural-layer-filters.json") as fh:
        saved = json.load(fh)
    assert saved["address"] == "127.0.0.1:5" and saved["autostart"] is False, saved
    assert saved["connect_timeout"] == 2, saved
    return saved


run_all("dialog_report.json", "NLF_GIMP_DIALOG_CHECKS_OK")
