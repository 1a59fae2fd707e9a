"""The plug-in's settings, kept in kritarc under [neural_layer_filters].

``NLF_SERVER`` / ``NLF_TOKEN`` / ``NLF_TLS_CA`` in the environment override the stored address,
token and TLS CA file. The address may list several backends (``h1:50051,h2:50051``) or be a
``dns:///name:port`` target: jobs are spread over them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace

from krita import Krita

GROUP = "neural_layer_filters"
DEFAULT_ADDRESS = "127.0.0.1:50051"


@dataclass(frozen=True)
class Settings:
    address: str = DEFAULT_ADDRESS
    token: str = ""
    autostart: bool = False
    """Start ``python -m backend serve`` when nothing answers at a local address."""
    python: str = ""
    """Interpreter that has the backend installed (written by the installer)."""
    backend_dir: str = ""
    """Working folder for that interpreter (the source checkout), empty when installed."""
    tls_ca: str = ""
    """PEM file of the CA that signed a TLS backend's certificate; empty = no TLS."""


def load() -> Settings:
    app = Krita.instance()
    raw = {}
    for f in fields(Settings):
        default = f.default
        text = app.readSetting(GROUP, f.name, str(default).lower() if f.type == "bool" else default)
        raw[f.name] = text.strip().lower() in ("1", "true", "yes") if f.type == "bool" else text
    s = Settings(**raw)
    if os.environ.get("NLF_SERVER"):
        s = replace(s, address=os.environ["NLF_SERVER"])
    if os.environ.get("NLF_TOKEN"):
        s = replace(s, token=os.environ["NLF_TOKEN"])
    if os.environ.get("NLF_TLS_CA"):
        s = replace(s, tls_ca=os.environ["NLF_TLS_CA"])
    return s


def save(s: Settings) -> None:
    app = Krita.instance()
    for f in fields(Settings):
        value = getattr(s, f.name)
        app.writeSetting(GROUP, f.name, str(value).lower() if isinstance(value, bool) else value)
