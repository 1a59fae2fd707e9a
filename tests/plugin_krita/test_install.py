"""``python -m backend install-plugin krita``: files, kritarc, Krita's Python, vendored wheels."""

from __future__ import annotations

import argparse
import functools
import http.server
import threading
import zipfile
from pathlib import Path

import pytest

from backend import install_krita, vendor
from backend.cli import build_parser
from backend.cli.install import load_package


def _args(tmp: Path, **kw) -> argparse.Namespace:
    base = {
        "editor": "krita",
        "profile": str(tmp / "share" / "krita"),
        "kritarc": str(tmp / "kritarc"),
        "python_version": None,
        "platform": None,
        "index_url": None,
    }
    return argparse.Namespace(**{**base, **kw})


def test_cli_offers_install_plugin_for_both_editors():
    """The command parses for krita and gimp with the shared options."""
    args = build_parser().parse_args(
        ["install-plugin", "krita", "--profile", "/p", "--python-version", "3.10"]
    )
    assert (args.editor, args.profile, args.python_version) == ("krita", "/p", "3.10")
    assert build_parser().parse_args(["install-plugin", "gimp"]).editor == "gimp"


def test_set_ini_edits_one_key_and_keeps_the_rest(tmp_path):
    """kritarc keeps every other line; keys are added once, overwritten only when asked."""
    rc = tmp_path / "kritarc"
    rc.write_text("[General]\nfoo=1\n\n[python]\nenable_other=true\n[Zed]\nx=%1\n")
    assert install_krita.set_ini(rc, "python", "enable_nlf", "true")
    assert not install_krita.set_ini(rc, "python", "enable_nlf", "true")
    install_krita.set_ini(rc, "nlf", "python", "/a")
    assert not install_krita.set_ini(rc, "nlf", "python", "/b", overwrite=False)
    text = rc.read_text()
    assert text.startswith("[General]\nfoo=1\n\n[python]\nenable_nlf=true\nenable_other=true\n")
    assert "[Zed]\nx=%1\n" in text and text.count("enable_nlf") == 1
    assert text.endswith("[nlf]\npython=/a\n")


def test_install_copies_plugin_client_and_shortcuts_and_enables_it(tmp_path, monkeypatch):
    """The plug-in, its nlf_client copy and the .action file land in the profile; re-running
    is harmless."""
    monkeypatch.setattr(install_krita, "krita_python", lambda: None)
    for _ in range(2):
        assert install_krita.install(_args(tmp_path)) == 0
    profile = tmp_path / "share" / "krita"
    pkg = profile / "pykrita" / "neural_layer_filters"
    assert (profile / "pykrita" / "neural_layer_filters.desktop").is_file()
    assert (pkg / "docker.py").is_file() and (pkg / "nlf_client" / "_proto").is_dir()
    assert not list(pkg.rglob("__pycache__"))
    assert "ctrl+alt+f" in (profile / "actions" / "neural_layer_filters.action").read_text()
    rc = (tmp_path / "kritarc").read_text()
    assert rc.count("enable_neural_layer_filters=true") == 1
    assert "[neural_layer_filters]" in rc and "python=" in rc


def test_default_kritarc_follows_a_home_style_profile(tmp_path):
    """A HOME/.local/share/krita profile gets HOME/.config/kritarc."""
    profile = tmp_path / ".local" / "share" / "krita"
    assert install_krita.default_kritarc(profile) == tmp_path / ".config" / "kritarc"


def _fake_krita(tmp: Path, version: str, python_ok: bool | None) -> Path:
    lib = tmp / "usr" / "lib" / "x86_64-linux-gnu" / "kritaplugins" / "kritapykrita.so"
    lib.parent.mkdir(parents=True)
    lib.write_bytes(b"\x7fELF junk libpython" + version.encode() + b".so.1.0\0more")
    if python_ok is not None:
        py = tmp / "usr" / "bin" / f"python{version}"
        py.parent.mkdir(parents=True)
        py.write_text(f"#!/bin/sh\nexit {0 if python_ok else 1}\n")
        py.chmod(0o755)
    return lib


@pytest.mark.parametrize(("python_ok", "plan"), [(True, None), (False, "3.10"), (None, "3.10")])
def test_krita_python_is_found_and_checked_for_grpc(tmp_path, monkeypatch, python_ok, plan):
    """The libpython Krita links decides the version; wheels only when that Python lacks gRPC."""
    lib = _fake_krita(tmp_path, "3.10", python_ok)
    monkeypatch.setattr(install_krita, "_LIB_GLOBS", (str(lib),))
    version, python = install_krita.krita_python()
    assert (version, python) == ("3.10", tmp_path / "usr" / "bin" / "python3.10")
    assert install_krita._grpc_plan(_args(tmp_path)) == plan


def _wheel(folder: Path, name: str, version: str, tag: str, module: str) -> Path:
    path = folder / f"{name}-{version}-{tag}.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{module}/__init__.py", f"__version__ = '{version}'\n")
        zf.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        zf.writestr(
            f"{info}/WHEEL",
            f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: {tag}\n",
        )
        zf.writestr(f"{info}/RECORD", "")
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def wheel_index(tmp_path):
    """A PEP 503 index on 127.0.0.1 with fake grpcio (cp39, manylinux) and protobuf wheels."""
    root = tmp_path / "index"
    files = root / "files"
    files.mkdir(parents=True)
    wheels = [
        _wheel(files, "grpcio", "9.0.0", "cp39-cp39-manylinux2014_x86_64", "grpc"),
        _wheel(files, "grpcio", "9.0.0", "cp311-cp311-manylinux2014_x86_64", "grpc"),
        _wheel(files, "protobuf", "9.0.0", "py3-none-any", "google/protobuf"),
    ]
    for project in ("grpcio", "protobuf"):
        page = root / "simple" / project
        page.mkdir(parents=True)
        links = "".join(
            f'<a href="../../files/{w.name}">{w.name}</a>\n'
            for w in wheels
            if w.name.startswith(project)
        )
        (page / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    server.shutdown()


def test_vendoring_fetches_wheels_for_the_editors_python(tmp_path, wheel_index):
    """--python-version picks that Python's wheels and unpacks them into the plug-in's vendor/."""
    args = _args(
        tmp_path, python_version="3.9", platform=["manylinux2014_x86_64"], index_url=wheel_index
    )
    assert install_krita.install(args) == 0
    vendored = tmp_path / "share" / "krita" / "pykrita" / "neural_layer_filters" / "vendor"
    assert (vendored / "grpc" / "__init__.py").is_file()
    assert (vendored / "google" / "protobuf" / "__init__.py").is_file()
    assert (vendored / "grpcio-9.0.0.dist-info" / "WHEEL").read_text().count("cp39-cp39") == 1
    # a plain re-install keeps the vendored wheels
    assert install_krita.install(_args(tmp_path)) == 0
    assert (vendored / "grpc" / "__init__.py").is_file()


def test_vendoring_reports_pip_failures(tmp_path, wheel_index):
    """No wheel for the asked Python: the error carries pip's explanation."""
    with pytest.raises(RuntimeError, match="pip download failed"):
        vendor.vendor(
            tmp_path / "v", "3.7", ["manylinux2014_x86_64"], pip_args=["--index-url", wheel_index]
        )
    assert not (tmp_path / "v").exists()


def test_download_command_targets_another_interpreter(tmp_path):
    """pip is asked for binary wheels of the given version and every platform tag."""
    cmd = vendor.download_command(
        tmp_path, "3.10", ["win_amd64", "x"], pip_args=["--index-url", "u"]
    )
    joined = " ".join(cmd)
    assert "--only-binary=:all:" in cmd and "--python-version 3.10" in joined
    assert "--platform win_amd64 --platform x" in joined and cmd[-2:] == list(vendor.PACKAGES)


def test_krita_zip_has_what_kritas_importer_expects(tmp_path):
    """The zip holds the .desktop, the .action and the package (with nlf_client) at its root."""
    out = load_package().krita_zip(tmp_path / "dist" / "nlf.zip")
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
    assert {"neural_layer_filters.desktop", "neural_layer_filters.action"} <= names
    assert "neural_layer_filters/__init__.py" in names
    assert "neural_layer_filters/nlf_client/_proto/filters_pb2.py" in names
    assert not any("__pycache__" in n or "vendor/" in n for n in names)
    assert not (tmp_path / "actions").exists()
