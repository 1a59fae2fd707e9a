"""The Krita GUI suite's product scenarios and pixel helpers (imported by gui_suite.py, which
tests/krita/test_gui.py copies beside this file into Krita's reach).

Env: NLF_PRODUCT (JSON {"id": ..., "values": {...}}), NLF_REAL_SERVER (dfi_real), NLF_TEST_OUT.
"""

import json
import os
import struct
import time

OUT = os.environ["NLF_TEST_OUT"]
FACE_CANVAS, FACE_BOX = 512, (156, 156, 200)  # the face canvas; x, y, side of the pasted face
W, H = 96, 64


class Fail(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Fail(message)


def until(cond, timeout, what):
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise Fail("timed out waiting for " + what)
        yield 50


class ProductScenarios:
    """Scenarios with the product filters and the real weights; mixed into gui_suite.Suite."""

    def product(self):
        product = json.loads(os.environ["NLF_PRODUCT"])
        doc, bg = yield from self.new_doc(name="product")
        style = doc.createNode("Style", "paintlayer")
        style.setPixelData(pattern("U8", W, H, seed=7), 0, 0, W, H)
        doc.rootNode().addChildNode(style, bg)
        mask = self.select(doc)
        yield 300
        doc.setActiveNode(bg)
        yield 200
        before = bytes(bg.pixelData(0, 0, W, H))
        self.dock.select_filter(product["id"])
        picker = self.dock.form.widgets["style"]
        picker.showPopup()  # refreshes the layer list like a click would
        picker.hidePopup()
        labels = [picker.itemText(k) for k in range(picker.count())]
        check("Style" in labels and "Background" in labels, "layer picker lists %s" % labels)
        picker.setCurrentIndex(labels.index("Style"))
        yield from self.run_filter(product["id"], product["values"], timeout=150)
        nodes = doc.rootNode().childNodes()
        names = [n.name() for n in nodes]
        i = names.index("Background")
        check(
            names[i + 1].startswith("[NLF] ") and "style=Style" in names[i + 1],
            "layers: %s; message %s" % (names, self.dock.message.text()),
        )
        out = bytes(nodes[i + 1].pixelData(0, 0, W, H))
        check(bytes(bg.pixelData(0, 0, W, H)) == before, "source layer changed")
        changed = 0
        for p in range(W * H):
            if mask[p] == 0:
                check(
                    out[4 * p : 4 * p + 4] == before[4 * p : 4 * p + 4],
                    "outside pixel %d changed" % p,
                )
            elif out[4 * p : 4 * p + 3] != before[4 * p : 4 * p + 3]:
                changed += 1
        check(changed > 100, "only %d pixels changed inside the selection" % changed)
        self.product_doc = doc
        self.product_out = out

    def mrf_colours(self):
        """MRF's ``colours`` set to photo through its combo box: a second layer that keeps the
        source's chroma (photo puts the layer's chroma back; painting, the run before, does not)."""
        doc = self.product_doc
        bg = next(n for n in doc.rootNode().childNodes() if n.name() == "Background")
        mask = bytes(doc.selection().pixelData(0, 0, W, H))
        doc.setActiveNode(bg)
        yield 200
        before = bytes(bg.pixelData(0, 0, W, H))
        product = json.loads(os.environ["NLF_PRODUCT"])
        self.dock.select_filter("mrf")
        self.dock.form.set_values(product["values"])
        self.dock.form.refresh_layers()
        picker = self.dock.form.widgets["style"]
        picker.setCurrentIndex(picker.findText("Style"))
        combo = self.dock.form.widgets["colours"]
        choices = [combo.itemText(k) for k in range(combo.count())]
        check(choices == ["painting", "photo", "unchanged"], "colours choices %s" % choices)
        check(combo.currentText() == "painting", "default " + combo.currentText())
        combo.setCurrentIndex(choices.index("photo"))
        count = len(doc.rootNode().childNodes())
        self.button("nlf_apply").click()
        yield 50
        yield from until(lambda: self.ctl.job is None, 150, "mrf (photo) to finish")
        yield 300
        nodes = doc.rootNode().childNodes()
        names = [n.name() for n in nodes]
        check(len(nodes) == count + 1, "layers: %s; message %s" % (names, self.dock.message.text()))
        i = names.index("Background")
        check(names[i + 1].startswith("[NLF] "), "layers: %s" % names)
        out = bytes(nodes[i + 1].pixelData(0, 0, W, H))
        check(bytes(bg.pixelData(0, 0, W, H)) == before, "source layer changed")

        def keeps_chroma(res):  # share of fully selected pixels with the source's chroma
            kept = full = 0
            for p in range(W * H):
                if mask[p] != 255:
                    continue
                full += 1
                s, o = before[4 * p : 4 * p + 3], res[4 * p : 4 * p + 3]
                kept += all(abs((o[c] - o[c + 1]) - (s[c] - s[c + 1])) <= 4 for c in (0, 1))
            return kept / max(full, 1)

        photo, painting = keeps_chroma(out), keeps_chroma(self.product_out)
        kept = "source chroma kept in %.2f (photo) vs %.2f (painting) of the selection" % (
            photo,
            painting,
        )
        print("mrf_colours: " + kept)
        check(photo > 0.5 and photo > painting + 0.2, kept)
        for p in range(W * H):
            if mask[p] == 0:
                check(out[4 * p : 4 * p + 4] == before[4 * p : 4 * p + 4], "outside %d" % p)

    def _face_canvas(self, name):
        """A 512² canvas holding the GENKI face the test wrote to OUT/dfi_input.bgra (pasted at
        FACE_BOX), opened in a view, with a loose box selected around the face; yields while
        Krita settles and returns (document, background node, selection)."""
        from krita import Selection

        with open(os.path.join(OUT, "dfi_input.bgra"), "rb") as f:
            data = f.read()
        doc = self.app.createDocument(FACE_CANVAS, FACE_CANVAS, name, "RGBA", "U8", "", 72.0)
        bg = doc.rootNode().childNodes()[-1]
        bg.setPixelData(data, 0, 0, FACE_CANVAS, FACE_CANVAS)
        self.app.activeWindow().addView(doc)
        yield 300
        sel = Selection()
        sel.select(130, 120, 260, 280, 255)  # loose: well around the face
        doc.setSelection(sel)
        doc.setActiveNode(bg)
        yield 300
        return doc, bg, sel

    def _one_result_above(self, doc, bg, count, before):
        """The pixels of the one new ``[NLF]`` layer right above ``bg`` (of the face canvas);
        checks that exactly one layer was added and that ``bg`` still holds ``before``."""
        nodes = doc.rootNode().childNodes()
        names = [n.name() for n in nodes]
        check(
            len(nodes) == count + 1,
            "layers: %s; message %s" % (names, self.dock.message.text()),
        )
        i = names.index("Background")
        check(names[i + 1].startswith("[NLF] "), "layers: %s" % names)
        side = FACE_CANVAS
        check(bytes(bg.pixelData(0, 0, side, side)) == before, "source layer changed")
        return bytes(nodes[i + 1].pixelData(0, 0, side, side))

    def dfi_real(self):
        """DFI with the real weights (NLF_REAL_SERVER) on a 512² textured canvas with a GENKI face
        pasted at 200 px (the test writes it to OUT/dfi_input.bgra), through a loose box."""
        size, face = FACE_CANVAS, FACE_BOX
        doc, bg, sel = yield from self._face_canvas("dfi")
        mask = bytes(sel.pixelData(0, 0, size, size))
        before = bytes(bg.pixelData(0, 0, size, size))
        count = len(doc.rootNode().childNodes())
        self.use_server(os.environ["NLF_REAL_SERVER"])
        try:
            yield from until(self.ready, 60, "the real-weights backend")
            check("dfi" in self.ctl.filters, "filters: %s" % sorted(self.ctl.filters))
            yield from self.run_filter("dfi", {}, timeout=180)
            out = self._one_result_above(doc, bg, count, before)
            changed = 0
            for p in range(size * size):
                if mask[p] == 0:
                    check(out[4 * p : 4 * p + 4] == before[4 * p : 4 * p + 4], "outside %d" % p)
                    continue
                x, y = p % size, p // size
                if face[0] <= x < face[0] + face[2] and face[1] <= y < face[1] + face[2]:
                    o, b = out[4 * p : 4 * p + 3], before[4 * p : 4 * p + 3]
                    changed += max(abs(o[c] - b[c]) for c in range(3)) > 2
            print("dfi_real: %d face pixels changed" % changed)
            check(changed > 2000, "only %d pixels of the face changed" % changed)
        finally:
            self.use_server(self.address)
            yield from until(self.ready, 30, "reconnecting")

    def dtn_sticker(self):
        """``dtn`` with a tiny faces → emoji model (NLF_STICKER_MODEL, on NLF_REAL_SERVER: real
        MTCNN) on the 512² canvas with a GENKI face, through a loose box: one new layer, opaque
        on the face in the emoji's disc, transparent around it; the source layer untouched."""
        size, face = FACE_CANVAS, FACE_BOX
        doc, bg, _sel = yield from self._face_canvas("dtn")
        before = bytes(bg.pixelData(0, 0, size, size))
        count = len(doc.rootNode().childNodes())
        self.use_server(os.environ["NLF_REAL_SERVER"])
        try:
            yield from until(self.ready, 60, "the real-weights backend")
            values = {"model": os.environ["NLF_STICKER_MODEL"]}
            yield from self.run_filter("dtn", values, timeout=120)
            out = self._one_result_above(doc, bg, count, before)
            with open(os.path.join(OUT, "dtn_sticker.bgra"), "wb") as f:
                f.write(out)
            check_sticker(out, size, face, (130, 120, 260, 280))
        finally:
            self.use_server(self.address)
            yield from until(self.ready, 30, "reconnecting")

    def screenshot(self):
        """Krita with the docker after a run on a bigger image (docs/krita-docker.png)."""
        from krita import Selection

        w, h = 640, 400
        doc = self.app.createDocument(w, h, "nlf-demo", "RGBA", "U8", "", 72.0)
        bg = doc.rootNode().childNodes()[-1]
        bg.setPixelData(demo_image(w, h), 0, 0, w, h)
        style = doc.createNode("Style", "paintlayer")
        style.setPixelData(pattern("U8", w, h, seed=3), 0, 0, w, h)
        style.setVisible(False)
        doc.rootNode().addChildNode(style, bg)
        self.app.activeWindow().addView(doc)
        yield 300
        sel = Selection()
        sel.select(200, 100, 260, 200, 255)
        doc.setSelection(sel)
        doc.setActiveNode(bg)
        yield 300
        yield from self.run_filter("test_invert", {"amount": 1.0})
        check(self.dock.message.text().startswith("Added"), "message: " + self.dock.message.text())
        self.dock.select_filter("mrf")
        self.dock.form.refresh_layers()
        picker = self.dock.form.widgets["style"]
        picker.setCurrentIndex(max(0, picker.findText("Style")))
        for d in self.app.dockers():
            keep = ("neural_layer_filters_docker", "KisLayerBox")
            if d.objectName() not in keep and d.isVisible():
                d.hide()
        self.dock.show()
        self.dock.raise_()
        yield 1000
        path = os.path.join(OUT, "krita-docker.png")
        check(self.ctx["screenshot"](path), "screenshot failed")


def demo_image(w, h):
    """Soft colour fields with a few discs: something recognisable in a screenshot."""
    discs = [
        (160, 120, 70, (60, 90, 220)),
        (420, 230, 110, (230, 160, 40)),
        (560, 90, 50, (40, 170, 90)),
    ]
    out = bytearray()
    for y in range(h):
        for x in range(w):
            r, g, b = 40 + 150 * x // w, 60 + 120 * y // h, 170 - 100 * x // w
            for cx, cy, rad, col in discs:
                if (x - cx) ** 2 + (y - cy) ** 2 < rad * rad:
                    r, g, b = col
            out += bytes((b, g, r, 255))
    return bytes(out)


def pattern(depth, w, h, seed=0):
    out = bytearray()
    for y in range(h):
        for x in range(w):
            a, b = (x * 2 + seed * 37) % 256, (y * 3 + seed * 11) % 256
            if depth == "U8":
                out += bytes((a, b, 200, 255))
            elif depth == "U16":
                out += struct.pack("<4H", a * 257 + 3, b * 250, 51000, 65535)
            else:
                out += struct.pack("<4e" if depth == "F16" else "<4f", a / 255, b / 255, 0.8, 1.0)
    return bytes(out)


def check_invert_u8(before, out, mask):
    for p, m in enumerate(mask):
        s, o = before[4 * p : 4 * p + 4], out[4 * p : 4 * p + 4]
        if m == 0:
            check(o == s, "outside pixel %d changed: %s -> %s" % (p, tuple(s), tuple(o)))
            continue
        for c in range(3):
            want = s[c] + (255 - 2 * s[c]) * m / 255.0
            check(
                abs(o[c] - want) <= 1.01,
                "pixel %d (mask %d): %s -> %s" % (p, m, tuple(s), tuple(o)),
            )
        check(o[3] == s[3], "alpha changed at %d" % p)


def check_sticker(out, size, face, box):
    """A face sticker (BGRA u8 rows of ``size``): transparent outside the selection ``box``
    (x, y, w, h), opaque and yellow at the face's centre, transparent in the corners of the face
    square (around the disc), and opaque over only part of the face (a silhouette, not a box)."""
    fx, fy, fs = face
    bx, by, bw, bh = box

    def px(x, y):
        return out[4 * (y * size + x) : 4 * (y * size + x) + 4]

    outside = sum(
        1
        for y in range(0, size, 2)
        for x in range(0, size, 2)
        if not (bx <= x < bx + bw and by <= y < by + bh) and px(x, y)[3] != 0
    )
    check(outside == 0, "%d pixels outside the selection are not transparent" % outside)
    b, g, r, a = px(fx + fs // 2, fy + fs // 2 - fs // 8)
    check(a > 200 and r > 150 and g > 120 and b < 120, "face centre %s" % ((r, g, b, a),))
    for cx, cy in ((fx + 8, fy + 8), (fx + fs - 9, fy + 8), (fx + 8, fy + fs - 9)):
        check(px(cx, cy)[3] < 30, "face corner (%d, %d) alpha %d" % (cx, cy, px(cx, cy)[3]))
    opaque = sum(
        px(x, y)[3] > 128 for y in range(fy, fy + fs, 2) for x in range(fx, fx + fs, 2)
    ) / float((fs // 2) ** 2)
    check(0.2 < opaque < 0.8, "%.2f of the face square is opaque" % opaque)
    print("dtn_sticker: %.2f of the face square opaque" % opaque)
