"""Where the GIMP plug-in keeps things: settings files over the core's defaults, the snapshot."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from nlf_gimp import store

from nlf_client.session.settings import DEFAULT_ADDRESS


def test_settings_precedence(tmp_path: Path) -> None:
    """defaults < install.json < user file < environment; auto-start is on by default."""
    install = tmp_path / "install.json"
    install.write_text(json.dumps({"backend_command": ["py", "-m", "backend"], "address": "a:1"}))
    profile = str(tmp_path / "profile")
    s = store.load_settings(profile, env={}, install_file=str(install))
    assert (s.address, s.backend_command, s.autostart) == ("a:1", ("py", "-m", "backend"), True)
    store.save_settings(profile, {"address": "b:2", "autostart": False})
    s = store.load_settings(profile, env={}, install_file=str(install))
    assert (s.address, s.autostart, s.backend_command) == ("b:2", False, ("py", "-m", "backend"))
    env = {"NLF_SERVER": "c:3", "NLF_TOKEN": "t", "NLF_AUTOSTART": "1"}
    s = store.load_settings(profile, env=env, install_file=str(install))
    assert (s.address, s.token, s.autostart) == ("c:3", "t", True)


def test_saving_keeps_other_keys_and_protects_a_token(tmp_path: Path) -> None:
    """The Settings procedure rewrites only its keys; a file with a token is private (0600);
    an unreadable file falls back to the defaults."""
    path = tmp_path / store.USER_FILE
    path.write_text(json.dumps({"connect_timeout": 7}))
    store.save_settings(str(tmp_path), {"address": "h:5", "token": "secret"})
    assert json.loads(path.read_text()) == {
        "connect_timeout": 7,
        "address": "h:5",
        "token": "secret",
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.load_settings(str(tmp_path), {}, "/nonexistent").connect_timeout == 7
    path.write_text("{not json")
    assert store.load_settings(str(tmp_path), {}, "/nonexistent").address == DEFAULT_ADDRESS


def test_one_procedure_per_filter_of_the_snapshot() -> None:
    """plug-in-nlf-<id> per filter of schema.json, dashes for underscores."""
    assert store.procedure_name("test_invert") == "plug-in-nlf-test-invert"
    procs = store.filters()
    assert procs and all(name == store.procedure_name(s.id) for name, s in procs.items())
    assert store.filters("/nonexistent/schema.json") == {}
