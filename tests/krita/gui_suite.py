"""The Krita GUI suite: run by krita_test_driver inside real Krita under Xvfb.

tests/krita/test_gui.py starts Krita once with this script and checks each scenario's outcome,
which is written to $NLF_TEST_OUT/results.json as soon as it is known:
``{name: {"ok": bool, "detail": str, "seconds": float}}``. Every scenario goes through the
docker's own code path: it picks the filter and values in the docker and clicks its buttons.

Env: NLF_SERVER (the live backend), NLF_LOST_SERVER (a backend the test stops when this script
writes NLF_TEST_OUT/lost.request), NLF_PRODUCT (JSON {"id": ..., "values": {...}}), NLF_TEST_OUT.
"""

import json
import os
import runpy
import socket
import struct
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gui_product import (
    OUT,
    H,
    ProductScenarios,
    W,
    check,
    check_invert_u8,
    pattern,
    until,
)

RESULTS = {}


def save_results():
    with open(os.path.join(OUT, "results.json.tmp"), "w") as f:
        json.dump(RESULTS, f, indent=1)
    os.replace(os.path.join(OUT, "results.json.tmp"), os.path.join(OUT, "results.json"))


class Suite(ProductScenarios):
    def __init__(self, ctx):
        from krita import Krita

        self.ctx = ctx
        self.app = Krita.instance()
        docks = {d.objectName(): d for d in self.app.dockers()}
        self.dock = docks["neural_layer_filters_docker"]
        self.ctl = self.dock.ctl
        self.address = os.environ["NLF_SERVER"]

    # -- helpers --
    def button(self, name):
        from neural_layer_filters.qt import QPushButton

        return self.dock.findChild(QPushButton, name)

    def new_doc(self, depth="U8", name="doc", w=W, h=H):
        doc = self.app.createDocument(w, h, name, "RGBA", depth, "", 72.0)
        bg = doc.rootNode().childNodes()[-1]
        bg.setPixelData(pattern(depth, w, h), 0, 0, w, h)
        self.app.activeWindow().addView(doc)
        yield 200
        doc.setActiveNode(bg)
        yield 100
        return doc, bg

    def select(self, doc):
        from krita import Selection

        sel = Selection()
        sel.select(20, 10, 40, 30, 255)
        sel.select(70, 40, 10, 10, 128)  # partly selected: the backend blends through it
        doc.setSelection(sel)
        return bytes(sel.pixelData(0, 0, doc.width(), doc.height()))

    def run_filter(self, filter_id, values, timeout=60):
        self.dock.select_filter(filter_id)
        check(self.dock.form.spec.id == filter_id, "docker did not switch to " + filter_id)
        self.dock.form.set_values(values)
        self.button("nlf_apply").click()
        yield 50
        yield from until(lambda: self.ctl.job is None, timeout, filter_id + " to finish")
        yield 300  # Krita picks up the new nodes in its own event loop

    def use_server(self, address):
        os.environ["NLF_SERVER"] = address
        self.dock.status.setText("")  # ready() waits for the new status line
        self.ctl.set_settings(self.ctl.settings)  # reload (the env var wins) and reconnect

    def ready(self):
        return "ready" in self.dock.status.text() and self.ctl.filters

    # -- scenarios --
    def docker_and_menus(self):
        from neural_layer_filters.qt import QMenu

        yield from until(self.ready, 30, "the docker to list filters")
        ids = set(self.ctl.filters)
        check({"test_invert", "test_slow", "mrf"} <= ids, "filters: %s" % sorted(ids))
        menu = self.app.activeWindow().qwindow().findChild(QMenu, "nlf_filter_menu")
        entries = {a.objectName() for a in menu.actions()}
        check({"nlf_filter_" + i for i in ids} <= entries, "menu entries: %s" % sorted(entries))
        repeat = self.app.action("nlf_repeat_last")
        check(
            repeat.shortcut().toString() == "Ctrl+Alt+F", "shortcut " + repeat.shortcut().toString()
        )
        next(a for a in menu.actions() if a.objectName() == "nlf_filter_test_slow").trigger()
        yield 100
        check(self.dock.form.spec.id == "test_slow", "menu entry did not select its filter")

    def apply_u8_selection(self):
        doc, bg = yield from self.new_doc(name="apply")
        mask = self.select(doc)
        yield 200
        before = bytes(bg.pixelData(0, 0, W, H))
        yield from self.run_filter("test_invert", {"amount": 1.0})
        check(self.dock.message.text().startswith("Added"), "message: " + self.dock.message.text())
        nodes = doc.rootNode().childNodes()
        names = [n.name() for n in nodes]
        i = names.index("Background")
        check(names[i + 1] == "[NLF] Invert (test)", "layers: %s" % names)
        check(bytes(bg.pixelData(0, 0, W, H)) == before, "source layer changed")
        out = bytes(nodes[i + 1].pixelData(0, 0, W, H))
        check_invert_u8(before, out, mask)
        self.apply_doc = doc

    def repeat_last(self):
        doc = self.apply_doc
        before = [n.name() for n in doc.rootNode().childNodes()]
        doc.setActiveNode(next(n for n in doc.rootNode().childNodes() if n.name() == "Background"))
        yield 100
        self.app.action("nlf_repeat_last").trigger()
        yield 50
        yield from until(lambda: self.ctl.job is None, 30, "repeat to finish")
        yield 300
        names = [n.name() for n in doc.rootNode().childNodes()]
        check(
            names.count("[NLF] Invert (test)") == before.count("[NLF] Invert (test)") + 1,
            "layers: %s" % names,
        )

    def preview(self):
        doc = self.apply_doc
        names = [n.name() for n in doc.rootNode().childNodes()]
        doc.setActiveNode(next(n for n in doc.rootNode().childNodes() if n.name() == "Background"))
        yield 100
        self.dock.select_filter("test_invert")
        self.button("nlf_preview_button").click()
        yield 50
        yield from until(lambda: self.ctl.job is None, 30, "the preview")
        yield 200
        text = self.dock.message.text()
        check(text.startswith("Preview at"), "message: " + text)
        pixmap = self.dock.preview.pixmap()
        check(pixmap is not None and not pixmap.isNull(), "no preview image in the docker")
        check([n.name() for n in doc.rootNode().childNodes()] == names, "preview added a layer")

    def cancel(self):
        doc, bg = yield from self.new_doc(name="cancel")
        self.select(doc)
        yield 200
        names, before = (
            [n.name() for n in doc.rootNode().childNodes()],
            bytes(bg.pixelData(0, 0, W, H)),
        )
        self.dock.select_filter("test_slow")
        self.dock.form.set_values({"steps": 200, "delay": 0.05})
        self.button("nlf_apply").click()
        yield from until(lambda: self.dock.progress.value() > 0, 20, "progress")
        check(self.button("nlf_cancel").isEnabled(), "Cancel is disabled while running")
        stage = self.dock.stage.text()
        self.button("nlf_cancel").click()
        yield from until(lambda: self.ctl.job is None, 20, "the job to stop")
        yield 300
        check(
            self.dock.message.text().startswith("Cancelled"), "message: " + self.dock.message.text()
        )
        check("step" in stage, "stage text while running: %r" % stage)
        check([n.name() for n in doc.rootNode().childNodes()] == names, "a layer was added")
        check(bytes(bg.pixelData(0, 0, W, H)) == before, "source layer changed")

    def backend_down(self):
        doc, _ = yield from self.new_doc(name="down")
        names = [n.name() for n in doc.rootNode().childNodes()]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = "127.0.0.1:%d" % s.getsockname()[1]
        self.use_server(dead)
        try:
            yield from until(
                lambda: "python -m backend serve" in self.dock.status.text(), 20, "the status line"
            )
            self.dock.select_filter("test_invert")  # still shown from before
            self.button("nlf_apply").click()
            yield from until(lambda: self.ctl.job is None, 30, "the failed job")
            yield 300
            text = self.dock.message.text()
            check("UNAVAILABLE" in text and "python -m backend serve" in text, "message: " + text)
            check([n.name() for n in doc.rootNode().childNodes()] == names, "a layer was added")
        finally:
            self.use_server(self.address)
            yield from until(self.ready, 30, "reconnecting")

    def connection_lost(self):
        doc, bg = yield from self.new_doc(name="lost")
        names, before = (
            [n.name() for n in doc.rootNode().childNodes()],
            bytes(bg.pixelData(0, 0, W, H)),
        )
        self.use_server(os.environ["NLF_LOST_SERVER"])
        try:
            yield from until(self.ready, 30, "the second backend")
            self.dock.select_filter("test_slow")
            self.dock.form.set_values({"steps": 400, "delay": 0.05})
            self.button("nlf_apply").click()
            yield from until(lambda: self.dock.progress.value() > 0, 20, "progress")
            open(os.path.join(OUT, "lost.request"), "w").close()  # the test stops that server
            yield from until(lambda: self.ctl.job is None, 30, "the broken job")
            yield 300
            text = self.dock.message.text()
            check("the image was not changed" in text.lower(), "message: " + text)
            check([n.name() for n in doc.rootNode().childNodes()] == names, "a layer was added")
            check(bytes(bg.pixelData(0, 0, W, H)) == before, "source layer changed")
        finally:
            self.use_server(self.address)
            yield from until(self.ready, 30, "reconnecting")

    def batch_group(self):
        doc, bg = yield from self.new_doc(name="batch")
        mask = self.select(doc)
        group = doc.createNode("Group", "grouplayer")
        doc.rootNode().addChildNode(group, bg)
        kids, above = [], None
        for k in range(3):
            node = doc.createNode("L%d" % k, "paintlayer")
            node.setPixelData(pattern("U8", W, H, seed=k + 1), 0, 0, W, H)
            group.addChildNode(node, above)
            kids.append(node)
            above = node
        yield 300
        doc.setActiveNode(group)
        yield 200
        sources = [bytes(n.pixelData(0, 0, W, H)) for n in kids]
        self.dock.select_filter("test_invert")
        self.dock.form.set_values({"amount": 1.0})
        mode = self.dock.batch_mode
        mode.setCurrentIndex(mode.findData("children"))
        self.button("nlf_batch_run").click()
        yield 50
        yield from until(lambda: self.ctl.job is None, 60, "the batch")
        yield 300
        check(
            self.dock.message.text() == "Filtered 3 layer(s)",
            "message: " + self.dock.message.text(),
        )
        children = group.childNodes()
        names = [n.name() for n in children]
        check(
            names
            == [
                "L0",
                "[NLF] Invert (test)",
                "L1",
                "[NLF] Invert (test)",
                "L2",
                "[NLF] Invert (test)",
            ],
            "group: %s" % names,
        )
        for k in range(3):
            check(bytes(kids[k].pixelData(0, 0, W, H)) == sources[k], "L%d changed" % k)
            check_invert_u8(sources[k], bytes(children[2 * k + 1].pixelData(0, 0, W, H)), mask)

    def deep(self, depth):
        doc, bg = yield from self.new_doc(depth, name="deep" + depth)
        mask = self.select(doc)
        yield 200
        before = bytes(bg.pixelData(0, 0, W, H))
        yield from self.run_filter("test_invert", {"amount": 1.0})
        nodes = doc.rootNode().childNodes()
        names = [n.name() for n in nodes]
        i = names.index("Background")
        check(names[i + 1] == "[NLF] Invert (test)", "layers: %s" % names)
        new = nodes[i + 1]
        check(new.colorDepth() == depth, "result depth " + new.colorDepth())
        check(bytes(bg.pixelData(0, 0, W, H)) == before, "source layer changed")
        fmt, top, tol = {
            "U16": ("<4H", 65535, 1),
            "F16": ("<4e", 1.0, 1e-3),
            "F32": ("<4f", 1.0, 1e-6),
        }[depth]
        out = bytes(new.pixelData(0, 0, W, H))
        size = struct.calcsize(fmt)
        for p in range(W * H):
            s = struct.unpack(fmt, before[p * size : (p + 1) * size])
            o = struct.unpack(fmt, out[p * size : (p + 1) * size])
            if mask[p] == 0:
                check(
                    out[p * size : (p + 1) * size] == before[p * size : (p + 1) * size],
                    "outside pixel %d changed: %s -> %s" % (p, s, o),
                )
            elif mask[p] == 255:
                check(
                    all(abs(o[c] - (top - s[c])) <= tol for c in range(3)) and o[3] == s[3],
                    "inside pixel %d: %s -> %s" % (p, s, o),
                )


def main(ctx):
    import google.protobuf
    import grpc

    suite = Suite(ctx)
    RESULTS["runtime"] = {  # which gRPC the plug-in got: the editor's own or vendored wheels
        "ok": True,
        "detail": "grpc %s %s; protobuf %s"
        % (grpc.__version__, grpc.__file__, google.protobuf.__version__),
        "seconds": 0,
    }
    scenarios = [
        ("docker_and_menus", suite.docker_and_menus),
        ("apply_u8_selection", suite.apply_u8_selection),
        ("repeat_last", suite.repeat_last),
        ("preview", suite.preview),
        ("cancel", suite.cancel),
        ("backend_down", suite.backend_down),
        ("connection_lost", suite.connection_lost),
        ("batch_group", suite.batch_group),
        ("depth_u16", lambda: suite.deep("U16")),
        ("depth_f16", lambda: suite.deep("F16")),
        ("depth_f32", lambda: suite.deep("F32")),
        ("product", suite.product),
        ("mrf_colours", suite.mrf_colours),
        ("screenshot", suite.screenshot),
    ]
    if os.environ.get("NLF_REAL_SERVER"):  # the test found the real weights and the face data
        scenarios.append(("dfi_real", suite.dfi_real))
        if os.environ.get("NLF_STICKER_MODEL"):
            scenarios.append(("dtn_sticker", suite.dtn_sticker))
    if os.environ.get("NLF_LIVE"):  # live painting: tests/krita/live_suite.py
        live = runpy.run_path(
            os.path.join(os.path.dirname(os.path.abspath(__file__)), "live_suite.py")
        )
        scenarios += live["scenarios"](suite, check, until, pattern)
    only = os.environ.get("NLF_ONLY", "").split(",") if os.environ.get("NLF_ONLY") else None
    for name, scenario in scenarios:
        if only and name not in only:
            continue
        t0 = time.time()
        errors_before = len(ctx["errors"])
        try:
            yield from scenario()
            ok, detail = True, ""
            if len(ctx["errors"]) > errors_before:
                ok, detail = (
                    False,
                    "uncaught exception:\n" + "\n".join(ctx["errors"][errors_before:]),
                )
        except Exception:
            ok, detail = False, traceback.format_exc()
        RESULTS[name] = {"ok": ok, "detail": detail, "seconds": round(time.time() - t0, 2)}
        print(
            "SCENARIO %s %s %.2fs %s"
            % (name, "ok" if ok else "FAILED", time.time() - t0, ascii(detail)[1:-1])
        )  # ascii: Krita's stdout may not take layer names' "…"
        save_results()
        yield 100
    ctx["errors"][:] = []  # already reported per scenario
    return 0 if all(r["ok"] for r in RESULTS.values()) else 2
