"""In-GIMP checks of pixels: selections, precisions, colour modes, exports, large layers."""

import os
import struct
import time

from gi.repository import Gegl, Gimp, Gio
from harness import (
    F32,
    OUT,
    SEL,
    U16,
    H,
    W,
    add_layer,
    check,
    inside,
    invert_expected,
    new_image,
    ok_status,
    pixels,
    run_proc,
    src_u8,
)

SRC = src_u8()
RESULT_IMAGE = {}


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
