"""In-GIMP checks of the procedures: registration, every filter, errors, batches, settings."""

import json
import os
import time

from gi.repository import Gimp, Gio
from harness import (
    OUT,
    PDB,
    PLAN,
    SEL,
    H,
    W,
    add_layer,
    check,
    first_new_layer,
    inside,
    invert_expected,
    new_image,
    ok_status,
    pixels,
    run_proc,
    settings,
    src_u8,
)
from nlf_gimp.arguments import argument_name
from nlf_gimp.document import Colours

from nlf_client.session import parse_colour

SRC = src_u8()


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
