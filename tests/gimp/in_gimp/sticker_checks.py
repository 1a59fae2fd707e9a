"""In-GIMP check of the ``dtn`` face sticker (plug-in-nlf-dtn with a faces → emoji model).

A 512² photo with a GENKI face at (156, 156, 200 px) (PLAN["face"], raw RGBA), a loose
rectangular selection around it, the tiny model PLAN["model"] (a yellow disc) on a backend with
the real face finder: one new layer right above the photo, transparent outside the selection
and in the face square's corners, opaque and yellow at the face's centre, opaque over only part
of the face (the emoji's silhouette); the photo is left as it was.
"""

from gi.repository import Gimp
from harness import PLAN, add_layer, check, first_new_layer, new_image, ok_status, pixels, run_proc
from nlf_gimp.arguments import argument_name
from nlf_gimp.store import procedure_name

SIZE, FACE, BOX = 512, (156, 156, 200), (130, 120, 260, 280)


@check("dtn_sticker")
def _():
    with open(PLAN["face"], "rb") as fh:
        photo = fh.read()
    img = new_image(w=SIZE, h=SIZE)
    bg = add_layer(img, "photo", photo, w=SIZE, h=SIZE)
    img.select_rectangle(Gimp.ChannelOps.REPLACE, *BOX)
    values = {argument_name("model"): PLAN["model"]}
    status, message = run_proc(procedure_name("dtn"), img, [bg], values)
    ok_status(status, "dtn: %s" % message)
    layers = list(img.get_layers())
    assert len(layers) == 2, "layers: %s" % [lay.get_name() for lay in layers]
    assert pixels(bg) == photo, "the photo layer changed"
    out = pixels(first_new_layer(img, bg))
    with open(PLAN["out"] + "/dtn_sticker.rgba", "wb") as fh:
        fh.write(out)
    img.delete()

    def px(x, y):
        return out[4 * (y * SIZE + x) : 4 * (y * SIZE + x) + 4]

    bx, by, bw, bh = BOX
    outside = sum(
        1
        for y in range(0, SIZE, 2)
        for x in range(0, SIZE, 2)
        if not (bx <= x < bx + bw and by <= y < by + bh) and px(x, y)[3] != 0
    )
    assert outside == 0, "%d pixels outside the selection are not transparent" % outside
    fx, fy, fs = FACE
    r, g, b, a = px(fx + fs // 2, fy + fs // 2 - fs // 8)
    assert a > 200 and r > 150 and g > 120 and b < 120, "face centre %s" % ((r, g, b, a),)
    for cx, cy in ((fx + 8, fy + 8), (fx + fs - 9, fy + 8), (fx + 8, fy + fs - 9)):
        assert px(cx, cy)[3] < 30, "face corner (%d, %d) alpha %d" % (cx, cy, px(cx, cy)[3])
    opaque = sum(
        px(x, y)[3] > 128 for y in range(fy, fy + fs, 2) for x in range(fx, fx + fs, 2)
    ) / float((fs // 2) ** 2)
    assert 0.2 < opaque < 0.8, "%.2f of the face square is opaque" % opaque
    return "%.2f of the face square opaque" % opaque
