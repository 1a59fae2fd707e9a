"""schema.json matches the backend registry; the installer lays the plug-in out as GIMP needs."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

from nlf_gimp.store import SCHEMA_FILE

from backend.filters.base import Context
from backend.installers.gimp import PLUGIN, copy_plugin, grpc_plan, install_plugin
from backend.serving.registry import Registry
from backend.serving.schema import schema_json

REGENERATE = (
    "T=$(mktemp -d); python -m backend dump-schema --weights-dir $T --attributes-dir $T "
    "--models-dir $T -o plugin_gimp/neural-layer-filters/schema.json"
)


def _first_difference(a: object, b: object, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{path}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) != len(b):
        ids_a = [x.get("id") or x.get("name") for x in a if isinstance(x, dict)]
        ids_b = [x.get("id") or x.get("name") for x in b if isinstance(x, dict)]
        if ids_a or ids_b:
            return f"{path}: committed has {ids_a}, current has {ids_b}"
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                name = x.get("id") or x.get("name") if isinstance(x, dict) else None
                return _first_difference(x, y, f"{path}[{name or i}]")
    return f"{path}: committed {a!r} != current {b!r}"


def test_schema_snapshot_is_current(tmp_path: Path) -> None:
    """The committed schema.json equals dump-schema's output with nothing installed."""
    ctx = Context(weights_dir=tmp_path, attributes_dir=tmp_path, models_dir=tmp_path)
    current = json.loads(json.dumps(schema_json(Registry(ctx)), sort_keys=True))
    with open(SCHEMA_FILE, encoding="utf-8") as f:
        committed = json.load(f)
    assert committed == current, (
        f"schema.json is stale ({_first_difference(committed, current)}); regenerate it with:\n"
        f"  {REGENERATE}"
    )


def test_install_layout(tmp_path: Path) -> None:
    """Folder name = entry file name, run bit set, nlf_client beside nlf_gimp, install.json."""
    dest = install_plugin(tmp_path / "profile", python=None)
    assert dest == tmp_path / "profile" / "plug-ins" / PLUGIN
    entry = dest / f"{PLUGIN}.py"
    assert entry.is_file() and os.access(entry, os.X_OK)
    assert stat.S_IMODE(entry.stat().st_mode) & 0o111 == 0o111
    assert (dest / "nlf_client" / "__init__.py").is_file()
    assert (dest / "nlf_client" / "proto" / "filters_pb2.py").is_file()
    assert (dest / "nlf_client" / "session" / "__init__.py").is_file()
    assert (dest / "nlf_gimp" / "procedures.py").is_file()
    assert (dest / "schema.json").read_text() == Path(SCHEMA_FILE).read_text()
    info = json.loads((dest / "install.json").read_text())
    assert info["backend_command"][:3] == [sys.executable, "-m", "backend"]
    assert "{port}" in info["backend_command"]
    assert not list(dest.rglob("__pycache__"))


def test_reinstall_replaces_and_keeps_vendor(tmp_path: Path) -> None:
    """Installing again replaces old files but keeps already vendored wheels."""
    dest = copy_plugin(tmp_path)
    (dest / "stale.py").write_text("")
    (dest / "vendor").mkdir()
    (dest / "vendor" / "grpc.txt").write_text("x")
    dest = copy_plugin(tmp_path)
    assert not (dest / "stale.py").exists()
    assert (dest / "vendor" / "grpc.txt").exists()


def test_grpc_plan_checks_gimps_python() -> None:
    """No vendoring when GIMP's Python imports grpc; its X.Y when it cannot; forced wins."""
    assert grpc_plan([sys.executable], None) is None
    version = "%d.%d" % sys.version_info[:2]
    assert grpc_plan([sys.executable, "-S", "-I"], None) == version
    assert grpc_plan([sys.executable], "3.13") == "3.13"
    assert grpc_plan(["/nonexistent/python3"], None) is None
