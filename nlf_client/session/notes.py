"""What the running backend says about a filter's installed items that a schema snapshot cannot.

An editor that registers its forms from the committed snapshot (GIMP) knows each dynamic
parameter (a model, a pack) only by its generic help: the snapshot is built with nothing
installed. The running backend's schema names what is installed and, for CycleGAN models, the
architecture read off each model's tensors and the classes of a class-aware training. When a
form opens, :func:`fetch_notes` asks the backend the settings name for that (never starting
one, with a short timeout) and :func:`dynamic_notes` keeps what the snapshot lacks, one text per
dynamic parameter, for the form to show beside the parameter. No backend: no notes, quietly.
"""

from __future__ import annotations

import logging
from typing import Dict, Optional

from ..api import FilterSpec
from ..client import Client
from ..errors import BackendError
from .launch import with_port
from .settings import Settings

log = logging.getLogger(__name__)

NOTE_TIMEOUT = 1.0
"""Seconds a form waits for the backend before it opens without notes."""


def dynamic_notes(snapshot: FilterSpec, live: FilterSpec) -> Dict[str, str]:
    """``{parameter name: text}`` for each dynamic parameter of ``snapshot``: what the live
    help adds to the snapshot's (e.g. "Installed: portrait (ResnetGenerator 6 blocks, ...;
    classes: non_smile, smile)"), else the live help when it names every installed item, else
    the installed names, else that nothing is installed."""
    live_params = {p.name: p for p in live.params}
    out: Dict[str, str] = {}
    for p in snapshot.params:
        lp = live_params.get(p.name)
        if not p.dynamic or lp is None:
            continue
        extra = ""
        if p.help and lp.help.startswith(p.help):
            extra = lp.help[len(p.help) :].lstrip(". ")
        if not extra and lp.choices and all(c in lp.help for c in lp.choices):
            extra = lp.help  # a snapshot made where these were installed already names them
        if extra:
            out[p.name] = extra
        elif lp.choices:
            out[p.name] = "Installed: " + ", ".join(lp.choices)
        else:
            out[p.name] = "Nothing is installed on the backend for this parameter"
    return out


def fetch_notes(
    settings: Settings, snapshot: FilterSpec, timeout: float = NOTE_TIMEOUT
) -> Dict[str, str]:
    """:func:`dynamic_notes` from the backend at ``settings.address``; ``{}`` when the filter
    has no dynamic parameter, or the backend does not answer within ``timeout`` (it is not
    started), or it does not serve the filter."""
    if not any(p.dynamic for p in snapshot.params):
        return {}
    client: Optional[Client] = None
    try:
        wait = min(timeout, settings.connect_timeout or timeout)
        client = Client.connect(
            with_port(settings.address), settings.token or None, wait, settings.tls_ca or None
        )
        live = next((s for s in client.list_filters() if s.id == snapshot.id), None)
    except (BackendError, ValueError, OSError) as exc:
        log.info("no notes for %s from %s: %s", snapshot.id, settings.address, exc)
        return {}
    finally:
        if client is not None:
            client.close()
    return dynamic_notes(snapshot, live) if live is not None else {}
