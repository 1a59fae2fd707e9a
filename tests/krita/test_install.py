"""``python -m backend install-plugin krita``: files, kritarc, Krita's Python, vendored wheels."""

from __future__ import annotations

import argparse
import functools
import http.server
import threading
import zipfile
from pathlib import Path

import pytest

from backend.cli import build_parser
from backend.installers import editor_target, package, vendor
from backend.installers import krita as install_krita


def _args(tmp: Path, **kw) -> argparse.Namespace:
    base = {
        "editor": "krita",
        "profile": str(tmp / "share" / "krita"),
        "kritarc": str(tmp / "kritarc"),
        "python_version": None,
        "platform": None,
        "index_url": None,
        "root": None,
        "qt": None,
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
    assert (pkg / "docker.py").is_file() and (pkg / "nlf_client" / "proto").is_dir()
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
    out = package.krita_zip(tmp_path / "dist" / "nlf.zip")
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
    assert {"neural_layer_filters.desktop", "neural_layer_filters.action"} <= names
    assert "neural_layer_filters/__init__.py" in names
    assert "neural_layer_filters/nlf_client/proto/filters_pb2.py" in names
    assert not any("__pycache__" in n or "vendor/" in n for n in names)
    assert not (tmp_path / "actions").exists()


def _fake_root(tmp: Path, python: str, qt: int, grpc_abi: str | None, pyqt: bool) -> Path:
    """A filesystem holding a Krita whose Python is ``python`` (as in a chroot)."""
    root = tmp / "root"
    lib = root / "usr/lib/x86_64-linux-gnu/kritaplugins/kritapykrita.so"
    lib.parent.mkdir(parents=True)
    lib.write_bytes(b"\x7fELF libQt%dCore.so.%d\0libpython%s.so.1.0\0" % (qt, qt, python.encode()))
    site = root / "usr/lib/python3/dist-packages"
    (site / "google" / "protobuf").mkdir(parents=True)
    (site / "google" / "protobuf" / "__init__.py").write_text("")
    if grpc_abi:
        (site / "grpc" / "_cython").mkdir(parents=True)
        (site / "grpc" / "__init__.py").write_text("")
        core = f"cygrpc.cpython-{grpc_abi}-x86_64-linux-gnu.so"
        (site / "grpc" / "_cython" / core).write_text("")
    if pyqt:
        (site / f"PyQt{qt}").mkdir()
    bin_ = root / "usr" / "bin"
    bin_.mkdir(parents=True)
    (bin_ / "python3").symlink_to(f"python{python}")
    return root


@pytest.mark.parametrize(
    ("grpc_abi", "plan"), [("314", None), ("311", "3.14"), (None, "3.14")], ids=str
)
def test_target_krita_is_judged_by_its_own_files(tmp_path, grpc_abi, plan):
    """--root: Krita 6's Python 3.14 and Qt 6 come from its kritapykrita.so; grpc counts only
    when built for that Python (a cpython-311 core does not load in 3.14)."""
    root = _fake_root(tmp_path, "3.14", 6, grpc_abi, pyqt=True)
    target = editor_target.find_krita(root)
    assert (target.python_version, target.qt_major) == ("3.14", 6)
    args = _args(tmp_path, root=str(root))
    assert install_krita._grpc_plan(args) == plan
    line = install_krita.describe_target(args)
    assert "Python 3.14, Qt 6" in line and "warning" not in line


def test_target_without_its_pyqt_is_reported(tmp_path):
    """A Krita 6 whose Python lacks PyQt6 loads no Python plug-in: the installer says so."""
    root = _fake_root(tmp_path, "3.14", 6, "314", pyqt=False)
    assert "no PyQt6" in install_krita.describe_target(_args(tmp_path, root=str(root)))


def test_flags_say_what_no_file_can(tmp_path, monkeypatch):
    """Without a Krita to read, --python-version and --qt describe the target."""
    monkeypatch.setattr(editor_target, "KRITA_LIB_GLOBS", ())
    line = install_krita.describe_target(_args(tmp_path, python_version="3.13", qt=6))
    assert line.startswith("target Krita: Python 3.13, Qt 6")
    assert "not found" in install_krita.describe_target(_args(tmp_path))


def test_gimp_root_plan_reads_the_chroots_python(tmp_path):
    """GIMP in another root: its python3 link names the version; vendoring only without grpc."""
    from backend.installers import gimp as install_gimp

    assert install_gimp.root_plan(_fake_root(tmp_path / "a", "3.14", 5, "314", False)) is None
    assert install_gimp.root_plan(_fake_root(tmp_path / "b", "3.13", 5, None, False)) == "3.13"


def test_gimp_install_into_another_root_reads_its_python(tmp_path, capsys):
    """install-plugin gimp --root: GIMP's python3 there (3.14, with grpc) needs no wheels."""
    from backend.installers import gimp as install_gimp

    root = _fake_root(tmp_path, "3.14", 5, "314", False)
    args = _args(tmp_path, editor="gimp", profile=str(tmp_path / "gimp"), root=str(root))
    assert install_gimp.install(args) == 0
    assert "target GIMP: Python 3.14" in capsys.readouterr().out
    plugin = tmp_path / "gimp" / "plug-ins" / "neural-layer-filters"
    assert (plugin / "neural-layer-filters.py").is_file() and not (plugin / "vendor").exists()


def test_without_a_source_checkout_the_error_says_so(tmp_path: Path, monkeypatch) -> None:
    """Installed from a wheel (no plugin_krita/ beside the package): a clear error, nothing made."""
    monkeypatch.setattr(package, "REPO", tmp_path / "site-packages")
    with pytest.raises(FileNotFoundError, match="source checkout"):
        package.copy_krita_plugin(tmp_path / "pykrita")
    assert not (tmp_path / "pykrita").exists()
