"""Live painting ("Paint with NPE") inside real Krita: loaded by gui_suite.py (same folder).

The scenario switches the docker's live mode on and paints strokes the way a script can: by
writing pixel data into the paint layer. Nothing is clicked between strokes. It checks that
the one result layer is refreshed in place, changes near the stroke and nowhere outside the
selection, that a second stroke accumulates (the backend's state is carried), that restoring
the paint layer (an undo) restores the earlier result without a run, and that Reset starts
from the photo again.

Env: NLF_LIVE (JSON {"id": "npe", "values": {...}}: the filter and its fast test values).
"""

import json
import os
import time

W, H = 96, 80
BOX = (16, 8, 64, 64)  # x, y, w, h: the selection, taken as the face box
DABS = ((30, 24), (60, 58))  # where the two strokes go (top-left corners of 10x6 blocks)


def _stroke(paint, corner, bgr):
    x, y = corner
    paint.setPixelData(bytes((*bgr, 255)) * 60, x, y, 10, 6)


def _near(p, corner, pad):
    x, y = p % W, p // W
    return (
        corner[0] - pad <= x < corner[0] + 10 + pad and corner[1] - pad <= y < corner[1] + 6 + pad
    )


def _in_box(p):
    x, y = p % W, p // W
    return BOX[0] <= x < BOX[0] + BOX[2] and BOX[1] <= y < BOX[1] + BOX[3]


def _diff(a, b, p):
    return max(abs(a[4 * p + c] - b[4 * p + c]) for c in range(3))


def scenarios(suite, check, until, pattern):
    """[(name, scenario)] for gui_suite's list."""

    def live_paint():
        try:
            yield from _live_paint()
        finally:  # never leave live mode on for the next scenario
            suite.dock.live.toggle.setChecked(False)

    def _live_paint():
        from krita import Selection

        spec = json.loads(os.environ["NLF_LIVE"])
        yield from until(suite.ready, 30, "the docker to list filters")
        check(spec["id"] in suite.ctl.filters, "filters: %s" % sorted(suite.ctl.filters))
        doc, bg = yield from suite.new_doc(name="live", w=W, h=H)
        paint = doc.createNode("Paint", "paintlayer")  # transparent
        doc.rootNode().addChildNode(paint, bg)
        sel = Selection()
        sel.select(*BOX, 255)
        doc.setSelection(sel)
        yield 300
        doc.setActiveNode(bg)
        yield 200
        photo = bytes(bg.pixelData(0, 0, W, H))
        dock = suite.dock
        dock.select_filter(spec["id"])
        dock.form.set_values(spec["values"])
        dock.form.refresh_layers()
        picker = dock.form.widgets["paint"]
        picker.setCurrentIndex(picker.findText("Paint"))
        check(dock.live.isVisible(), "the live row is hidden for " + spec["id"])
        dock.live.toggle.setChecked(False)  # a fresh session, whatever ran before
        dock.live.toggle.setChecked(True)
        session = dock.live.session
        check(session is not None, "live mode did not start: " + dock.live.status.text())
        log = []  # what the session said, for failure messages
        t_start = time.time()
        session.refreshed.connect(
            lambda text: log.append("%.2f %s" % (time.time() - t_start, text))
        )
        count = len(doc.rootNode().childNodes())
        yield 600
        check(session.runs == 0, "a run without a stroke")

        def live_layers():
            return [n for n in doc.rootNode().childNodes() if n.name().endswith("(live)")]

        timings = []

        def stroke_and_wait(corner, bgr, runs):
            t0 = time.time()
            _stroke(paint, corner, bgr)
            yield from until(lambda: session.runs == runs, 90, "live run %d" % runs)
            timings.append(time.time() - t0)
            yield 200
            check(len(doc.rootNode().childNodes()) == count + 1, "layers: %s" % names(doc))
            check(len(live_layers()) == 1, "live layers: %s" % names(doc))
            return bytes(live_layers()[0].pixelData(0, 0, W, H))

        first = yield from stroke_and_wait(DABS[0], (30, 40, 60), 1)  # dark brown (BGR)
        node = live_layers()[0]
        names_now = names(doc)
        check(names_now.index(node.name()) == names_now.index("Background") + 1, names_now)
        state1 = session.state
        check(isinstance(state1, bytes) and state1, "no state came back: %r" % (state1,))
        near, far = moved(photo, first, DABS[0])
        check(near > 2, "the result barely moved near the stroke (mean %.1f)" % near)
        share = concentration(photo, first, [(*DABS[0], 10, 6)], 12, W, H)
        check(share >= 0.6, "only %.0f%% of the change within 12 px of the stroke" % (100 * share))
        outside = sum(
            first[4 * p : 4 * p + 4] != photo[4 * p : 4 * p + 4]
            for p in range(W * H)
            if not _in_box(p)
        )
        check(outside == 0, "%d pixels outside the selection changed" % outside)

        second = yield from stroke_and_wait(DABS[1], (200, 210, 230), 2)  # light
        check(live_layers()[0].uniqueId() == node.uniqueId(), "the result layer was replaced")
        near2, _ = moved(first, second, DABS[1])
        check(near2 > 1, "the second stroke changed little near itself (mean %.1f)" % near2)
        check(session.state != state1, "the state did not move on with the second stroke")
        accumulated = second

        # undo the second stroke: the paint layer is as after the first; no run, R1 back
        after_first = bytearray(bytes(paint.pixelData(0, 0, W, H)))
        for y in range(DABS[1][1], DABS[1][1] + 6):
            start = 4 * (y * W + DABS[1][0])
            after_first[start : start + 40] = bytes(40)
        paint.setPixelData(bytes(after_first), 0, 0, W, H)
        yield from until(
            lambda: (
                session.result_node() is not None
                and bytes(session.result_node().pixelData(0, 0, W, H)) == first
            ),
            10,
            "the first result back",
        )
        check(session.runs == 2, "undo ran the filter again (%d runs)" % session.runs)
        # redo it: the accumulated result is back from history
        _stroke(paint, DABS[1], (200, 210, 230))
        yield from until(
            lambda: bytes(session.result_node().pixelData(0, 0, W, H)) == accumulated,
            10,
            "the second result back",
        )

        # Reset: one run from the photo with both strokes; it differs from the accumulated one
        suite.button("nlf_live_reset").click()
        yield from until(lambda: session.runs == 3, 90, "the run after Reset")
        yield 600
        check(session.runs == 3, "runs after Reset without a stroke: %s" % log)
        fresh = bytes(live_layers()[0].pixelData(0, 0, W, H))
        check(len(live_layers()) == 1, "live layers: %s" % names(doc))
        delta = sum(_diff(fresh, accumulated, p) for p in range(W * H)) / (W * H)
        check(delta > 0.2, "Reset gave the accumulated result again (mean change %.2f)" % delta)
        check(bytes(bg.pixelData(0, 0, W, H)) == photo, "the photo layer was written")
        dock.live.toggle.setChecked(False)
        yield 300
        check(dock.live.session is None and not session.active, "live mode did not stop")
        _stroke(paint, (40, 40), (0, 0, 255))
        yield 800
        check(session.runs == 3, "a run after live mode was switched off: %s" % log)
        # what Krita's undo holds: pixel writes are no undo step, adding the live layer is one
        painted = bytes(paint.pixelData(0, 0, W, H))
        suite.app.action("edit_undo").trigger()
        yield 500
        check(bytes(paint.pixelData(0, 0, W, H)) == painted, "undo changed the paint layer")
        check(live_layers() == [], "one undo did not remove the live layer: %s" % names(doc))
        check(bytes(bg.pixelData(0, 0, W, H)) == photo, "undo changed the photo")
        timing = ", ".join("%.2f s" % t for t in timings)
        print(
            "live_paint: stroke to refresh %s; mean change near the first stroke %.1f, far %.1f"
            " (%.0f%% within 12 px); near the second %.1f" % (timing, near, far, 100 * share, near2)
        )

    def live_real():
        """The built-in face model (genki64) on the real-weights backend: the 512² canvas with a
        200 px GENKI face that dfi_real uses, a loose selection, face finding on; a dark-brown
        stroke over the forehead, then one down the left temple: each darkens the face under
        it. Times each refresh and saves the photo, the result and a screenshot
        (OUT/live_real_*.png)."""
        from krita import Selection
        from neural_layer_filters.qt import QImage

        size = 512
        with open(os.path.join(os.environ["NLF_TEST_OUT"], "dfi_input.bgra"), "rb") as f:
            data = f.read()
        doc = suite.app.createDocument(size, size, "live_real", "RGBA", "U8", "", 72.0)
        bg = doc.rootNode().childNodes()[-1]
        bg.setPixelData(data, 0, 0, size, size)
        paint = doc.createNode("Paint", "paintlayer")
        doc.rootNode().addChildNode(paint, bg)
        suite.app.activeWindow().addView(doc)
        yield 300
        sel = Selection()
        box = (130, 120, 260, 280)
        sel.select(*box, 255)
        doc.setSelection(sel)
        doc.setActiveNode(bg)
        yield 300
        photo = bytes(bg.pixelData(0, 0, size, size))
        suite.use_server(os.environ["NLF_REAL_SERVER"])
        dock = suite.dock
        try:
            yield from until(suite.ready, 60, "the real-weights backend")
            check("npe" in suite.ctl.filters, "filters: %s" % sorted(suite.ctl.filters))
            dock.select_filter("npe")
            dock.form.refresh_layers()
            picker = dock.form.widgets["paint"]
            picker.setCurrentIndex(picker.findText("Paint"))
            dock.live.toggle.setChecked(False)  # a fresh session, whatever ran before
            dock.live.toggle.setChecked(True)
            session = dock.live.session
            check(session is not None, "live mode did not start: " + dock.live.status.text())
            strokes = (((196, 163, 120, 14), (40, 45, 55)), ((160, 180, 24, 50), (40, 45, 55)))
            results, timings = [], []
            for k, ((x, y, w, h), bgr) in enumerate(strokes):
                t0 = time.time()
                paint.setPixelData(bytes((*bgr, 255)) * (w * h), x, y, w, h)
                yield from until(lambda k=k: session.runs == k + 1, 120, "live run %d" % (k + 1))
                timings.append(time.time() - t0)
                yield 200
                node = session.result_node()
                results.append(bytes(node.pixelData(0, 0, size, size)))
            out = results[-1]
            for p in range(size * size):
                px, py = p % size, p // size
                inside = box[0] <= px < box[0] + box[2] and box[1] <= py < box[1] + box[3]
                if not inside:
                    check(out[4 * p : 4 * p + 4] == photo[4 * p : 4 * p + 4], "outside %d" % p)

            def mean_under(img, rect):
                x, y, w, h = rect
                vals = [
                    sum(img[4 * (yy * size + xx) : 4 * (yy * size + xx) + 3]) / 3.0
                    for yy in range(y, y + h)
                    for xx in range(x, x + w)
                ]
                return sum(vals) / len(vals)

            dark = strokes[0][0]
            before, after = mean_under(photo, dark), mean_under(results[0], dark)
            side = strokes[1][0]
            before2, after2 = mean_under(photo, side), mean_under(results[1], side)
            for name, img in (("photo", photo), ("result", out)):
                QImage(img, size, size, 4 * size, QImage.Format.Format_ARGB32).save(
                    os.path.join(os.environ["NLF_TEST_OUT"], "live_real_%s.png" % name)
                )
            suite.ctx["screenshot"](os.path.join(os.environ["NLF_TEST_OUT"], "live_real.png"))
            rects = [r for r, _ in strokes]
            shares = [concentration(photo, r, rects[: k + 1], 24, size, size) for k, r in
                      enumerate(results)]  # fmt: skip
            print(
                "live_real: stroke to refresh %s; dark stroke: mean %.1f -> %.1f; "
                "second stroke: mean %.1f -> %.1f; change within 24 px of the strokes %s"
                % (
                    ", ".join("%.2f s" % t for t in timings),
                    *(before, after, before2, after2),
                    ", ".join("%.0f%%" % (100 * v) for v in shares),
                )
            )
            check(min(shares) >= 0.6, "the change is not near the strokes: %s" % shares)
            check(
                after < before - 3,
                "the dark stroke did not darken (%.1f -> %.1f)" % (before, after),
            )
            check(
                after2 < before2 - 3,
                "the second stroke did not darken (%.1f -> %.1f)" % (before2, after2),
            )
        finally:
            dock.live.toggle.setChecked(False)
            suite.use_server(suite.address)
            yield from until(suite.ready, 30, "reconnecting")

    out = [("live_paint", live_paint)]
    if os.environ.get("NLF_REAL_SERVER"):  # the real weights and the GENKI crops are here
        out.append(("live_real", live_real))
    return out


def moved(before, after, corner):
    """Mean channel change near a stroke and far from it (inside the selection)."""
    near = [_diff(before, after, p) for p in range(W * H) if _in_box(p) and _near(p, corner, 2)]
    far = [_diff(before, after, p) for p in range(W * H) if _in_box(p) and not _near(p, corner, 12)]
    return sum(near) / max(1, len(near)), sum(far) / max(1, len(far))


def concentration(before, after, rects, pad, w, h):
    """The share of the summed channel change within ``pad`` px of the ``rects`` (x, y, w, h):
    a change spread over the whole selection puts only that area's share there."""
    total = close = 0
    for p in range(w * h):
        x, y = p % w, p // w
        d = sum(abs(after[4 * p + c] - before[4 * p + c]) for c in range(3))
        total += d
        if any(rx - pad <= x < rx + rw + pad and ry - pad <= y < ry + rh + pad
               for rx, ry, rw, rh in rects):  # fmt: skip
            close += d
    return close / max(total, 1)


def names(doc):
    return [n.name() for n in doc.rootNode().childNodes()]
