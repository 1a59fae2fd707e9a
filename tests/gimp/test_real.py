"""The GIMP plug-in inside real GIMP 3.0.4 (Debian 13 chroot) and 3.2.6 (Debian sid chroot).

Every test runs once per GIMP in tests/editor_installs.py, with the binaries found by version
(``gimp-console-3.0``/``gimp-3.0``, ``gimp-console-3.2``/``gimp-3.2``). One GIMP session
(in_gimp/run_checks.py, through python-fu-eval) calls every procedure through the PDB against
the ``live_server`` backend on 127.0.0.1 (the chroot shares the host's network) and writes a
report; each test below asserts one part of it. Needs root and the rootfs from
``bash scripts/setup_gimp.sh`` / ``bash scripts/setup_chroot.sh sid``; skipped without them
unless NLF_REQUIRE_EDITORS=1 (CI), where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from backend.serving.registry import Registry
from backend.serving.server import create_server
from nlf_client.session import schema_to_json
from tests.conftest import ROOT, require_editors, tiny_context
from tests.editor_installs import (
    CACHE,
    Install,
    gimp_binary,
    gimp_console_command,
    gimp_installs,
    run_gimp_console,
)
from tests.fakes import TEST_FILTERS

pytestmark = pytest.mark.gimp

INSTALLS = gimp_installs()
GIMP_TIMEOUT = int(os.environ.get("NLF_GIMP_TIMEOUT", "240"))
PLUGIN_SRC = ROOT / "plugin_gimp" / "neural-layer-filters"
PROFILE_CACHE_30 = Path(
    os.environ.get("NLF_GIMP_PROFILE_CACHE", str(CACHE / "gimp-profile.tar.gz"))
)
W, H, SEL = 64, 48, (16, 8, 24, 16)
TOKEN = "gimp-test-token"


def profile_cache(install: Install) -> Path:
    if install.version == "3.0":
        return PROFILE_CACHE_30
    return CACHE / f"gimp-profile-{install.version}.tar.gz"


def _save_profile(profile: Path, cache: Path) -> None:
    """Cache the warmed GIMP profile (tiny) without the plug-in and its settings."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    subprocess.run(
        ["tar", "-C", str(profile), "--exclude=./plug-ins/neural-layer-filters",
         "--exclude=./neural-layer-filters.json", "-czf", str(tmp), "."],
        check=True, timeout=60,
    )  # fmt: skip
    tmp.replace(cache)


def _restore_profile(profile: Path, cache: Path) -> None:
    profile.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-C", str(profile), "-xzf", str(cache)], check=True, timeout=60)


def _src_u8(seed: int = 0) -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W]
    return np.stack(
        [
            (x * 4 + seed) % 256,
            (y * 5 + 3 * seed) % 256,
            (x * y + seed) % 256,
            np.full_like(x, 255),
        ],
        axis=-1,
    ).astype(np.uint8)


def _dead_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"  # closed again: nobody listens there


def _plan_filters(live_server: Any, specs: list) -> list[dict[str, Any]]:
    sys.path.insert(0, str(PLUGIN_SRC))
    from nlf_gimp.store import procedure_name

    out = []
    for spec in specs:
        kinds = {p.name: p.kind for p in spec.params}
        overrides = live_server.overrides.get(spec.id)
        params = {}
        for name, value in (overrides or {}).items():
            kind = kinds.get(name)
            if kind == "colour" and not isinstance(value, str):
                value = "#%02x%02x%02x%02x" % tuple(
                    round(c * 255) for c in (value.r, value.g, value.b, value.a)
                )
            params[name] = [kind, value]
        dynamic = next((p.name for p in spec.params if p.dynamic), None)
        out.append(
            {
                "id": spec.id,
                "proc": procedure_name(spec.id),
                "product": overrides is not None,
                "params": params,
                "layer_params": [p.name for p in spec.params if p.kind == "layer"],
                "dynamic_param": dynamic,
                "kinds": sorted(set(kinds.values())),
                "static_choice": any(p.kind == "choice" and not p.dynamic for p in spec.params),
                "required_layer": next(
                    (p.label for p in spec.params if p.kind == "layer" and p.required), None
                ),
            }
        )
    return out


@pytest.fixture(scope="module", params=INSTALLS, ids=[i.name for i in INSTALLS])
def gimp_install(request: pytest.FixtureRequest) -> Install:
    install: Install = request.param
    reason = install.missing()
    if reason:
        if require_editors():
            pytest.fail(reason)
        pytest.skip(reason)
    return install


@pytest.fixture(scope="module")
def gimp_session(
    gimp_install: Install, live_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Install the plug-in into the rootfs, run all in-GIMP checks once, return their report."""
    install = gimp_install
    rootfs = install.rootfs
    assert rootfs is not None
    cache = profile_cache(install)
    console = gimp_binary(install, console=True)
    from backend.installers.gimp import install_plugin

    sys.path.insert(0, str(PLUGIN_SRC))

    base = rootfs / "opt" / "nlf"
    profile, out, tests_dir, batch_in = (
        base / "profile",
        base / "out",
        base / "tests",
        base / "in" / "batch",
    )
    for d in (out, tests_dir, batch_in):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    if not (profile / "pluginrc").exists() and cache.exists():
        _restore_profile(profile, cache)  # skips GIMP's ~8 s first-run query of its own plug-ins
    (profile / "neural-layer-filters.json").unlink(missing_ok=True)  # no settings from before
    dest = install_plugin(profile, python=["chroot", str(rootfs), "/usr/bin/python3"])
    shutil.copy2(ROOT / "tests/gimp/dialog_hook.py", dest / "nlf_gimp" / "test_dialog.py")
    with live_server.client() as client:
        specs = client.list_filters()
    # The live backend also serves the test-only filters: register procedures for them too.
    (dest / "schema.json").write_text(json.dumps(schema_to_json(specs), indent=2))
    for f in (ROOT / "tests" / "gimp" / "in_gimp").glob("*.py"):
        shutil.copy2(f, tests_dir / f.name)
    for i, seed in enumerate((1, 2)):
        Image.fromarray(_src_u8(seed), "RGBA").save(batch_in / f"img{i}.png")
    token_server, token_port, token_worker = create_server(
        "127.0.0.1:0",
        Registry(tiny_context(tmp_path_factory.mktemp("gimp-token")), list(TEST_FILTERS)),
        token=TOKEN,
    )
    token_server.start()
    plan = {
        "server": live_server.address,
        "token_server": f"127.0.0.1:{token_port}",
        "token": TOKEN,
        "dead_server": _dead_address(),
        "out": "/opt/nlf/out",
        "tests_dir": "/opt/nlf/tests",
        "plugin_dir": "/opt/nlf/profile/plug-ins/neural-layer-filters",
        "batch_in": "/opt/nlf/in/batch",
        "filters": _plan_filters(live_server, specs),
    }
    (base / "in" / "plan.json").write_text(json.dumps(plan, indent=2))
    script = "/opt/nlf/tests/run_checks.py"
    cmd = gimp_console_command(rootfs, console, "/opt/nlf", script, GIMP_TIMEOUT)

    def stop() -> None:
        token_worker.close()
        token_server.stop(grace=0).wait()

    run = run_gimp_console(cmd, out, ("gimp.log", "report.json"), stop, GIMP_TIMEOUT)
    if run.rc == 0 and not cache.exists():
        _save_profile(profile, cache)
    return {
        "install": install,
        "binary": console,
        "rc": run.rc,
        "log": run.log,
        "checks": run.checks,
        "out": out,
        "seconds": run.seconds,
        "batch_in": batch_in,
        "plan": plan,
    }


def _start_xvfb() -> tuple[subprocess.Popen, int]:
    """Xvfb on a free display, unix socket only; returns (process, display number)."""
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-nolisten", "tcp", "-ac",
         "-screen", "0", "1280x1024x24"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        display = pipe.readline().strip()
    if not display.isdigit():
        xvfb.kill()
        raise RuntimeError("Xvfb did not report a display")
    return xvfb, int(display)


@pytest.fixture(scope="module")
def gimp_gui_session(gimp_session: dict[str, Any], live_server: Any) -> dict[str, Any]:
    """The GUI binary (gimp-3.0, gimp-3.2) under Xvfb: interactive runs through the generated
    dialogs. The chroot gets /proc, /sys, /dev/shm and /dev/pts in a private mount namespace:
    GIMP 3.2's GTK loads SVG icons through glycin loaders sandboxed with bwrap, which need them
    (and the rootfs's /etc/machine-id, written by scripts/setup_chroot.sh)."""
    install: Install = gimp_session["install"]
    rootfs = install.rootfs
    gui = gimp_binary(install, console=False)
    if shutil.which("Xvfb") is None:
        if require_editors():
            pytest.fail("Xvfb is missing (apt-get install xvfb)")
        pytest.skip("Xvfb is missing (apt-get install xvfb)")
    base = rootfs / "opt" / "nlf"
    plan = dict(gimp_session["plan"])
    filters = [f["proc"] for f in plan["filters"] if f["id"] not in ("test_invert", "test_slow")]
    plan["dialog_cancel"] = filters
    (base / "in" / "dialog_plan.json").write_text(json.dumps(plan, indent=2))
    (base / "profile" / "neural-layer-filters.json").write_text(
        json.dumps({"address": "127.0.0.1:5", "autostart": False, "connect_timeout": 2})
    )  # the settings dialog shows (and saves) these, not the NLF_SERVER override below
    answers = ["plug-in-nlf-test-invert=ok", "plug-in-nlf-test-slow=cancel",
               "plug-in-nlf-settings=ok"] + [f"{p}=cancel" for p in filters]  # fmt: skip
    xvfb, display = _start_xvfb()
    inner = (
        f"mkdir -p {rootfs}/tmp/.X11-unix && mount --bind /tmp/.X11-unix {rootfs}/tmp/.X11-unix"
        f" && mount -t proc proc {rootfs}/proc && mount -t sysfs sysfs {rootfs}/sys"
        f" && mount -t tmpfs -o mode=1777 tmpfs {rootfs}/dev/shm"
        f" && mount -t devpts -o newinstance,ptmxmode=0666 devpts {rootfs}/dev/pts"
        f" && exec chroot {rootfs} env -i HOME=/root PATH=/usr/bin:/bin LANG=C.UTF-8"
        f" DISPLAY=:{display} GIMP3_DIRECTORY=/opt/nlf/profile NLF_AUTOSTART=0"
        f" NLF_SERVER={live_server.address} NLF_PLAN=/opt/nlf/in/dialog_plan.json"
        f" NLF_TEST_DIALOG={','.join(answers)}"
        f" {gui} --no-splash --no-data --no-fonts --batch-interpreter=python-fu-eval"
        """ -b 'exec(open("/opt/nlf/tests/dialog_checks.py").read())' --quit"""
    )
    cmd = ["timeout", "-k", "10", str(GIMP_TIMEOUT), "unshare", "--mount", "--propagation",
           "private", "sh", "-c", inner]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=GIMP_TIMEOUT + 30)
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)
    log = proc.stdout + proc.stderr
    out = base / "out"
    (out / "gimp-gui.log").write_text(log)
    report_path = out / "dialog_report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {"checks": {}}
    dialogs, buttons, texts = {}, {}, {}
    for line in log.splitlines():
        if "NLF_DIALOG " in line:
            name, *types = line.split("NLF_DIALOG ", 1)[1].split()
            dialogs[name] = set(types)
        if "NLF_DIALOG_BUTTON " in line:
            name, label = line.split("NLF_DIALOG_BUTTON ", 1)[1].split(maxsplit=1)
            buttons[name] = label.strip()
        if "NLF_DIALOG_TEXT " in line:
            name, _, text = line.split("NLF_DIALOG_TEXT ", 1)[1].partition(" ")
            texts[name] = text
    return {"rc": proc.returncode, "log": log, "checks": report["checks"], "dialogs": dialogs,
            "buttons": buttons, "texts": texts, "plan": plan}  # fmt: skip


def _assert_check(session: dict[str, Any], name: str) -> dict[str, Any]:
    result = session["checks"].get(name)
    assert result is not None, (
        f"check {name} did not run (gimp-console status {session['rc']}):\n{session['log'][-4000:]}"
    )
    assert result["ok"], f"{name} failed in GIMP:\n{result['detail']}"
    return result


def test_gimp_binary_found_by_version(gimp_session: dict[str, Any]) -> None:
    """The console binary is the versioned one of the GIMP installed there (3.0.x, 3.2.x)."""
    install = gimp_session["install"]
    assert install.upstream_version().startswith(install.version + "."), install.package_version()
    assert gimp_session["binary"] == f"gimp-console-{install.version}"


def test_gimp_session_exit_status(gimp_session: dict[str, Any]) -> None:
    """gimp-console exits 0 after the checks (64 would mean a failed check or batch error)."""
    assert gimp_session["rc"] == 0, gimp_session["log"][-4000:]


def test_procedures_registered(gimp_session: dict[str, Any]) -> None:
    """Every filter of the schema plus the batch and settings procedures are in the PDB."""
    _assert_check(gimp_session, "procedures_registered")


def test_invert_in_rect_selection(gimp_session: dict[str, Any]) -> None:
    """A new layer above the source: inverted inside the selection, bit-identical outside."""
    _assert_check(gimp_session, "invert_u8_rect_selection")


def test_u16_and_float_precision(gimp_session: dict[str, Any]) -> None:
    """16-bit and float images go through at their precision; outside stays bit-identical."""
    _assert_check(gimp_session, "invert_u16_precision")
    _assert_check(gimp_session, "invert_float_precision")


def test_linear_light_image(gimp_session: dict[str, Any]) -> None:
    """A 32-bit float linear-light image: inverted in sRGB encoding inside, equal outside."""
    _assert_check(gimp_session, "invert_linear_light")


def test_grayscale_image(gimp_session: dict[str, Any]) -> None:
    """A grayscale image gets a grayscale result layer: inverted inside, identical outside."""
    _assert_check(gimp_session, "grayscale_image")


def test_feathered_selection(gimp_session: dict[str, Any]) -> None:
    """A feathered selection blends by coverage; unselected pixels are untouched."""
    _assert_check(gimp_session, "feathered_selection")


def test_with_last_values(gimp_session: dict[str, Any]) -> None:
    """A WITH_LAST_VALS run reuses the previous run's values."""
    _assert_check(gimp_session, "last_values")


def test_every_product_filter(gimp_session: dict[str, Any]) -> None:
    """Each product filter's procedure adds layers changed inside and identical outside."""
    _assert_check(gimp_session, "product_filters")


def test_mrf_colours_argument(gimp_session: dict[str, Any]) -> None:
    """plug-in-nlf-mrf has a ``colours`` choice (painting | photo | unchanged); ``photo`` keeps
    the source's chroma where ``painting`` does not."""
    _assert_check(gimp_session, "mrf_colours")


def test_npe_with_a_paint_layer(gimp_session: dict[str, Any]) -> None:
    """plug-in-nlf-npe with a paint layer (one stroke), the face box selected and genki64: one
    new layer, changed inside the box only, mostly near the stroke (a whole-box change fails);
    photo and paint layer kept; an empty paint layer changes nothing."""
    _assert_check(gimp_session, "npe_paint_layer")


def test_invalid_value_is_reported(gimp_session: dict[str, Any]) -> None:
    """A bad dynamic choice comes back as EXECUTION_ERROR carrying the backend's message."""
    _assert_check(gimp_session, "invalid_value_error")


def test_large_layer(gimp_session: dict[str, Any]) -> None:
    """A 1024x1024 layer goes through the plug-in exactly (inverted inside, identical outside)."""
    _assert_check(gimp_session, "large_layer_1024")


def test_missing_required_layer_is_reported(gimp_session: dict[str, Any]) -> None:
    """A required layer parameter left empty fails with a message naming it."""
    _assert_check(gimp_session, "missing_required_layer")


def test_script_fu_call(gimp_session: dict[str, Any]) -> None:
    """A filter procedure is callable from Script-Fu (the layer comes back inverted)."""
    _assert_check(gimp_session, "script_fu")


def test_token_from_settings(gimp_session: dict[str, Any]) -> None:
    """The token saved by the Settings procedure is sent; a wrong one is reported as such."""
    _assert_check(gimp_session, "token")


def test_backend_down_is_reported(gimp_session: dict[str, Any]) -> None:
    """With nobody listening the procedure fails with a message naming the address."""
    _assert_check(gimp_session, "backend_down_error")


def test_batch_over_layers(gimp_session: dict[str, Any]) -> None:
    """The layers batch filters every layer and puts each result above its source."""
    _assert_check(gimp_session, "batch_layers")


def test_batch_over_folder(gimp_session: dict[str, Any]) -> None:
    """The folder batch writes one inverted PNG per input file, checked here on the host."""
    _assert_check(gimp_session, "batch_folder")
    out = gimp_session["out"] / "batch"
    for i, seed in enumerate((1, 2)):
        got = np.asarray(Image.open(out / f"img{i}.test_invert.png").convert("RGBA"))
        src = _src_u8(seed)
        want = src.copy()
        want[..., :3] = 255 - src[..., :3]
        assert np.array_equal(got, want)


def test_exported_png_on_host(gimp_session: dict[str, Any]) -> None:
    """The PNG GIMP exported holds the inverted rectangle and the untouched rest."""
    _assert_check(gimp_session, "export_png")
    got = np.asarray(Image.open(gimp_session["out"] / "invert.png").convert("RGBA"))
    want = _src_u8()
    x, y, w, h = SEL
    want[y : y + h, x : x + w, :3] = 255 - want[y : y + h, x : x + w, :3]
    assert got.shape == (H, W, 4)
    assert np.array_equal(got, want)


def test_gui_session_exit_status(gimp_gui_session: dict[str, Any]) -> None:
    """The GUI session (gimp-3.0, gimp-3.2) with the interactive checks exits 0."""
    assert gimp_gui_session["rc"] == 0, gimp_gui_session["log"][-4000:]


def test_interactive_dialog_ok_runs_the_filter(gimp_gui_session: dict[str, Any]) -> None:
    """INTERACTIVE shows the generated dialog; OK runs the filter and adds the layer."""
    _assert_check(gimp_gui_session, "dialog_ok_runs_filter")
    assert gimp_gui_session["buttons"].get("plug-in-nlf-test-invert") == "_OK", gimp_gui_session[
        "buttons"
    ]
    assert "GimpProcedureDialog" in gimp_gui_session["dialogs"]["plug-in-nlf-test-invert"]


def test_interactive_cancel_changes_nothing(gimp_gui_session: dict[str, Any]) -> None:
    """Clicking the dialog's Cancel button returns CANCEL and adds no layer."""
    _assert_check(gimp_gui_session, "dialog_cancel_changes_nothing")
    assert gimp_gui_session["buttons"].get("plug-in-nlf-test-slow") == "_Cancel", gimp_gui_session[
        "buttons"
    ]


def test_every_filter_dialog_has_widgets_for_its_params(gimp_gui_session: dict[str, Any]) -> None:
    """Each product filter's dialog is generated with a widget per kind of parameter."""
    _assert_check(gimp_gui_session, "dialogs_for_every_filter")
    # the widget GIMP generates for each kind; 3.2 has its own for layers and short choices
    want = {
        "layer": {"GimpDrawableChooser", "GimpItemChooser"},
        "colour": {"GimpColorButton"},
        "bool": {"GtkCheckButton"},
        "float": {"GimpLabelSpin"},
        "int": {"GimpLabelSpin"},
    }
    checked = 0
    for f in gimp_gui_session["plan"]["filters"]:
        if f["proc"] not in gimp_gui_session["plan"]["dialog_cancel"]:
            continue
        checked += 1
        widgets = gimp_gui_session["dialogs"].get(f["proc"])
        assert widgets, f"no dialog seen for {f['proc']}"
        for kind, widget in want.items():
            if kind in f["kinds"]:
                assert widget & widgets, f"{f['proc']}: no {widget} for {kind}: {widgets}"
        if f["static_choice"]:
            choice = {"GimpStringComboBox", "GimpIntComboBox", "GimpIntRadioFrame"}
            assert choice & widgets, f"{f['proc']}: no choice widget: {widgets}"
        if f["dynamic_param"]:
            assert "GtkEntry" in widgets, f"{f['proc']}: no entry for a dynamic choice: {widgets}"
    assert checked, "no product filter dialog was checked"


def test_dialog_shows_installed_models(gimp_gui_session: dict[str, Any]) -> None:
    """The CycleGAN dialog (built from the snapshot) shows the live backend's installed models
    with their inferred architecture and classes in a label (session.fetch_notes)."""
    _assert_check(gimp_gui_session, "dialogs_for_every_filter")
    text = gimp_gui_session["texts"].get("plug-in-nlf-cyclegan", "")
    assert "Installed: tiny (ResnetGenerator 2 blocks, ngf 4" in text, text
    assert "classes: business, casual)" in text, text


def test_settings_dialog_saves(gimp_gui_session: dict[str, Any]) -> None:
    """The settings dialog (OK) writes the address into the profile's settings file."""
    _assert_check(gimp_gui_session, "settings_dialog")
