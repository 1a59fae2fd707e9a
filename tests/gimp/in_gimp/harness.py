"""What the in-GIMP check scripts share (imported inside GIMP by run_checks.py, dialog_checks.py).

The plan NLF_PLAN (JSON, written by tests/gimp/test_real.py) names the backend, the output folder
and the filters; :func:`check` registers a check, :func:`run_all` runs the registered checks in
order and writes OUT/<report> = {"checks": {name: {"ok": bool, "detail": str, "seconds": float}}},
then raises when a check failed (GIMP then exits with status 64).
"""

import json
import os
import sys
import time
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp  # noqa: E402

with open(os.environ["NLF_PLAN"]) as _fh:
    PLAN = json.load(_fh)
OUT = PLAN["out"]
sys.path.insert(0, PLAN["plugin_dir"])

W, H = 64, 48
SEL = (16, 8, 24, 16)  # x, y, w, h of the rectangular selection
U8, U16, F32 = "R'G'B'A u8", "R'G'B'A u16", "R'G'B'A float"
PDB = Gimp.get_pdb()
CHECKS = []


def check(name):
    """Register ``fn`` as the check ``name`` (run later by :func:`run_all`)."""

    def deco(fn):
        CHECKS.append((name, fn))
        return fn

    return deco


def run_all(report_name, ok_marker):
    report = {"checks": {}}
    for name, fn in CHECKS:
        t0 = time.monotonic()
        try:
            detail, ok = fn() or "", True
        except Exception as exc:
            ok, detail = False, "%s\n%s" % (exc, traceback.format_exc())
        took = time.monotonic() - t0
        report["checks"][name] = {"ok": ok, "detail": str(detail), "seconds": round(took, 3)}
        status = "ok" if ok else "FAILED"
        print("CHECK %s %s (%.2fs) %s" % (status, name, took, str(detail)[:300]), flush=True)
    with open(os.path.join(OUT, report_name), "w") as fh:
        json.dump(report, fh, indent=2)
    failed = [k for k, v in report["checks"].items() if not v["ok"]]
    assert not failed, "failed checks: %s" % failed
    print(ok_marker, flush=True)


def src_u8(w=W, h=H, seed=0):
    return b"".join(
        bytes(((x * 4 + seed) % 256, (y * 5 + 3 * seed) % 256, (x * y + seed) % 256, 255))
        for y in range(h)
        for x in range(w)
    )


def new_image(precision=None, w=W, h=H):
    if precision is None:
        img = Gimp.Image.new(w, h, Gimp.ImageBaseType.RGB)
    else:
        img = Gimp.Image.new_with_precision(w, h, Gimp.ImageBaseType.RGB, precision)
    return img


def add_layer(img, name, data, fmt=U8, w=W, h=H, pos=0):
    layer = Gimp.Layer.new(img, name, w, h, Gimp.ImageType.RGBA_IMAGE, 100.0, Gimp.LayerMode.NORMAL)
    img.insert_layer(layer, None, pos)
    buf = layer.get_buffer()
    buf.set(Gegl.Rectangle.new(0, 0, w, h), fmt, data)
    buf.flush()
    return layer


def pixels(layer, fmt=U8):
    w, h = layer.get_width(), layer.get_height()
    return bytes(
        layer.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, fmt, Gegl.AbyssPolicy.NONE)
    )


def inside(x, y):
    sx, sy, sw, sh = SEL
    return sx <= x < sx + sw and sy <= y < sy + sh


def run_proc(name, img, drawables, values=None, run_mode=Gimp.RunMode.NONINTERACTIVE, layers=None):
    proc = PDB.lookup_procedure(name)
    assert proc is not None, "procedure %s is not registered" % name
    cfg = proc.create_config()
    cfg.set_property("run-mode", run_mode)
    if img is not None:
        cfg.set_property("image", img)
        cfg.set_core_object_array("drawables", drawables)
    for key, value in (values or {}).items():
        cfg.set_property(key, value)
    for key, layer in (layers or {}).items():
        cfg.set_property(key, layer)
    res = proc.run(cfg)
    status = res.index(0)
    message = res.index(1) if res.length() > 1 else ""
    return status, message


def ok_status(status, message):
    assert status == Gimp.PDBStatusType.SUCCESS, "status %s: %s" % (status.value_nick, message)


def invert_expected(src, x, y, w=W):
    i = 4 * (y * w + x)
    if inside(x, y):
        return bytes(255 - v for v in src[i : i + 3]) + src[i + 3 : i + 4]
    return src[i : i + 4]


def settings(address, token=""):
    status, message = run_proc(
        "plug-in-nlf-settings",
        None,
        None,
        {"address": address, "token": token, "autostart": False},
    )
    ok_status(status, message)


def first_new_layer(img, source):
    """The layer right above ``source`` (results go there)."""
    layers = list(img.get_layers())
    ids = [lay.get_id() for lay in layers]
    pos = ids.index(source.get_id())
    assert pos > 0, "no layer above the source: %s" % [lay.get_name() for lay in layers]
    return layers[pos - 1]
