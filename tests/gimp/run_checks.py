# In-GIMP checks of the Neural Layer Filters plug-in, executed by python-fu-eval:
#   gimp-console-3.0 -i --no-data --no-fonts --batch-interpreter=python-fu-eval \
#       -b 'exec(open("/opt/nlf/tests/run_checks.py").read())' --quit
# Reads the plan NLF_PLAN (JSON, written by tests/test_gimp_real.py), runs every check, writes
# OUT/report.json = {"checks": {name: {"ok": bool, "detail": str, "seconds": float}}} and raises
# at the end when a check failed (gimp-console then exits with status 64).
import json
import os
import struct
import sys
import time
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402

with open(os.environ["NLF_PLAN"]) as _fh:
    PLAN = json.load(_fh)
OUT = PLAN["out"]
sys.path.insert(0, PLAN["plugin_dir"])
from nlf_gimp.arguments import argument_name, parse_colour  # noqa: E402
from nlf_gimp.document import Colours  # noqa: E402

W, H = 64, 48
SEL = (16, 8, 24, 16)  # x, y, w, h of the rectangular selection
U8, U16, F32 = "R'G'B'A u8", "R'G'B'A u16", "R'G'B'A float"
PDB = Gimp.get_pdb()
REPORT = {"checks": {}}


def check(name):
    def deco(fn):
        t0 = time.monotonic()
        try:
            detail = fn() or ""
            ok = True
        except Exception as exc:
            ok, detail = False, "%s\n%s" % (exc, traceback.format_exc())
        REPORT["checks"][name] = {
            "ok": ok,
            "detail": str(detail),
            "seconds": round(time.monotonic() - t0, 3),
        }
        print(
            "CHECK %s %s (%.2fs) %s"
            % ("ok" if ok else "FAILED", name, time.monotonic() - t0, str(detail)[:300]),
            flush=True,
        )
        return fn

    return deco


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


settings(PLAN["server"])
SRC = src_u8()
RESULT_IMAGE = {}


@check("procedures_registered")
def _():
    assert PLAN["filters"], "the plan lists no filters"
    missing = [f["proc"] for f in PLAN["filters"] if not PDB.procedure_exists(f["proc"])]
    for extra in ("plug-in-nlf-batch-layers", "plug-in-nlf-batch-folder", "plug-in-nlf-settings"):
        if not PDB.procedure_exists(extra):
            missing.append(extra)
    assert not missing, "not registered: %s" % missing
    proc = PDB.lookup_procedure("plug-in-nlf-test-invert")
    names = [p.get_name() for p in proc.get_arguments()]
    assert "amount" in names, names
    return "%d filter procedures" % len(PLAN["filters"])


@check("invert_u8_rect_selection")
def _():
    img = new_image()
    bg = add_layer(img, "bg", SRC)
    img.select_rectangle(Gimp.ChannelOps.REPLACE, *SEL)
    status, message = run_proc("plug-in-nlf-test-invert", img, [bg], {"amount": 1.0})
    ok_status(status, message)
    layers = list(img.get_layers())
    assert [lay.get_name() for lay in layers][1:] == ["bg"], [lay.get_name() for lay in layers]
    assert len(layers) == 2, [lay.get_name() for lay in layers]
    new = layers[0]
    assert new.get_offsets()[1:] == bg.get_offsets()[1:]
    out = pixels(new)
    bad = sum(
        out[4 * (y * W + x) : 4 * (y * W + x) + 4] != invert_expected(SRC, x, y)
        for y in range(H)
        for x in range(W)
    )
    assert bad == 0, "%d pixels differ from inverted-inside / identical-outside" % bad
    assert pixels(bg) == SRC, "the source layer changed"
    RESULT_IMAGE["img"], RESULT_IMAGE["new"] = img, new
    return "layers %s" % [lay.get_name() for lay in layers]


@check("export_png")
def _():
    img, new = RESULT_IMAGE["img"], RESULT_IMAGE["new"]
    for lay in img.get_layers():
        lay.set_visible(lay.get_id() == new.get_id())
    png = os.path.join(OUT, "invert.png")
    assert Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, img, Gio.File.new_for_path(png), None)
    assert Gimp.file_save(
        Gimp.RunMode.NONINTERACTIVE,
        img,
        Gio.File.new_for_path(os.path.join(OUT, "invert.xcf")),
        None,
    )
    img2 = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(png))
    got = pixels(img2.get_layers()[0])
    img2.delete()
    assert got == pixels(new), "re-loaded PNG differs from the result layer"
    return png


@check("last_values")
def _():
    img = new_image()
    bg = add_layer(img, "bg", SRC)
    status, message = run_proc("plug-in-nlf-test-invert", img, [bg], {"amount": 0.5})
    ok_status(status, message)
    first = pixels(img.get_layers()[0])
    status, message = run_proc(
        "plug-in-nlf-test-invert", img, [bg], run_mode=Gimp.RunMode.WITH_LAST_VALS
    )
    ok_status(status, message)
    layers = list(img.get_layers())
    assert len(layers) == 3, [lay.get_name() for lay in layers]
    names = [lay.get_name() for lay in layers]
    assert pixels(layers[0]) == first, "WITH_LAST_VALS did not reuse amount=0.5: %s" % names
    assert pixels(layers[0]) != pixels(bg)
    return "layers %s" % names


def precision_check(precision, fmt, size, pack, maxval, tol):
    img = new_image(precision)
    vals = [
        ((x * 997 + y * 131 + c * 7919) % 1000) / 999.0
        for y in range(H)
        for x in range(W)
        for c in range(3)
    ]
    data = bytearray()
    for i in range(W * H):
        r, g, b = vals[3 * i : 3 * i + 3]
        data += pack(r, g, b, 1.0)
    bg = add_layer(img, "bg", bytes(data), fmt)
    img.select_rectangle(Gimp.ChannelOps.REPLACE, *SEL)
    before = pixels(bg, fmt)
    status, message = run_proc("plug-in-nlf-test-invert", img, [bg], {"amount": 1.0})
    ok_status(status, message)
    out = pixels(img.get_layers()[0], fmt)
    assert pixels(bg, fmt) == before, "the source layer changed"
    bad_out = bad_in = 0
    worst = 0.0
    for y in range(H):
        for x in range(W):
            i = size * (y * W + x)
            if not inside(x, y):
                bad_out += out[i : i + size] != before[i : i + size]
            else:
                a = struct.unpack(unpack_fmt(size), before[i : i + size])
                b = struct.unpack(unpack_fmt(size), out[i : i + size])
                for c in range(3):
                    err = abs((maxval - a[c]) - b[c])
                    worst = max(worst, err)
                    bad_in += err > tol
    assert bad_out == 0, "%d pixels outside the selection changed" % bad_out
    assert bad_in == 0, "%d channels inside are not inverted (worst error %g)" % (bad_in, worst)
    return "worst inside error %g" % worst


def unpack_fmt(size):
    return {8: "=4H", 16: "=4f"}[size]


@check("invert_u16_precision")
def _():
    return precision_check(
        Gimp.Precision.U16_NON_LINEAR,
        U16,
        8,
        lambda r, g, b, a: struct.pack("=4H", *(round(v * 65535) for v in (r, g, b, a))),
        65535,
        1,
    )


@check("invert_float_precision")
def _():
    return precision_check(
        Gimp.Precision.FLOAT_NON_LINEAR,
        F32,
        16,
        lambda r, g, b, a: struct.pack("=4f", r, g, b, a),
        1.0,
        1e-5,
    )


@check("invert_linear_light")
def _():
    """A linear-light (32-bit float linear) image: the plug-in converts to sRGB-encoded values
    and back; inside is inverted in that encoding, outside equal up to float rounding."""
    img = new_image(Gimp.Precision.FLOAT_LINEAR)
    data = b"".join(
        struct.pack("=4f", ((x * 37 + y * 11) % 97) / 96.0, x / (W - 1.0), y / (H - 1.0), 1.0)
        for y in range(H)
        for x in range(W)
    )
    bg = add_layer(img, "bg", data, F32)
    assert "LINEAR" in img.get_precision().value_name, img.get_precision().value_name
    assert "NON_LINEAR" not in img.get_precision().value_name
    img.select_rectangle(Gimp.ChannelOps.REPLACE, *SEL)
    before = pixels(bg, F32)
    status, message = run_proc("plug-in-nlf-test-invert", img, [bg], {"amount": 1.0})
    ok_status(status, message)
    out = pixels(img.get_layers()[0], F32)
    assert pixels(bg, F32) == before, "the source layer changed"
    worst_in = worst_out = 0.0
    for y in range(H):
        for x in range(W):
            i = 16 * (y * W + x)
            a = struct.unpack("=4f", before[i : i + 16])
            b = struct.unpack("=4f", out[i : i + 16])
            for c in range(3):
                if inside(x, y):
                    worst_in = max(worst_in, abs((1.0 - a[c]) - b[c]))
                else:
                    worst_out = max(worst_out, abs(a[c] - b[c]))
    assert worst_out < 1e-4, "outside changed by up to %g" % worst_out
    assert worst_in < 1e-4, "inside not inverted in sRGB encoding (worst error %g)" % worst_in
    return "worst error inside %g, outside %g" % (worst_in, worst_out)


@check("grayscale_image")
def _():
    """A grayscale image: the result is a grayscale layer, inverted inside, identical outside."""
    img = Gimp.Image.new(W, H, Gimp.ImageBaseType.GRAY)
    graya = Gimp.ImageType.GRAYA_IMAGE
    layer = Gimp.Layer.new(img, "bg", W, H, graya, 100.0, Gimp.LayerMode.NORMAL)
    img.insert_layer(layer, None, 0)
    gray = bytes(v for y in range(H) for x in range(W) for v in ((x * 4 + y * 3) % 256, 255))
    buf = layer.get_buffer()
    buf.set(Gegl.Rectangle.new(0, 0, W, H), "Y'A u8", gray)
    buf.flush()
    img.select_rectangle(Gimp.ChannelOps.REPLACE, *SEL)
    status, message = run_proc("plug-in-nlf-test-invert", img, [layer], {"amount": 1.0})
    ok_status(status, message)
    new = img.get_layers()[0]
    assert new.get_id() != layer.get_id(), "no new layer on top"
    assert new.type() == Gimp.ImageType.GRAYA_IMAGE, new.type()
    got = bytes(
        new.get_buffer().get(Gegl.Rectangle.new(0, 0, W, H), 1.0, "Y'A u8", Gegl.AbyssPolicy.NONE)
    )
    bad_in = bad_out = 0
    for y in range(H):
        for x in range(W):
            i = 2 * (y * W + x)
            want = 255 - gray[i] if inside(x, y) else gray[i]
            if inside(x, y):
                bad_in += abs(got[i] - want) > 1 or got[i + 1] != 255
            else:
                bad_out += got[i : i + 2] != gray[i : i + 2]
    assert bad_out == 0, "%d pixels outside the selection changed" % bad_out
    assert bad_in == 0, "%d pixels inside are not inverted" % bad_in
    return "grayscale layer, inverted inside (within 1), identical outside"


@check("feathered_selection")
def _():
    img = new_image()
    bg = add_layer(img, "bg", SRC)
    img.select_ellipse(Gimp.ChannelOps.REPLACE, 12, 6, 40, 36)
    Gimp.Selection.feather(img, 8.0)
    mask = bytes(
        img.get_selection()
        .get_buffer()
        .get(Gegl.Rectangle.new(0, 0, W, H), 1.0, "Y u8", Gegl.AbyssPolicy.NONE)
    )
    partial = sum(1 for m in mask if 0 < m < 255)
    assert partial > 50, "feathering gave only %d partial pixels" % partial
    status, message = run_proc("plug-in-nlf-test-invert", img, [bg], {"amount": 1.0})
    ok_status(status, message)
    out = pixels(img.get_layers()[0])
    bad = 0
    for i, m in enumerate(mask):
        for c in range(3):
            s, o = SRC[4 * i + c], out[4 * i + c]
            want = (s * (255 - m) + (255 - s) * m) / 255.0
            if m == 0:
                bad += o != s
            elif abs(o - want) > 1.5:
                bad += 1
    assert bad == 0, "%d channels differ from the coverage-weighted blend" % bad
    return "%d partially selected pixels kept their coverage" % partial


@check("product_filters")
def _():
    done = []
    for f in PLAN["filters"]:
        if not f.get("product"):
            continue
        img = new_image()
        bg = add_layer(img, "bg", SRC)
        layer_items = {}
        for pname in f.get("layer_params", []):
            layer_items[argument_name(pname)] = add_layer(
                img, pname, src_u8(seed=len(pname) * 7), pos=len(list(img.get_layers()))
            )
        img.select_rectangle(Gimp.ChannelOps.REPLACE, *SEL)
        values = {}
        for pname, (kind, value) in f["params"].items():
            if kind == "colour":
                value = Colours.to_gegl(parse_colour(value))
            elif kind == "float":
                value = float(value)
            values[argument_name(pname)] = value
        n_before = len(list(img.get_layers()))
        t0 = time.monotonic()
        status, message = run_proc(f["proc"], img, [bg], values, layers=layer_items)
        ok_status(status, "%s: %s" % (f["id"], message))
        layers = list(img.get_layers())
        created = len(layers) - n_before
        assert created >= 1, "%s created no layer" % f["id"]
        assert pixels(bg) == SRC, "%s changed the source layer" % f["id"]
        ids = [lay.get_id() for lay in layers]
        assert ids.index(bg.get_id()) == created, (
            "%s: results are not right above the source" % (f["id"])
        )
        for new in layers[:created]:
            out = pixels(new)
            outside_bad = changed = 0
            for y in range(H):
                for x in range(W):
                    i = 4 * (y * W + x)
                    if inside(x, y):
                        changed += out[i : i + 3] != SRC[i : i + 3]
                    else:
                        outside_bad += out[i : i + 4] != SRC[i : i + 4]
            assert outside_bad == 0, "%s '%s': %d pixels outside changed" % (
                f["id"],
                new.get_name(),
                outside_bad,
            )
            assert changed > 0, "%s '%s': nothing changed inside" % (f["id"], new.get_name())
        done.append("%s: %d layer(s) %.1fs" % (f["id"], created, time.monotonic() - t0))
        img.delete()
    assert done, "no product filter in the plan: nothing was checked"
    return "; ".join(done)


def keeps_chroma(out, src):
    """The share of selected pixels whose chroma (channel differences) is the source's."""
    kept = full = 0
    for y in range(H):
        for x in range(W):
            if inside(x, y):
                i = 4 * (y * W + x)
                o, s = out[i : i + 3], src[i : i + 3]
                full += 1
                kept += all(abs((o[c] - o[c + 1]) - (s[c] - s[c + 1])) <= 4 for c in (0, 1))
    return kept / full


@check("mrf_colours")
def _():
    f = next(f for f in PLAN["filters"] if f["id"] == "mrf")
    proc = PDB.lookup_procedure(f["proc"])
    spec = next((a for a in proc.get_arguments() if a.get_name() == "colours"), None)
    assert spec is not None, "%s has no colours argument" % f["proc"]
    nicks = list(Gimp.param_spec_choice_get_choice(spec).list_nicks())
    assert nicks == ["painting", "photo", "unchanged"], nicks
    assert Gimp.param_spec_choice_get_default(spec) == "painting"
    kept = {}
    for colours in ("painting", "photo"):
        img = new_image()
        bg = add_layer(img, "bg", SRC)
        style = add_layer(img, "style", src_u8(seed=35), pos=1)
        img.select_rectangle(Gimp.ChannelOps.REPLACE, *SEL)
        values = {argument_name(k): v for k, (_, v) in f["params"].items()}
        values[argument_name("colours")] = colours
        values[argument_name("content_weight")] = 0.0  # pure style: the selection changes
        layers = {argument_name("style"): style}
        status, message = run_proc(f["proc"], img, [bg], values, layers=layers)
        ok_status(status, "mrf colours=%s: %s" % (colours, message))
        layers = list(img.get_layers())
        assert len(layers) == 3, [lay.get_name() for lay in layers]
        out = pixels(first_new_layer(img, bg))
        for y in range(H):
            for x in range(W):
                i = 4 * (y * W + x)
                if not inside(x, y):
                    assert out[i : i + 4] == SRC[i : i + 4], "outside (%d, %d) changed" % (x, y)
        kept[colours] = keeps_chroma(out, SRC)
        img.delete()
    detail = "source chroma kept in %.2f (photo) vs %.2f (painting) of the selection" % (
        kept["photo"],
        kept["painting"],
    )
    assert kept["photo"] > 0.5 and kept["photo"] > kept["painting"] + 0.2, detail
    return detail


@check("invalid_value_error")
def _():
    f = next((f for f in PLAN["filters"] if f.get("dynamic_param")), None)
    if f is None:
        return "no filter with a dynamic choice in the plan"
    img = new_image()
    bg = add_layer(img, "bg", SRC)
    status, message = run_proc(
        f["proc"], img, [bg], {argument_name(f["dynamic_param"]): "no-such-item"}
    )
    assert status == Gimp.PDBStatusType.EXECUTION_ERROR, status
    assert "no-such-item" in str(message), message
    assert len(list(img.get_layers())) == 1, "a failed run added layers"
    return str(message)


@check("missing_required_layer")
def _():
    f = next((f for f in PLAN["filters"] if f.get("required_layer")), None)
    if f is None:
        return "no filter with a required layer parameter in the plan"
    img = new_image()
    bg = add_layer(img, "bg", SRC)
    status, message = run_proc(f["proc"], img, [bg])
    assert status == Gimp.PDBStatusType.EXECUTION_ERROR, status
    assert "choose a layer" in str(message) and f["required_layer"] in str(message), message
    assert len(list(img.get_layers())) == 1
    return str(message)


@check("batch_layers")
def _():
    img = new_image()
    bg = add_layer(img, "bg", SRC)
    top_src = src_u8(seed=11)
    top = add_layer(img, "top", top_src)
    img.select_rectangle(Gimp.ChannelOps.REPLACE, *SEL)
    proc = PDB.lookup_procedure("plug-in-nlf-batch-layers")
    assert proc is not None
    status, message = run_proc(
        "plug-in-nlf-batch-layers",
        img,
        [top],
        {"filter": "test_invert", "params": json.dumps({"amount": 1.0})},
    )
    ok_status(status, message)
    layers = list(img.get_layers())
    names = [lay.get_name() for lay in layers]
    assert len(layers) == 4, names
    assert layers[1].get_id() == top.get_id() and layers[3].get_id() == bg.get_id(), names
    for new, src in ((layers[0], top_src), (layers[2], SRC)):
        out = pixels(new)
        bad = sum(
            out[4 * (y * W + x) : 4 * (y * W + x) + 4] != invert_expected(src, x, y)
            for y in range(H)
            for x in range(W)
        )
        assert bad == 0, "%s: %d pixels wrong" % (new.get_name(), bad)
    return "layers %s" % names


@check("batch_folder")
def _():
    in_dir, out_dir = PLAN["batch_in"], os.path.join(OUT, "batch")
    status, message = run_proc(
        "plug-in-nlf-batch-folder",
        None,
        None,
        {
            "filter": "test_invert",
            "params": json.dumps({"amount": 1.0}),
            "input-folder": Gio.File.new_for_path(in_dir),
            "output-folder": Gio.File.new_for_path(out_dir),
        },
    )
    ok_status(status, message)
    return sorted(os.listdir(out_dir))


@check("large_layer_1024")
def _():
    n, (sx, sy, sw, sh) = 1024, (100, 100, 600, 400)
    src = bytearray(bytes(range(256)) * (4 * n * n // 256))
    src[3::4] = b"\xff" * (n * n)
    src = bytes(src)
    img = new_image(w=n, h=n)
    bg = add_layer(img, "bg", src, w=n, h=n)
    img.select_rectangle(Gimp.ChannelOps.REPLACE, sx, sy, sw, sh)
    t0 = time.monotonic()
    status, message = run_proc("plug-in-nlf-test-invert", img, [bg], {"amount": 1.0})
    took = time.monotonic() - t0
    ok_status(status, message)
    out = pixels(img.get_layers()[0])
    row = 4 * n
    for y in range(n):
        a, b = out[y * row : (y + 1) * row], src[y * row : (y + 1) * row]
        if not sy <= y < sy + sh:
            assert a == b, "row %d outside the selection changed" % y
            continue
        assert a[: 4 * sx] == b[: 4 * sx] and a[4 * (sx + sw) :] == b[4 * (sx + sw) :], y
        inner_a, inner_b = a[4 * sx : 4 * (sx + sw)], b[4 * sx : 4 * (sx + sw)]
        assert inner_a[3::4] == inner_b[3::4], "alpha changed in row %d" % y
        for c in range(3):
            assert inner_a[c::4] == bytes(255 - v for v in inner_b[c::4]), (y, c)
    img.delete()
    return "1024x1024 u8 layer, 600x400 selection: procedure call %.2fs" % took


SCRIPT_FU = """
(let* ((img (car (gimp-image-new 32 24 RGB)))
       (layer (car (gimp-layer-new img "sf-bg" 32 24 RGBA-IMAGE 100 LAYER-MODE-NORMAL))))
  (gimp-image-insert-layer img layer 0 0)
  (gimp-drawable-fill layer FILL-WHITE)
  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 4 4 8 8)
  (plug-in-nlf-test-invert RUN-NONINTERACTIVE img (vector layer) 1.0))
"""


@check("script_fu")
def _():
    proc = PDB.lookup_procedure("plug-in-script-fu-eval")
    assert proc is not None, "Script-Fu is not available"
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("script", SCRIPT_FU)
    res = proc.run(cfg)
    ok_status(res.index(0), res.index(1) if res.length() > 1 else "")
    img = max(Gimp.get_images(), key=lambda i: i.get_id())
    layers = list(img.get_layers())
    names = [lay.get_name() for lay in layers]
    assert names[1:] == ["sf-bg"], names
    out = pixels(layers[0])
    for y in range(24):
        for x in range(32):
            px = out[4 * (32 * y + x) : 4 * (32 * y + x) + 4]
            want = b"\x00\x00\x00\xff" if 4 <= x < 12 and 4 <= y < 12 else b"\xff" * 4
            assert px == want, (x, y, px)
    img.delete()
    return "Script-Fu call: layers %s" % names


@check("token")
def _():
    try:
        settings(PLAN["token_server"], PLAN["token"])
        img = new_image()
        bg = add_layer(img, "bg", SRC)
        status, message = run_proc("plug-in-nlf-test-invert", img, [bg], {"amount": 1.0})
        ok_status(status, message)
        assert len(list(img.get_layers())) == 2
        settings(PLAN["token_server"], "wrong-token")
        status, message = run_proc("plug-in-nlf-test-invert", img, [bg], {"amount": 1.0})
        assert status == Gimp.PDBStatusType.EXECUTION_ERROR, status
        assert "token" in str(message), message
        assert len(list(img.get_layers())) == 2, "a refused run added layers"
    finally:
        settings(PLAN["server"])
    return str(message)


@check("backend_down_error")
def _():
    settings(PLAN["dead_server"])
    try:
        img = new_image()
        bg = add_layer(img, "bg", SRC)
        t0 = time.monotonic()
        status, message = run_proc("plug-in-nlf-test-invert", img, [bg], {"amount": 1.0})
        took = time.monotonic() - t0
        assert status == Gimp.PDBStatusType.EXECUTION_ERROR, status
        text = str(message)
        assert "cannot reach" in text and PLAN["dead_server"] in text, text
        assert len(list(img.get_layers())) == 1, "a failed run added layers"
    finally:
        settings(PLAN["server"])
    return "%.1fs: %s" % (took, text)


with open("/opt/nlf/tests/npe_checks.py") as _fh:  # the npe procedure: tests/gimp/npe_checks.py
    exec(_fh.read())

with open(os.path.join(OUT, "report.json"), "w") as fh:
    json.dump(REPORT, fh, indent=2)
failed = [k for k, v in REPORT["checks"].items() if not v["ok"]]
assert not failed, "failed checks: %s" % failed
print("NLF_GIMP_CHECKS_OK", flush=True)
