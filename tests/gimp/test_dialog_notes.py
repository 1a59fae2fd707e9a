"""GIMP's filter dialog shows what the running backend says about the installed models (no GIMP).

GIMP registers its procedures from the committed snapshot (nothing installed), so the argument's
blurb cannot name the user's models. When a dialog opens the plug-in asks the backend of the
settings (``session.fetch_notes``, never starting one) and shows each dynamic parameter's note
(installed models, their inferred architecture and classes) as a label under the argument.
The same code runs in real GIMP 3.0 / 3.2 in tests/gimp/test_real.py's GUI session.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from nlf_gimp.arguments import fill_dialog
from nlf_gimp.store import filters

from nlf_client.api import FilterSpec, ParamSpec
from nlf_client.session import Settings, dynamic_notes, fetch_notes

SNAPSHOT = filters()["plug-in-nlf-cyclegan"]


class FakeLabel:
    def __init__(self, text: str) -> None:
        self.text, self.calls = text, {}

    def __getattr__(self, name: str) -> Any:
        return lambda value: self.calls.__setitem__(name, value)


class FakeDialog:
    """Records what a GimpUi.ProcedureDialog is asked to build."""

    def __init__(self) -> None:
        self.labels: dict[str, FakeLabel] = {}
        self.filled: list[str] | str | None = "never"

    def get_label(self, label_id: str, text: str, markup: bool, mnemonic: bool) -> FakeLabel:
        assert not markup and not mnemonic  # model names must not be read as markup
        self.labels[label_id] = FakeLabel(text)
        return self.labels[label_id]

    def fill(self, ids: list[str] | None) -> None:
        self.filled = ids


def _with_model(make_backend: Any, tmp_path: Path) -> Any:
    from backend.assets.models import ModelStore
    from tests.test_checkpoint_layouts import _save

    backend = make_backend()
    _, path = _save("affine_parts_ngf32_6", tmp_path / "src")
    meta = {"classes": ["non_smile", "smile"]}
    ModelStore(backend.registry.ctx.models_dir).import_model(path, "portrait", meta=meta)
    return backend


def test_dialog_shows_the_installed_models_architecture_and_classes(make_backend, tmp_path):
    from tests.test_checkpoint_layouts import LAYOUTS

    backend = _with_model(make_backend, tmp_path)
    notes = fetch_notes(Settings(address=backend.address, autostart=False), SNAPSHOT)
    arch = LAYOUTS["affine_parts_ngf32_6"][2]
    assert set(notes) == {"model"}, notes
    assert f"portrait ({arch}; classes: non_smile, smile)" in notes["model"], notes
    assert "an installed CycleGAN model" not in notes["model"]  # the snapshot's help is shown
    dialog = FakeDialog()
    ids = fill_dialog(dialog, SNAPSHOT, notes)
    assert ids[ids.index("model") + 1] == "model-installed"
    assert dialog.filled == ids and len(ids) == len(SNAPSHOT.params) + 1
    label = dialog.labels["model-installed"]
    assert label.text == notes["model"] and label.calls["set_line_wrap"] is True


def test_no_backend_no_notes_quickly(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    t0 = time.monotonic()
    notes = fetch_notes(Settings(address=dead, autostart=True, connect_timeout=5), SNAPSHOT)
    assert notes == {} and time.monotonic() - t0 < 4  # waits at most ~1 s, starts nothing
    dialog = FakeDialog()
    assert fill_dialog(dialog, SNAPSHOT, notes) == [] and dialog.filled is None
    assert not dialog.labels


def test_notes_without_dynamic_help_name_the_installed_items() -> None:
    def spec(help_text: str, choices: tuple = ()) -> FilterSpec:
        params = (
            ParamSpec("strength", "float", "Strength", 1.0, "how much"),
            ParamSpec("model", "choice", "Model", "", help_text, choices=choices, dynamic=True),
        )
        return FilterSpec("x", "X", params=params)

    snap = spec("an installed model")
    assert dynamic_notes(snap, spec("an installed model", ("a", "b"))) == {
        "model": "Installed: a, b"
    }
    assert "Nothing is installed" in dynamic_notes(snap, spec("an installed model"))["model"]
    live = spec("an installed model. Installed: a (U-Net 128)", ("a",))
    assert dynamic_notes(snap, live) == {"model": "Installed: a (U-Net 128)"}
    assert dynamic_notes(live, live) == {"model": live.params[1].help}  # snapshot had them
    assert dynamic_notes(snap, FilterSpec("x", "X")) == {}
