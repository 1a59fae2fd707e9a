"""The plug-in's apply / cancel / batch / repeat paths: fake Krita, real backend (live_server)."""

from __future__ import annotations

import pytest

from tests.krita import qt_binding  # isort: skip

pytest.importorskip(f"{qt_binding.NAME}.QtWidgets", reason=qt_binding.REASON)

import socket
import struct
import time

from nlf_client import FilterSpec, ParamSpec
from tests.krita.mock_krita import Document, Selection

from neural_layer_filters.controller import Controller  # isort: skip
from nlf_client.session import Settings, build_request
from nlf_client.session import UserError as DocumentError

from neural_layer_filters.document import KritaDocument, node_id  # isort: skip
from neural_layer_filters.qt import QApplication, QImage  # isort: skip

W, H = 16, 12


def wait_until(pred, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        QApplication.processEvents()
        time.sleep(0.005)


class Run:
    """A controller connected to a backend, recording what it reports."""

    def __init__(self) -> None:
        self.ctl = Controller()
        self.done: list = []
        self.errors: list = []
        self.progress: list = []
        self.ctl.finished.connect(self.done.append)
        self.ctl.failed.connect(self.errors.append)
        self.ctl.progressed.connect(lambda f, s: self.progress.append((f, s)))

    def load_filters(self) -> None:
        self.ctl.refresh()
        wait_until(lambda: self.ctl.filters)

    def wait(self) -> None:
        wait_until(lambda: self.ctl.job is None)


@pytest.fixture
def run(krita, live_server, monkeypatch):
    monkeypatch.setenv("NLF_SERVER", live_server.address)
    r = Run()
    r.load_filters()
    yield r
    r.ctl.forget_client()


def pattern(depth: str) -> bytes:
    out = bytearray()
    for i in range(W * H):
        if depth == "U8":
            out += bytes((i % 256, (3 * i) % 256, 200, 255))
        elif depth == "U16":
            out += struct.pack("<4H", 257 * (i % 256), 1000 + i, 60000, 65535)
        else:
            fmt = "<4e" if depth == "F16" else "<4f"
            out += struct.pack(fmt, i / (W * H), 0.25, 0.75, 1.0)
    return bytes(out)


def open_doc(krita, depth="U8", select=True):
    doc = krita.open(Document(W, H, depth=depth))
    bg = doc.createNode("Background", "paintlayer")
    doc.rootNode().addChildNode(bg, None)
    bg.setPixelData(pattern(depth), 0, 0, W, H)
    doc.setActiveNode(bg)
    if select:
        sel = Selection(W, H)
        sel.select(4, 3, 6, 5, 255)
        doc.setSelection(sel)
    return doc, bg


def inside(x, y):
    return 4 <= x < 10 and 3 <= y < 8


def pixels(node, depth):
    fmt = {"U8": "4B", "U16": "<4H", "F16": "<4e", "F32": "<4f"}[depth]
    raw = node.pixelData(0, 0, W, H)
    size = struct.calcsize(fmt)
    return [struct.unpack(fmt, raw[i : i + size]) for i in range(0, len(raw), size)]


def test_apply_adds_an_inverted_layer_above_and_keeps_the_source(run, krita):
    """Apply: one new layer right above the source, changed inside the selection only."""
    doc, bg = open_doc(krita)
    before = bytes(bg.data)
    run.ctl.apply("test_invert", {"amount": 1.0})
    run.wait()
    assert run.errors == []
    names = [n.name() for n in doc.rootNode().childNodes()]
    assert names == ["Background", "[NLF] Invert (test)"]
    assert bytes(bg.data) == before
    new = doc.rootNode().childNodes()[1]
    src, out = pixels(bg, "U8"), pixels(new, "U8")
    for i, (s, o) in enumerate(zip(src, out, strict=True)):
        x, y = i % W, i // W
        expect = (255 - s[0], 255 - s[1], 255 - s[2], s[3]) if inside(x, y) else s
        assert o == expect, (x, y)
    assert run.progress and run.done == ["Added [NLF] Invert (test)"]


@pytest.mark.parametrize("depth", ["U16", "F16", "F32"])
def test_deep_documents_round_trip(run, krita, depth):
    """16-bit int and 16/32-bit float layers: outside bit-identical, inside inverted."""
    doc, bg = open_doc(krita, depth)
    run.ctl.apply("test_invert", {"amount": 0.5})
    run.wait()
    assert run.errors == []
    new = doc.rootNode().childNodes()[1]
    assert new.name() == "[NLF] Invert (test) amount=0.5"
    top = 65535 if depth == "U16" else 1.0
    for i, (s, o) in enumerate(zip(pixels(bg, depth), pixels(new, depth), strict=True)):
        if inside(i % W, i // W):
            assert all(abs(a - top / 2) <= top * 2e-3 for a in o[:3]), (i, o)
        else:
            assert o == s


def test_cancel_mid_job_leaves_the_document_unchanged(run, krita):
    """Cancel during a slow job: "Cancelled" in the docker and no new layer."""
    doc, _ = open_doc(krita)
    run.ctl.apply("test_slow", {"steps": 200, "delay": 0.05})
    wait_until(lambda: any(f > 0 for f, _ in run.progress))
    run.ctl.cancel()
    run.wait()
    assert len(run.errors) == 1 and run.errors[0].startswith("Cancelled")
    assert [n.name() for n in doc.rootNode().childNodes()] == ["Background"]


def test_backend_down_shows_the_fix_and_changes_nothing(krita, monkeypatch):
    """Nobody at the address: the error names the serve command; the image is untouched."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("NLF_SERVER", f"127.0.0.1:{port}")
    r = Run()
    r.ctl.filters = {"test_invert": FilterSpec("test_invert", "Invert")}
    doc, _ = open_doc(krita)
    r.ctl.apply("test_invert", {})
    r.wait()
    assert "python -m backend serve" in r.errors[0] and "UNAVAILABLE" in r.errors[0]
    assert [n.name() for n in doc.rootNode().childNodes()] == ["Background"]


def test_connection_lost_mid_job_leaves_the_document_as_it_was(krita, make_backend, monkeypatch):
    """The server goes away during a job: an error is shown and no layer is added."""
    backend = make_backend()
    monkeypatch.setenv("NLF_SERVER", backend.address)
    r = Run()
    r.load_filters()
    doc, bg = open_doc(krita)
    before = bytes(bg.data)
    r.ctl.apply("test_slow", {"steps": 200, "delay": 0.05})
    wait_until(lambda: any(f > 0 for f, _ in r.progress))
    backend.server.stop(grace=0).wait()
    r.wait()
    assert len(r.errors) == 1 and "The image was not changed" in r.errors[0]
    assert [n.name() for n in doc.rootNode().childNodes()] == ["Background"]
    assert bytes(bg.data) == before


def test_repeat_last_runs_again_with_the_same_values(run, krita):
    """Repeat last filter adds a second identical result on the active layer."""
    doc, _ = open_doc(krita)
    run.ctl.repeat_last()
    assert run.errors == ["no filter has run yet in this session"]
    run.ctl.apply("test_invert", {"amount": 0.3})
    run.wait()
    run.ctl.repeat_last()
    run.wait()
    kids = doc.rootNode().childNodes()
    assert [n.name() for n in kids][1:] == ["[NLF] Invert (test) amount=0.3"] * 2
    assert kids[1].data == kids[2].data


def test_a_second_apply_while_busy_is_refused(run, krita):
    """Only one job at a time: a second Apply is answered with a message."""
    open_doc(krita)
    run.ctl.apply("test_slow", {"steps": 100, "delay": 0.02})
    assert run.ctl.apply("test_invert", {}) is None
    assert "already running" in run.errors[0]
    run.ctl.cancel()
    run.wait()


def test_batch_over_a_group_puts_each_result_above_its_child(run, krita):
    """Batch "children": three layers in a group, three results, each above its source."""
    doc, bg = open_doc(krita)
    group = doc.createNode("Group", "grouplayer")
    doc.rootNode().addChildNode(group, bg)
    kids = []
    for i in range(3):
        n = doc.createNode(f"L{i}", "paintlayer")
        n.setPixelData(bytes((10 * i, 20, 30, 255)) * (W * H), 0, 0, W, H)
        group.addChildNode(n, kids[-1] if kids else None)
        kids.append(n)
    doc.setActiveNode(group)
    run.ctl.apply_batch("test_invert", {"amount": 1.0}, "children")
    run.wait()
    assert run.errors == [] and run.done == ["Filtered 3 layer(s)"]
    names = [n.name() for n in group.childNodes()]
    assert names == [
        "L0",
        "[NLF] Invert (test)",
        "L1",
        "[NLF] Invert (test)",
        "L2",
        "[NLF] Invert (test)",
    ]
    for i in range(3):
        out = pixels(group.childNodes()[2 * i + 1], "U8")
        assert out[5 * W + 5] == (255 - 10 * i, 235, 225, 255)
        assert out[0] == (10 * i, 20, 30, 255)
    fractions = [f for f, _ in run.progress]
    assert fractions == sorted(fractions) and fractions[-1] >= 0.66


def test_batch_over_selected_layers_and_errors_without_targets(run, krita):
    """Batch "selected" filters the layers selected in the view; none selected is an error."""
    doc, bg = open_doc(krita, select=False)
    run.ctl.apply_batch("test_invert", {}, "selected")
    assert "select one or more layers" in run.errors[-1]
    krita.window.view.selected = [bg]
    run.ctl.apply_batch("test_invert", {}, "selected")
    run.wait()
    assert [n.name() for n in doc.rootNode().childNodes()] == ["Background", "[NLF] Invert (test)"]
    run.ctl.apply_batch("test_invert", {}, "children")
    assert "group layer" in run.errors[-1]


def test_batch_over_a_folder_writes_results(run, tmp_path):
    """Batch "folder": every image in the input folder gets a filtered PNG in the output."""
    src = tmp_path / "in"
    src.mkdir()
    for i, colour in enumerate(((255, 0, 0), (0, 128, 255))):
        img = QImage(5, 4, QImage.Format.Format_RGBA8888)
        img.fill(0)
        for y in range(4):
            for x in range(5):
                img.setPixelColor(x, y, img.pixelColor(x, y).fromRgb(*colour))
        assert img.save(str(src / f"img{i}.png"))
    (src / "notes.txt").write_text("not an image")
    (src / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    run.ctl.apply_batch("test_invert", {}, "folder", str(src), str(out))
    run.wait()
    assert run.errors == [] and sorted(p.name for p in out.iterdir()) == [
        "img0.test_invert.png",
        "img1.test_invert.png",
    ]
    assert run.done[-1].startswith(f"Wrote 2 image(s) to {out}; 1 failed; broken.png: cannot read")
    got = QImage(str(out / "img1.test_invert.png"))
    c = got.pixelColor(2, 2)
    assert (c.red(), c.green(), c.blue()) == (255, 127, 0)


def test_folder_batch_cancel_stops_between_files(run, tmp_path):
    """Cancelling a folder batch stops it; files already written stay."""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        img = QImage(4, 4, QImage.Format.Format_RGBA8888)
        img.fill(0)
        img.save(str(src / f"{i}.png"))
    run.ctl.apply_batch(
        "test_slow", {"steps": 100, "delay": 0.02}, "folder", str(src), str(tmp_path / "o")
    )
    wait_until(lambda: run.progress and run.progress[-1][0] > 0)
    run.ctl.cancel()
    run.wait()
    assert run.errors[0].startswith("Cancelled")
    assert len(list((tmp_path / "o").iterdir())) < 3


def test_layer_params_send_the_chosen_layers_pixels(krita):
    """A layer parameter sends the picked layer as an extra layer; a required one must be set."""
    doc, bg = open_doc(krita)
    style = doc.createNode("Paper", "paintlayer")
    doc.rootNode().addChildNode(style, bg)
    style.setPixelData(bytes((1, 2, 3, 4)) * (W * H), 0, 0, W, H)
    spec = FilterSpec(
        "x",
        "X",
        params=(ParamSpec("style", "layer", "Style", required=True), ParamSpec("k", "int", "K", 3)),
    )
    req = build_request(spec, {"style": node_id(style)}, KritaDocument(doc))
    assert req.params == {"k": 3} and req.layer_names == {"style": "Paper"}
    assert req.extras["style"].pixels[:4] == bytes((3, 2, 1, 4))
    with pytest.raises(DocumentError, match="choose a layer for 'Style'"):
        build_request(spec, {"style": ""}, KritaDocument(doc))
    with pytest.raises(DocumentError, match="no longer exists"):
        build_request(spec, {"style": "{gone}"}, KritaDocument(doc))


def test_filters_that_need_a_selection_say_so(krita):
    """A needs_mask filter without a selection is refused before any request."""
    open_doc(krita, select=False)
    r = Run()
    r.ctl.filters = {"m": FilterSpec("m", "Masked", needs_mask=True)}
    assert r.ctl.apply("m", {}) is None
    assert r.errors == ["Masked needs a selection"]


def test_previews_reach_the_docker_when_asked_for(run, krita):
    """With previews on, the backend's low-res previews arrive as RGBA8 images."""
    open_doc(krita)
    previews = []
    run.ctl.previewed.connect(previews.append)
    run.ctl.want_previews = True
    run.ctl.apply("test_invert", {})
    run.wait()
    QApplication.processEvents()
    assert previews, "no preview arrived"
    p = previews[-1]
    assert p.width > 0 and len(p.pixels) == 4 * p.width * p.height


def test_preview_runs_small_and_adds_nothing(run, krita):
    """Preview: a low-resolution result arrives in the docker; the document is unchanged."""
    doc, bg = open_doc(krita)
    previews = []
    run.ctl.previewed.connect(previews.append)
    run.ctl.preview("test_invert", {"amount": 1.0}, longest=8)
    run.wait()
    QApplication.processEvents()
    assert run.errors == [] and run.done == ["Preview at 8x6; Apply to add a layer"]
    assert [n.name() for n in doc.rootNode().childNodes()] == ["Background"]
    p = previews[-1]
    assert (p.width, p.height) == (8, 6)
    # pixel (3, 2) of the preview samples (7, 5) of the image, which is selected: inverted
    src = pixels(bg, "U8")[5 * W + 7]
    i = 4 * (2 * 8 + 3)
    assert tuple(p.pixels[i : i + 4]) == (255 - src[2], 255 - src[1], 255 - src[0], 255)
    assert run.ctl.last is None


def test_shutdown_cancels_the_running_job(run, krita):
    """Quitting Krita mid-job cancels it and waits for the worker thread to end."""
    open_doc(krita)
    job = run.ctl.apply("test_slow", {"steps": 400, "delay": 0.05})
    wait_until(lambda: any(f > 0 for f, _ in run.progress))
    t0 = time.monotonic()
    run.ctl.shutdown()
    assert job.isFinished() and time.monotonic() - t0 < 3
    run.wait()
    assert run.errors and run.errors[0].startswith("Cancelled")


def test_status_line_follows_each_job(run, krita):
    """After a job the status line is fetched again."""
    open_doc(krita)
    lines = []
    run.ctl.status_changed.connect(lambda text, ok: lines.append((text, ok)))
    run.ctl.apply("test_invert", {})
    run.wait()
    wait_until(lambda: lines)
    assert lines[-1][1] and lines[-1][0].startswith("Backend ready")


def test_unexpected_errors_are_shown_not_raised(krita, monkeypatch):
    """A bug inside an action is logged and shown in the docker instead of escaping to Qt."""
    r = Run()
    r.ctl.filters = {"x": FilterSpec("x", "X")}
    open_doc(krita)

    def broken(*args):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(KritaDocument, "selection", broken)
    assert r.ctl.apply("x", {}) is None
    assert r.errors == ["ZeroDivisionError: boom"] and r.ctl.job is None


def test_settings_come_from_kritarc_and_the_environment_wins(krita, monkeypatch):
    """kritarc holds strings (the installer writes python and backend_dir); NLF_* env wins."""
    from dataclasses import replace

    from neural_layer_filters.controller import GROUP, load_settings, save_settings

    for key, value in (("autostart", "false"), ("python", "/opt/py"), ("address", "h:1")):
        krita.writeSetting(GROUP, key, value)
    for var in ("NLF_SERVER", "NLF_TLS_CA", "NLF_AUTOSTART"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NLF_TOKEN", "t")
    s = load_settings()
    assert (s.address, s.autostart, s.python, s.token) == ("h:1", False, "/opt/py", "t")
    assert load_settings().connect_timeout == 3.0 and Settings().autostart is True
    save_settings(replace(s, autostart=True, address="h:2"))
    assert krita.readSetting(GROUP, "autostart", "") == "true"
    monkeypatch.setenv("NLF_AUTOSTART", "0")
    assert (load_settings().address, load_settings().autostart) == ("h:2", False)


def test_docker_settings_tab_is_the_core_form_and_saves_to_kritarc(krita, monkeypatch):
    """The Settings tab is built from nlf_client.session.settings.FORM; Save writes kritarc."""
    from neural_layer_filters import controller, docker, worker
    from neural_layer_filters.controller import GROUP

    for var in ("NLF_SERVER", "NLF_TOKEN", "NLF_TLS_CA", "NLF_AUTOSTART"):
        monkeypatch.delenv(var, raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        krita.writeSetting(GROUP, "address", "127.0.0.1:%d" % s.getsockname()[1])
    monkeypatch.setattr(controller, "_instance", None)
    dock = docker.NlfDocker()
    form = dock.settings_form
    assert list(form.widgets) == ["address", "token", "tls_ca", "autostart", "python"]
    assert form.values()["autostart"] is True and form.values()["address"].startswith("127.")
    form.set_values({"address": " 127.0.0.1:9 ", "autostart": False, "token": "t"})
    dock.save_settings()
    assert krita.readSetting(GROUP, "address", "") == "127.0.0.1:9"
    assert (krita.readSetting(GROUP, "autostart", ""), dock.ctl.settings.token) == ("false", "t")
    wait_until(lambda: not worker._running)
    assert "cannot reach" in dock.status.text()
    dock.ctl.forget_client()
