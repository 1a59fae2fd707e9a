"""The plug-ins' one settings model: where the backend is and how to start a local one.

Editors store the fields their own way (Krita: kritarc; GIMP: JSON files) as a mapping of
names to values; :func:`merge` reads such a mapping (strings such as ``"true"`` included) over
a base, :func:`with_env` applies the environment last: ``NLF_SERVER``, ``NLF_TOKEN``,
``NLF_TLS_CA``, ``NLF_AUTOSTART`` (``0``/``false``/``no``/``off`` = off).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from ..api import FilterSpec, ParamSpec

log = logging.getLogger(__name__)

DEFAULT_PORT = 50051
DEFAULT_ADDRESS = "127.0.0.1:%d" % DEFAULT_PORT
ALIASES = {"backend_cwd": "backend_dir"}
"""Older names still read from stored settings."""


@dataclass(frozen=True)
class Settings:
    address: str = DEFAULT_ADDRESS
    """``host[:port]`` (port 50051 when left out), several separated by commas, or a gRPC
    target such as ``dns:///name:port``: jobs are spread over them."""
    token: str = ""
    tls_ca: str = ""
    """PEM file of the CA that signed a TLS backend's certificate; empty = no TLS."""
    autostart: bool = True
    """Start a local backend when nothing answers at a loopback address (needs a command:
    ``backend_command`` or ``python``, both written by the installer)."""
    python: str = ""
    """An interpreter that has the backend installed: runs ``python -m backend serve``."""
    backend_command: Tuple[str, ...] = ()
    """The whole argv instead (``{host}`` / ``{port}`` filled in); wins over ``python``."""
    backend_dir: str = ""
    """Working folder for that command (a source checkout); empty when installed."""
    connect_timeout: float = 3.0
    startup_timeout: float = 120.0


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


def _typed(value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        return _flag(value)
    if isinstance(default, tuple):
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else []
        if not isinstance(value, (list, tuple)):
            raise ValueError("not a list")
        return tuple(str(v) for v in value)
    return type(default)(value)


def merge(base: Settings, raw: Mapping[str, Any]) -> Settings:
    """``base`` with the known fields of ``raw``; unreadable values are logged and skipped."""
    changes: Dict[str, Any] = {}
    for key, value in raw.items():
        key = ALIASES.get(key, key)
        if key not in _NAMES or value is None:
            continue
        try:
            changes[key] = _typed(value, getattr(base, key))
        except (TypeError, ValueError) as exc:
            log.warning("ignoring setting %s = %r: %s", key, value, exc)
    return replace(base, **changes)


def with_env(s: Settings, env: Optional[Mapping[str, str]] = None) -> Settings:
    """The environment's overrides (see the module docstring) applied to ``s``."""
    env = os.environ if env is None else env
    raw: Dict[str, Any] = {}
    for var, key in (("SERVER", "address"), ("TOKEN", "token"), ("TLS_CA", "tls_ca")):
        if env.get("NLF_" + var):
            raw[key] = env["NLF_" + var]
    if "NLF_AUTOSTART" in env:
        raw["autostart"] = env["NLF_AUTOSTART"]
    return merge(s, raw)


def load(read: Callable[[str], Any], keys: Iterable[str], env: Optional[Mapping[str, str]] = None
         ) -> Settings:  # fmt: skip
    """Stored values (``read(key)`` for each of ``keys``; empty = unset) over the defaults, then
    the environment (for editors that store text by key, like Krita's kritarc)."""
    raw = {k: read(k) for k in keys}
    return with_env(merge(Settings(), {k: v for k, v in raw.items() if v}), env)


def load_files(paths: Iterable[str], env: Optional[Mapping[str, str]] = None) -> Settings:
    """The JSON files ``paths`` (later wins; a missing one is empty) over the defaults, then the
    environment (for editors that keep settings in files, like GIMP)."""
    s = Settings()
    for path in paths:
        s = merge(s, read_json(path))
    return with_env(s, env)


def as_text(s: Settings) -> Dict[str, Any]:
    """The fields a settings form edits as stored text (a flag as ``true`` / ``false``)."""
    values = {k: getattr(s, k) for k in USER_FIELDS}
    return {k: str(v).lower() if isinstance(v, bool) else v for k, v in values.items()}


def from_form(values: Mapping[str, Any]) -> Dict[str, Any]:
    """A settings form's values as fields to keep: text stripped, an address required."""
    out = {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}
    if not out.get("address"):
        raise ValueError("the backend address must not be empty")
    return out


def save_form(read: Callable[[], Mapping[str, Any]], write: Callable[[Mapping[str, Any]], str]
              ) -> str:  # fmt: skip
    """A settings form saved: its values (``read()``) kept by ``write(changes) -> file``; ""
    when that worked, else why, in words (a wrong value, a file that cannot be written)."""
    try:
        log.info("settings saved to %s", write(from_form(read())))
    except ValueError as exc:
        return "Settings: %s" % exc
    except OSError as exc:
        return "Settings: could not save them: %s" % exc
    return ""


def as_dict(s: Settings, hide_token: bool = False) -> Dict[str, Any]:
    """Every field as plain JSON values (a list for the command); for storing or logging."""
    out = {f.name: getattr(s, f.name) for f in fields(s)}
    out["backend_command"] = list(s.backend_command)
    if hide_token and s.token:
        out["token"] = "***"
    return out


def read_json(path: str) -> Dict[str, Any]:
    """A JSON settings file as a dict; missing or broken: ``{}`` (broken is logged)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable settings file %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: str, changes: Mapping[str, Any]) -> str:
    """Update ``changes`` into the JSON file at ``path`` (other keys kept), atomically; a file
    holding a token is made private. Returns ``path``."""
    data = read_json(path)
    data.update(changes)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(path + ".tmp", path)
    if data.get("token"):
        os.chmod(path, 0o600)
    return path


_NAMES = frozenset(f.name for f in fields(Settings))
FORM = (
    ParamSpec("address", "string", "Server", DEFAULT_ADDRESS, "host:port; several separated by "
              "commas, or dns:///name:port"),
    ParamSpec("token", "string", "Token", "", "empty = none (a local backend)"),
    ParamSpec("tls_ca", "string", "TLS CA file", "", "CA (PEM) of a TLS backend; empty = no TLS"),
    ParamSpec("autostart", "bool", "Start a local backend when none answers", True),
    ParamSpec("python", "string", "Python", "", "an interpreter with the backend installed"),
)  # fmt: skip
"""The fields a person edits in a settings form, as parameters (editors build forms from them)."""
FORM_SPEC = FilterSpec("settings", "Settings", params=FORM)
"""The settings form as a filter-like spec: editors' generated forms take it as they are."""
USER_FIELDS: List[str] = [p.name for p in FORM]
