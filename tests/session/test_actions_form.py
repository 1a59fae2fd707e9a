"""The person's actions (session.actions) against a fake editor; form planning (session.form)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from nlf_client import BackendError, Colour, Layer, ParamSpec
from nlf_client.session import Actions, Settings, UserError, form
from nlf_client.session.settings import as_text, from_form, load
from tests.session.fake_document import FakeDocument


def _layer(name: str, value: int = 10, w: int = 4, h: int = 2) -> Layer:
    return Layer(bytes([value, value, value, 255]) * (w * h), w, h, name=name)


class Task:
    def __init__(self, editor: FakeEditor, item: Any) -> None:
        self.editor, self._item = editor, item
        self.cancel_event = threading.Event()

    def progress(self, p: Any) -> None:
        self.editor.events.append(("progress", p.fraction))

    def preview(self, p: Any) -> None:
        self.editor.events.append(("preview", p.width))

    def overall(self, fraction: float, text: str) -> None:
        self.editor.events.append(("overall", text))

    def item(self, i: int, result: Any) -> None:
        self._item(i, result)


class FakeEditor(Actions):
    """Runs every job at once on the calling thread; records what the editor is told."""

    def __init__(self, address: str, doc: FakeDocument | None, active: str = "bg") -> None:
        super().__init__(Settings(address=address, autostart=False), "Settings")
        self.doc, self.active, self.events = doc, active, []
        self.images: dict = {}
        self.stored: list = []

    def start(self, work, succeeded, failed, item=None, ended=None):
        task = Task(self, item)
        try:
            result = work(task)
        except Exception as exc:
            failed(exc)
        else:
            succeeded(result)
        if ended:
            ended()
        return task

    def document(self, required=True):
        if self.doc is None and required:
            raise UserError("open an image first")
        return self.doc, self.active if required else None

    def batch_refs(self, doc, mode):
        return ["bg", "top"]

    def read_image(self, path):
        if path.endswith("bad.png"):
            raise UserError("cannot read image '%s'" % path)
        return _layer("file")

    def write_image(self, layer, path):
        self.images[path] = layer

    def notify(self, event, *args):
        self.events.append((event, *args))

    def store_settings(self, new):
        self.stored.append(new)
        return new

    def said(self, event: str) -> list:
        return [e[1] for e in self.events if e[0] == event]


def _editor(live_server, doc=None) -> FakeEditor:
    if doc is None:
        doc = FakeDocument({"bg": _layer("Background"), "top": _layer("Top", 99)})
    ed = FakeEditor(live_server.address, doc)
    ed.refresh()
    assert "test_invert" in ed.filters and ed.said("status_changed")[-1].startswith("Backend")
    return ed


def test_apply_adds_named_layers_and_repeat_last_runs_it_again(live_server):
    ed = _editor(live_server)
    ed.apply("test_invert", {"amount": 0.5})
    name = "[NLF] Invert (test) amount=0.5"
    assert ed.said("finished") == ["Added " + name] and ed.doc.stack == ["bg", name, "top"]
    assert ed.said("busy_changed") == [True, False] and ed.job is None
    ed.repeat_last()
    assert ed.doc.stack.count(name) == 2 and ed.last == ("test_invert", {"amount": 0.5})


def test_preview_shows_a_small_copy_and_adds_nothing(live_server):
    doc = FakeDocument({"bg": _layer("bg", w=600, h=300)})
    ed = _editor(live_server, doc)
    ed.preview("test_invert", {"amount": 1.0})
    assert ed.said("previewed")[0].width == 256 and doc.stack == ["bg"]
    assert ed.said("finished") == ["Preview at 256x128; Apply to add a layer"]


def test_failures_are_told_in_words_and_change_nothing(live_server):
    ed = _editor(live_server)
    ed.apply("nope", {})
    assert "not offered" in ed.said("failed")[-1]
    ed.repeat_last()
    assert ed.said("failed")[-1] == "no filter has run yet in this session"
    ed.job = object()  # one job at a time
    ed.apply("test_invert", {})
    assert "already running" in ed.said("failed")[-1]
    ed.job, ed.doc = None, None
    ed.apply("test_invert", {})
    assert ed.said("failed")[-1] == "open an image first"
    ed.settings = Settings(address="127.0.0.1:1", autostart=False, connect_timeout=0.3)
    ed.forget_client()
    ed.doc = FakeDocument({"bg": _layer("bg")})
    ed.apply("test_invert", {})
    text = ed.said("failed")[-1]
    assert "[UNAVAILABLE]" in text and "The image was not changed." in text
    assert ed.said("status_changed")[-1].startswith("Backend: cannot reach")
    assert ed.doc.stack == ["bg"]


def test_layer_batch_inserts_above_each_and_folder_batch_names_files(live_server, tmp_path):
    ed = _editor(live_server)
    ed.apply_batch("test_invert", {"amount": 1.0}, "selected")
    assert ed.said("finished")[-1] == "Filtered 2 layer(s)"
    assert len(ed.doc.stack) == 4 and ed.doc.stack[0] == "bg" and ed.doc.stack[2] == "top"
    src = tmp_path / "in"
    src.mkdir()
    for n in ("a.png", "bad.png", "c.png"):
        (src / n).write_bytes(b"")
    ed.apply_batch("test_invert", {}, "folder", str(src))
    assert ed.said("failed")[-1] == "choose an output folder"
    out = tmp_path / "out"
    ed.apply_batch("test_invert", {}, "folder", str(src), str(out))
    assert sorted(p.rsplit("/", 1)[1] for p in ed.images) == [
        "a.test_invert.png",
        "c.test_invert.png",
    ]
    assert ed.said("finished")[-1] == (
        f"Wrote 2 image(s) to {out}; 1 failed; bad.png: cannot read image '{src / 'bad.png'}'"
    )


def test_settings_form_values_are_stripped_kept_and_reloaded():
    ed = FakeEditor("127.0.0.1:1", None)
    ed.refresh = lambda filters=True: None  # type: ignore[method-assign]
    ed.change_settings({"address": " 127.0.0.1:9 ", "autostart": False})
    assert ed.stored[-1].address == "127.0.0.1:9" and ed.settings.autostart is False
    ed.change_settings({"address": "  "})
    assert ed.said("failed") == ["the backend address must not be empty"]
    with pytest.raises(ValueError):
        from_form({"address": ""})
    text = as_text(Settings(autostart=False, token="t"))
    assert text["autostart"] == "false" and text["token"] == "t"
    stored = {"address": "h:1", "autostart": "false", "python": ""}
    s = load(lambda k: stored.get(k, ""), ("address", "autostart", "python"), env={})
    assert (s.address, s.autostart, s.python) == ("h:1", False, "")
    assert (
        load(lambda k: stored.get(k, ""), ("address",), env={"NLF_SERVER": "e:2"}).address == "e:2"
    )


def test_every_kind_is_planned_once_for_every_editor():
    f = form.plan(ParamSpec("s", "float", "S", 9.0, min=0.0, max=2.0, step=0.001))
    assert (f.lo, f.hi, f.default, f.step, f.decimals) == (0.0, 2.0, 2.0, 0.001, 3)
    free = form.plan(ParamSpec("n", "int", "", None), limit=1_000_000)
    assert (free.lo, free.hi, free.default, free.step, free.label) == (-1e6, 1e6, 0, 1, "n")
    assert form.plan(ParamSpec("n", "int", "N", 5)).hi == form.INT_LIMIT
    c = form.plan(ParamSpec("c", "choice", "C", "zzz", choices=("van_gogh", "b")))
    assert c.fixed and c.default == "van_gogh" and c.choice_labels == ("Van gogh", "B")
    d = form.plan(ParamSpec("m", "choice", "M", "", choices=("x",), dynamic=True))
    assert not d.fixed and d.default == ""
    assert form.plan(ParamSpec("k", "colour", "K", "#ff0000")).default == Colour(1, 0, 0, 1)
    layer = form.plan(ParamSpec("l", "layer", "L", required=True))
    assert layer.row_label == "L *" and form.plan(ParamSpec("l", "layer", "L")).row_label == "L"
    with pytest.raises(ValueError, match="unknown kind"):
        form.plan(ParamSpec("x", "blob", "X"))
    assert form.typed("int", 2.0) == 2 and form.typed("string", None) == ""
    assert form.typed("colour", "#00ff00") == Colour(0, 1, 0, 1) and form.typed("layer", 7) == 7


def test_unexpected_failures_become_internal_errors():
    from nlf_client.session.actions import caught

    mine = UserError("x")
    assert caught(mine) is mine and caught(ValueError("v")).args == ("v",)
    err = caught(KeyError("k"))
    assert isinstance(err, BackendError) and err.code == "INTERNAL" and "KeyError" in err.message


def test_progress_line_sets_each_text_once_and_pulses_while_queued():
    from nlf_client import Progress
    from nlf_client.session import ProgressLine

    seen: list = []
    bar = ProgressLine("Invert", lambda t: seen.append(t), seen.append, lambda: seen.append("~"))
    bar(Progress(0.5, "run", "step 1"))
    bar(Progress(0.7, "run", "step 1"))
    bar(Progress(0.0, queue_position=1))
    bar.overall(1.5, "")
    assert seen == ["Invert: step 1", 0.5, 0.7, "Invert: waiting in the queue (position 2)", "~",
                    "Invert: ", 1.0]  # fmt: skip
