"""Installed by tests/gimp/test_real.py into the GIMP plug-in under test as
``nlf_gimp/test_dialog.py`` (never shipped): answers the generated procedure dialogs by itself.

``NLF_TEST_DIALOG="proc=ok,other-proc=cancel"`` names the dialogs to answer; once one shows,
its widget types are logged (``NLF_DIALOG <proc> <types>``) and its own OK or Cancel button is
clicked, as a user does (``NLF_DIALOG_BUTTON <proc> <label>``; neither: the dialog is closed,
and the tests fail).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import gi

gi.require_version("Gtk", "3.0")
from gi.repository import GLib, Gtk  # noqa: E402

log = logging.getLogger("nlf_gimp.procedures")


def answer_later(dialog: Any, name: str) -> None:
    """Arm the answer for ``name``'s dialog when NLF_TEST_DIALOG names it."""
    items = os.environ.get("NLF_TEST_DIALOG", "").split(",")
    answer = dict(item.strip().partition("=")[::2] for item in items).get(name)
    if answer:
        GLib.timeout_add(500, _answer_by_itself, dialog, name, answer)


def _widget_types(widget: Any) -> list:
    names = [widget.__gtype__.name]
    for child in widget.get_children() if hasattr(widget, "get_children") else ():
        names.extend(_widget_types(child))
    return names


def _answer_by_itself(dialog: Any, name: str, answer: str) -> bool:
    log.info("NLF_DIALOG %s %s", name, " ".join(sorted(set(_widget_types(dialog)))))
    button = dialog.get_widget_for_response(getattr(Gtk.ResponseType, answer.upper()))
    if button is None or not button.get_visible() or not button.get_sensitive():
        log.info("NLF_DIALOG_BUTTON %s none", name)
        dialog.response(Gtk.ResponseType.DELETE_EVENT)  # neither OK nor Cancel: tests fail
    else:  # click the dialog's own button
        log.info("NLF_DIALOG_BUTTON %s %s", name, button.get_label())
        button.clicked()
    return False
