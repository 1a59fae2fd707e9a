"""Plug-in settings: backend address, token, auto-start of a local backend.

Read in this order, later wins: built-in defaults < ``install.json`` beside the plug-in (written
by ``python -m backend install-plugin gimp``: how to start the backend) < the user's
``neural-layer-filters.json`` in the GIMP profile folder (written by the Settings procedure) <
environment variables ``NLF_SERVER``, ``NLF_TOKEN``, ``NLF_TLS_CA``, ``NLF_AUTOSTART`` (scripts
and CI). The address may list several backends (``h1:50051,h2:50051``) or be a
``dns:///name:port`` target: jobs are spread over them.
No ``gi`` here: unit-tested without GIMP.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Dict, List, Mapping, Optional

log = logging.getLogger(__name__)

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTALL_FILE = os.path.join(PLUGIN_DIR, "install.json")
USER_FILE_NAME = "neural-layer-filters.json"
DEFAULT_ADDRESS = "127.0.0.1:50051"


@dataclass(frozen=True)
class Settings:
    address: str = DEFAULT_ADDRESS
    token: str = ""
    autostart: bool = True
    """start ``backend_command`` when nobody answers at a loopback address"""
    backend_command: List[str] = field(default_factory=list)
    """argv; ``{port}`` is replaced by the address's port"""
    backend_cwd: str = ""
    connect_timeout: float = 3.0
    startup_timeout: float = 90.0
    tls_ca: str = ""
    """PEM file of the CA that signed a TLS backend's certificate; empty = no TLS"""


_FIELDS = {
    "address": str,
    "token": str,
    "autostart": bool,
    "backend_command": list,
    "backend_cwd": str,
    "connect_timeout": float,
    "startup_timeout": float,
    "tls_ca": str,
}


def _read_json(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable settings file %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def _merge(base: Settings, raw: Mapping[str, Any]) -> Settings:
    changes: Dict[str, Any] = {}
    for key, typ in _FIELDS.items():
        if key not in raw or raw[key] is None:
            continue
        value = raw[key]
        if typ is list:
            if not isinstance(value, list):
                log.warning("ignoring setting %s: not a list", key)
                continue
            value = [str(v) for v in value]
        elif typ is bool:
            value = bool(value)
        else:
            try:
                value = typ(value)
            except (TypeError, ValueError):
                log.warning("ignoring setting %s = %r: not a %s", key, value, typ.__name__)
                continue
        changes[key] = value
    return replace(base, **changes)


def _env_flag(text: str) -> bool:
    return text.strip().lower() not in ("0", "false", "no", "off", "")


def user_file(profile_dir: str) -> str:
    return os.path.join(profile_dir, USER_FILE_NAME)


def load(
    profile_dir: Optional[str],
    env: Optional[Mapping[str, str]] = None,
    install_file: str = INSTALL_FILE,
) -> Settings:
    """The effective settings (see the module docstring for the order)."""
    env = os.environ if env is None else env
    s = _merge(Settings(), _read_json(install_file))
    if profile_dir:
        s = _merge(s, _read_json(user_file(profile_dir)))
    if env.get("NLF_SERVER"):
        s = replace(s, address=env["NLF_SERVER"])
    if "NLF_TOKEN" in env:
        s = replace(s, token=env["NLF_TOKEN"])
    if "NLF_TLS_CA" in env:
        s = replace(s, tls_ca=env["NLF_TLS_CA"])
    if "NLF_AUTOSTART" in env:
        s = replace(s, autostart=_env_flag(env["NLF_AUTOSTART"]))
    return s


def save_user(
    profile_dir: str, address: str, token: str, autostart: bool, tls_ca: Optional[str] = None
) -> str:
    """Write the user-editable settings (keeps other keys in the file); returns its path."""
    path = user_file(profile_dir)
    data = _read_json(path)
    data.update({"address": address.strip(), "token": token, "autostart": bool(autostart)})
    if tls_ca is not None:
        data["tls_ca"] = tls_ca.strip()
    os.makedirs(profile_dir, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
    if token:
        try:
            os.chmod(path, 0o600)
        except OSError:
            pass
    return path


def as_dict(s: Settings) -> Dict[str, Any]:
    """For logs: the settings with the token hidden."""
    d = asdict(s)
    if d["token"]:
        d["token"] = "***"
    return d
