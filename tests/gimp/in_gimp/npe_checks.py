"""In-GIMP check of the Neural Photo Editor procedure (plug-in-nlf-npe).

A photo, a transparent paint layer with one stroke, a rectangular selection as the face box,
the committed default face model (genki64, default settings): the procedure adds one layer right
above the photo that changes inside the box and nowhere outside it, most of the change within
8 px of the stroke (a change spread over the whole box would put 28 % there); the photo and the
paint layer are left as they were. The control: the same run with an empty paint layer changes
nothing.
"""

from gi.repository import Gimp
from harness import (
    PDB,
    PLAN,
    H,
    W,
    add_layer,
    check,
    first_new_layer,
    new_image,
    ok_status,
    pixels,
    run_proc,
    src_u8,
)
from nlf_gimp.arguments import argument_name

SRC = src_u8()

NPE_BOX = (8, 4, 48, 40)  # x, y, w, h of the selection (the face box)
NPE_STROKE = (20, 14, 8, 6)  # x, y, w, h of the stroke on the paint layer
NPE_MODEL = "genki64"  # the committed default model (backend/assets/packs/npe)
NPE_NEAR, NPE_SHARE = 8, 0.6  # at least this share of the change lies within NPE_NEAR px


def _npe_in(rect, x, y, pad=0):
    rx, ry, rw, rh = rect
    return rx - pad <= x < rx + rw + pad and ry - pad <= y < ry + rh + pad


def _npe_run(f, paint_px):
    """Run the procedure on a fresh image with ``paint_px`` as the paint layer; returns
    (result pixels, photo pixels after, paint pixels after, layer count)."""
    img = new_image()
    bg = add_layer(img, "photo", SRC)
    paint = add_layer(img, "paint", paint_px, pos=0)
    img.select_rectangle(Gimp.ChannelOps.REPLACE, *NPE_BOX)
    # the defaults but the trained model; the selection is the face box
    values = {argument_name("model"): NPE_MODEL, argument_name("align"): False}
    layers = {argument_name("paint"): paint}
    status, message = run_proc(f["proc"], img, [bg], values, layers=layers)
    ok_status(status, "npe: %s" % message)
    count = len(list(img.get_layers()))
    out = pixels(first_new_layer(img, bg))
    kept = pixels(bg), pixels(paint)
    img.delete()
    return out, kept[0], kept[1], count


@check("npe_paint_layer")
def _():
    f = next((f for f in PLAN["filters"] if f["id"] == "npe"), None)
    assert f is not None, "the backend offers no npe filter"
    assert f["layer_params"] == ["paint"], f["layer_params"]
    proc = PDB.lookup_procedure(f["proc"])
    names = [a.get_name() for a in proc.get_arguments()]
    assert argument_name("paint") in names, names
    stroke = bytes((40, 30, 20, 255))  # dark brown
    painted = b"".join(
        stroke if _npe_in(NPE_STROKE, x, y) else bytes(4) for y in range(H) for x in range(W)
    )
    out, photo, paint, count = _npe_run(f, painted)
    assert count == 3, "%d layers (one result expected above the photo)" % count
    assert photo == SRC, "the photo layer changed"
    assert paint == painted, "the paint layer changed"
    near, far, outside, changed, total, close = [], [], 0, 0, 0, 0
    for y in range(H):
        for x in range(W):
            i = 4 * (y * W + x)
            d = max(abs(out[i + c] - SRC[i + c]) for c in range(3))
            if not _npe_in(NPE_BOX, x, y):
                outside += out[i : i + 4] != SRC[i : i + 4]
                continue
            changed += d > 2
            total += d
            close += d if _npe_in(NPE_STROKE, x, y, pad=NPE_NEAR) else 0
            if _npe_in(NPE_STROKE, x, y, pad=2):
                near.append(d)
            elif not _npe_in(NPE_STROKE, x, y, pad=10):
                far.append(d)
    assert outside == 0, "%d pixels outside the selection changed" % outside
    assert changed > 100, "only %d pixels of the face box changed" % changed
    share = close / max(total, 1)
    assert sum(near) / len(near) > 2, "little change near the stroke (mean %.1f)" % (
        sum(near) / len(near)
    )
    assert share >= NPE_SHARE, "only %.0f%% of the change lies within %d px of the stroke" % (
        100 * share,
        NPE_NEAR,
    )
    # the control: no stroke on the paint layer, no change
    blank, _, _, _ = _npe_run(f, bytes(4 * W * H))
    moved = max(abs(blank[i] - SRC[i]) for i in range(len(SRC)))
    assert moved <= 1, "an empty paint layer changed the photo (max %d)" % moved
    return (
        "%d face-box pixels changed, %.0f%% of the change within %d px of the stroke; "
        "mean change %.1f near the stroke, %.1f away from it"
        % (changed, 100 * share, NPE_NEAR, sum(near) / len(near), sum(far) / len(far))
    )
