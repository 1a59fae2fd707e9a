"""The Krita plug-in inside real Krita 5.1, 5.3 and 6.0 under Xvfb (marker ``krita``).

Each test runs once per Krita in tests/editor_installs.py: Debian 12's Krita 5.1.5 on the host,
Krita 5.3.4 (Qt 5) in the Debian sid chroot and Krita 6.0.4 (Qt 6, PyQt6) in the experimental
one (``bash scripts/setup_chroot.sh sid|krita6``); in a chroot Krita reaches the backend on the
host over loopback. One Krita start runs tests/krita/gui_suite.py (with gui_product.py) through
the CI-only test-driver plug-in; every test below checks one scenario of that run. The plug-in is
installed with the real installer (``python -m backend install-plugin krita``, ``--root ROOTFS``
for a chroot) into a throwaway profile, restored from the cache that ``scripts/setup_krita.sh``
warms. Krita is bounded by a watchdog inside (exit 124) and by
``timeout`` outside, so a hung dialog can never hang CI. Artefacts: artifacts/krita/ (host),
artifacts/krita-6.0-experimental/ and so on. A chroot Krita's warmed profile is cached as
~/.cache/nlf/krita-profile-X.Y.tar.zst after its first good run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from backend.installers.krita import enable_plugin
from tests.conftest import ROOT, SHARED_DATA, missing_weights, require_editors, start_backend
from tests.editor_installs import CACHE, IN_ROOT, PATH, Install, krita_installs

pytestmark = pytest.mark.krita

HOST_PROFILE_CACHE = Path(
    os.environ.get("NLF_KRITA_PROFILE_CACHE", Path.home() / ".cache/nlf/krita-profile.tar.zst")
)
WATCHDOG_S = 240
ARTIFACTS = ROOT / "artifacts" / "krita"
INSTALLS = krita_installs()
GENKI_FACE = SHARED_DATA / "genki4k-train/non_smile/file2163.jpg"
REAL_WEIGHTS = ("vgg16-hed", "mtcnn")
STICKER_MODEL = "tiny-sticker"
SUITE_FILES = ("gui_suite.py", "gui_product.py", "live_suite.py")
IN_CHROOT = IN_ROOT + "/" + os.environ.get("NLF_KRITA_RUN_DIR", "krita")
"""This run's folder inside a chroot; NLF_KRITA_RUN_DIR keeps parallel runs apart."""


def copy_suite(dest: Path) -> None:
    """The GUI suite's files (gui_suite.py imports gui_product.py and runs live_suite.py
    from its own folder)."""
    for name in SUITE_FILES:
        shutil.copy2(ROOT / "tests/krita" / name, dest)


def profile_cache(install: Install) -> Path:
    """The warmed profile (``resourcecache.sqlite`` & co.) kept between runs, per Krita."""
    if install.rootfs is None:
        return HOST_PROFILE_CACHE
    return CACHE / f"krita-profile-{install.version}.tar.zst"


def _unavailable(install: Install) -> None:
    reason = install.missing()
    if reason is None and install.rootfs is None:
        missing = [p for p in ("krita", "xvfb-run", "timeout") if shutil.which(p) is None]
        if missing:
            reason = f"{', '.join(missing)} not installed: run bash scripts/setup_krita.sh"
    if reason:
        if require_editors():
            pytest.fail(reason)
        pytest.skip(reason)


def make_profile(home: Path, install: Install, extra: list[str] | None = None) -> None:
    """Restore the warmed profile if cached, then install the plug-in and the test driver."""
    cache = profile_cache(install)
    if cache.is_file() and shutil.which("zstd"):
        subprocess.run(f"zstd -dcq '{cache}' | tar -C '{home}' -xf -", shell=True, check=True)
    env = dict(os.environ, HOME=str(home))
    cmd = [sys.executable, "-m", "backend", "install-plugin", "krita"]
    if install.rootfs is not None:
        cmd += ["--root", str(install.rootfs)]
    cmd += extra or []
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pykrita = home / ".local/share/krita/pykrita"
    driver = ROOT / "tests/krita/pykrita"
    shutil.rmtree(pykrita / "krita_test_driver", ignore_errors=True)
    shutil.copytree(driver / "krita_test_driver", pykrita / "krita_test_driver")
    shutil.copy2(driver / "krita_test_driver.desktop", pykrita)
    enable_plugin(home / ".config/kritarc", "krita_test_driver")


def save_profile(home: Path, install: Install) -> None:
    """Cache a chroot Krita's warmed profile (without the plug-ins) for the next run."""
    cache = profile_cache(install)
    if install.rootfs is None or cache.is_file() or shutil.which("zstd") is None:
        return
    tmp = cache.with_suffix(".tmp")
    subprocess.run(
        f"tar -C '{home}' --exclude=./.local/share/krita/pykrita -cf - . "
        f"| zstd -3 -T0 -q -f -o '{tmp}'",
        shell=True,
        check=True,
    )
    tmp.replace(cache)


def run_krita(
    install: Install, home: Path, script: Path, out: Path, env_extra: dict[str, str]
) -> tuple[int, str]:
    """Run Krita under Xvfb with the driver; returns (exit status, log).

    Paths are the host's; for a chroot they are mapped to the same files inside it. Krita that
    never reached an X server (Xvfb lost the race for a display: rc 134, "could not connect to
    display") is started once more; that is the harness, not the plug-in."""
    rc, log = _run_krita_once(install, home, script, out, env_extra)
    if rc == 134 and "could not connect to display" in log:
        rc, log = _run_krita_once(install, home, script, out, env_extra)
    return rc, log


def _run_krita_once(
    install: Install, home: Path, script: Path, out: Path, env_extra: dict[str, str]
) -> tuple[int, str]:

    def inner(p: Path) -> str:
        return str(p) if install.rootfs is None else "/" + str(p.relative_to(install.rootfs))

    env = {
        "HOME": inner(home),
        "KRITA_TEST_SCRIPT": inner(script),
        "KRITA_TEST_TIMEOUT": str(WATCHDOG_S),
        "NLF_AUTOSTART": "0",  # backend_down must reach nothing, not start a backend there
        "NLF_TEST_OUT": inner(out),
        **env_extra,
    }
    krita = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", "krita", "--nosplash"]
    if install.rootfs is None:
        env = dict(os.environ, XDG_RUNTIME_DIR=tempfile.mkdtemp(prefix="xdg-"), **env)
        env.pop("NLF_TOKEN", None)
        cmd = krita
    else:
        xdg = install.host_path(IN_CHROOT + "-xdg")
        shutil.rmtree(xdg, ignore_errors=True)
        xdg.mkdir(mode=0o700, parents=True)
        env.update(PATH=PATH, LANG="C.UTF-8", XDG_RUNTIME_DIR=inner(xdg))
        cmd = install.command(krita, env)
        env = dict(os.environ)
    cmd = ["timeout", "-k", "10", str(WATCHDOG_S + 30), *cmd]
    with open(out / "krita.log", "w") as log:
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            rc = proc.wait(WATCHDOG_S + 60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
    return rc, (out / "krita.log").read_text(errors="replace")


def _stop_on_request(backend: Any, flag: Path, stop: threading.Event) -> None:
    while not stop.wait(0.05):
        if flag.exists():
            backend.server.stop(grace=0).wait()
            return


def start_real_backend(tmp: Path) -> tuple[str, Any, Any] | None:
    """A backend with the real weights (vgg16-hed, mtcnn) for dfi_real and dtn_sticker, when
    they and the GENKI crops are here; returns (address, server, worker)."""
    import torch

    from backend import dirs
    from backend.assets import weights
    from backend.filters.base import Context
    from backend.serving.registry import Registry
    from backend.serving.server import create_server

    root = dirs.weights_dir()
    if not GENKI_FACE.is_file() or any(weights.find(n, root) is None for n in REAL_WEIGHTS):
        return None
    from tests.prep.dtn import install_sticker

    install_sticker(tmp / "models", STICKER_MODEL)  # dtn_sticker's faces → emoji model
    ctx = Context(torch.device("cpu"), root, tmp / "attributes", tmp / "models")
    server, port, worker = create_server("127.0.0.1:0", Registry(ctx))
    server.start()
    return f"127.0.0.1:{port}", server, worker


def dfi_input() -> bytes:
    """512² textured canvas with a GENKI-4K face (non_smile) upscaled to 200 px at (156, 156),
    as Krita's U8 pixel data (BGRA)."""
    import numpy as np
    from PIL import Image

    yy, xx = np.mgrid[0:512, 0:512]
    rgb = np.stack(
        [
            120 + 60 * np.sin(xx / 9.0),
            110 + 50 * np.cos(yy / 7.0),
            90 + 40 * np.sin((xx + yy) / 13.0),
        ],
        -1,
    )
    rgb = (rgb + np.random.default_rng(0).normal(0, 12, rgb.shape)).clip(0, 255)
    rgb = rgb.astype(np.uint8)
    face = Image.open(GENKI_FACE).convert("RGB").resize((200, 200), Image.BICUBIC)
    rgb[156:356, 156:356] = np.asarray(face)
    bgra = np.concatenate([rgb[..., ::-1], np.full((512, 512, 1), 255, np.uint8)], axis=2)
    return np.ascontiguousarray(bgra).tobytes()


@pytest.fixture(scope="module", params=INSTALLS, ids=[i.name for i in INSTALLS])
def krita_run(
    request: pytest.FixtureRequest, live_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Run the whole GUI suite once per Krita; returns {"rc", "log", "results", "out"}."""
    install: Install = request.param
    _unavailable(install)
    if install.rootfs is None:
        home = tmp_path_factory.mktemp("krita-home")
        out = ARTIFACTS
        script = ROOT / "tests/krita/gui_suite.py"
    else:  # everything Krita reads or writes lives inside the rootfs
        base = install.host_path(IN_CHROOT)
        shutil.rmtree(base, ignore_errors=True)
        home, out, tests = base / "home", base / "out", base / "tests"
        for d in (home, tests):
            d.mkdir(parents=True)
        copy_suite(tests)
        script = tests / "gui_suite.py"
    make_profile(home, install)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    lost = start_backend(tmp_path_factory.mktemp("lost"))
    stop = threading.Event()
    watcher = threading.Thread(
        target=_stop_on_request, args=(lost, out / "lost.request", stop), daemon=True
    )
    watcher.start()
    # MRF on tiny nets: pure style (no content term) so that the selection visibly changes
    values = dict(live_server.overrides.get("mrf", {}), content_weight=0.0, iterations=5)
    product = {"id": "mrf", "values": values}
    env = {
        "NLF_SERVER": live_server.address,
        "NLF_LOST_SERVER": lost.address,
        "NLF_PRODUCT": json.dumps(product),
        "NLF_ONLY": os.environ.get("NLF_ONLY", ""),  # a comma list of scenarios to run
        "NLF_LIVE": json.dumps(
            {"id": "npe", "values": dict(live_server.overrides.get("npe", {}), align=False)}
        ),
    }
    real = start_real_backend(tmp_path_factory.mktemp("real"))
    if real is not None:
        (out / "dfi_input.bgra").write_bytes(dfi_input())
        env["NLF_REAL_SERVER"] = real[0]
        env["NLF_STICKER_MODEL"] = STICKER_MODEL
    t0 = time.monotonic()
    try:
        rc, log = run_krita(install, home, script, out, env)
    finally:
        stop.set()
        lost.worker.close()
        lost.server.stop(grace=0).wait()
        if real is not None:
            real[2].close()
            real[1].stop(grace=0).wait()
    took = time.monotonic() - t0
    results_file = out / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    if install.rootfs is not None:  # artefacts where the host run keeps them
        shutil.rmtree(ROOT / "artifacts" / install.name, ignore_errors=True)
        shutil.copytree(out, ROOT / "artifacts" / install.name)
        out = ROOT / "artifacts" / install.name
        if rc == 0:
            save_profile(home, install)
    print(f"{install.name} suite: rc {rc} in {took:.1f} s")
    return {"rc": rc, "log": log, "results": results, "out": out, "install": install, "env": env}


def _scenario(run: dict[str, Any], name: str) -> None:
    result = run["results"].get(name)
    if result is None:
        tail = "\n".join(run["log"].splitlines()[-60:])
        pytest.fail(f"scenario {name} did not run (Krita exit status {run['rc']}):\n{tail}")
    assert result["ok"], result["detail"]


def test_krita_version(krita_run):
    """The Krita that ran is the one this parameter names (5.1.x, 5.3.x, 6.0.x)."""
    install = krita_run["install"]
    assert install.upstream_version().startswith(install.version + "."), install.package_version()
    line = next((s for s in krita_run["log"].splitlines() if "driver: krita " in s), "")
    assert f"driver: krita {install.version}." in line, krita_run["log"][-3000:]
    assert f"PyQt{6 if install.version >= '6' else 5} " in line, line


def test_vendored_grpc_wheels_load_in_krita_6(live_server, tmp_path_factory):
    """``install-plugin krita --root ROOTFS --python-version 3.14`` vendors PyPI's cp314
    grpcio + protobuf wheels into a Krita 6 profile; Krita 6 loads the plug-in with them (not
    Debian's grpc), the docker lists the backend's filters and a filter runs."""
    install = next(i for i in INSTALLS if i.version == "6.0")
    _unavailable(install)
    base = install.host_path(IN_CHROOT + "-vendored")
    shutil.rmtree(base, ignore_errors=True)
    home, out, tests = base / "home", base / "out", base / "tests"
    for d in (home, out, tests):
        d.mkdir(parents=True)
    copy_suite(tests)
    make_profile(home, install, ["--python-version", "3.14"])
    vendor = home / ".local/share/krita/pykrita/neural_layer_filters/vendor"
    assert (vendor / "grpc").is_dir() and list((vendor / "grpc/_cython").glob("*cpython-314*"))
    env = {"NLF_SERVER": live_server.address, "NLF_LOST_SERVER": live_server.address}
    env["NLF_ONLY"] = "docker_and_menus,apply_u8_selection"
    rc, log = run_krita(install, home, tests / "gui_suite.py", out, env)
    assert rc == 0, log[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["docker_and_menus"]["ok"] and results["apply_u8_selection"]["ok"], results
    runtime = results["runtime"]["detail"]
    assert "/neural_layer_filters/vendor/grpc/" in runtime, runtime
    assert not runtime.startswith("grpc 1.51."), runtime  # not Debian's


def test_krita_exits_cleanly_with_the_suite_status(krita_run):
    """Krita ran the whole suite and exited with its status (no watchdog, no hang)."""
    assert krita_run["rc"] in (0, 2), krita_run["log"][-4000:]
    assert krita_run["rc"] == 0 or not all(r["ok"] for r in krita_run["results"].values())


def test_docker_lists_filters_and_menu_entries(krita_run):
    """The docker lists the backend's filters; Filter menu has one entry each + Ctrl+Alt+F."""
    _scenario(krita_run, "docker_and_menus")


def test_apply_changes_inside_the_selection_only(krita_run):
    """Apply: new layer above the source, inverted inside, blended in feathered parts,
    bit-identical outside; the source layer untouched."""
    _scenario(krita_run, "apply_u8_selection")


def test_repeat_last_filter_action(krita_run):
    """The Repeat Last Neural Filter action adds another result layer."""
    _scenario(krita_run, "repeat_last")


def test_preview_shows_a_low_res_result_without_adding_layers(krita_run):
    """The docker's Preview button shows a small result in the docker; no layer is added."""
    _scenario(krita_run, "preview")


def test_cancel_mid_job_leaves_document_unchanged(krita_run):
    """Cancel during test_slow: "Cancelled" shown, no layer added, source unchanged."""
    _scenario(krita_run, "cancel")


def test_backend_down_shows_error_in_docker(krita_run):
    """Backend not running: the docker says so with the serve command; no layer added."""
    _scenario(krita_run, "backend_down")


def test_connection_lost_mid_job(krita_run):
    """The backend stops during a job: error in the docker, document as it was."""
    _scenario(krita_run, "connection_lost")


def test_batch_over_a_group_of_three_layers(krita_run):
    """Batch over a group's 3 children: one result above each, right pixels, sources kept."""
    _scenario(krita_run, "batch_group")


@pytest.mark.parametrize("depth", ["u16", "f16", "f32"])
def test_deep_colour_documents_round_trip(krita_run, depth):
    """16-bit int and 16/32-bit float documents: results at the same depth, outside exact."""
    _scenario(krita_run, f"depth_{depth}")


def test_product_filter_with_a_layer_picker(krita_run):
    """MRF (tiny nets) with its style layer picked in the docker: changes inside only."""
    _scenario(krita_run, "product")


def test_mrf_colours_option_from_the_docker(krita_run):
    """MRF's ``colours`` combo set to photo: a new layer keeping the source's chroma."""
    _scenario(krita_run, "mrf_colours")


def test_dfi_real_weights_on_a_face_with_a_loose_selection(krita_run):
    """DFI (real vgg16-hed + MTCNN) from the docker on a 512² canvas with a 200 px GENKI face
    and a loose box: a new layer, the face changed, everything outside the box identical."""
    if not GENKI_FACE.is_file():
        pytest.skip(f"GENKI-4K crops not found at {GENKI_FACE.parent}")
    if "NLF_REAL_SERVER" not in krita_run["env"]:
        from backend import dirs
        from backend.assets import weights

        for name in REAL_WEIGHTS:
            if weights.find(name, dirs.weights_dir()) is None:
                missing_weights(name, dirs.weights_dir())
    _scenario(krita_run, "dfi_real")


def test_dtn_face_sticker_on_a_photo_with_a_loose_selection(krita_run):
    """``dtn`` with a tiny faces → emoji model (tests/prep/dtn.py: sticker_transfer, a yellow
    disc) and the real face finder, from the docker on the 512² canvas with a GENKI face and a
    loose box: one new layer whose alpha is the emoji's disc over the face (opaque at its
    centre, clear in the face square's corners and everywhere outside the selection), the
    source layer untouched. OUT/dtn_sticker.bgra: the layer."""
    if "NLF_REAL_SERVER" not in krita_run["env"]:
        pytest.skip("needs the face finder's weights (mtcnn) and the GENKI crops")
    _scenario(krita_run, "dtn_sticker")


def test_live_painting_refreshes_one_layer_as_strokes_arrive(krita_run):
    """ "Paint with NPE" on: strokes written into the paint layer (no click) refresh one result
    layer in place, inside the selection only and mostly (≥ 60 %) within 12 px of the stroke;
    a second stroke accumulates (state carried), restoring the paint layer restores its result
    without a run, Reset starts from the photo again, switching off stops the runs."""
    _scenario(krita_run, "live_paint")


def test_live_painting_with_the_built_in_face_model(krita_run):
    """Live mode with npe's built-in genki64 model on the real-weights backend (face finding
    on): on the 512² canvas with a GENKI face, a dark-brown stroke on the forehead and one down
    the left temple each darken the face under them, nothing outside the selection changes and
    ≥ 60 % of the change lies within 24 px of the strokes.
    Prints the stroke to refresh times; OUT/live_real*.png: the photo, the result, a screenshot."""
    if "NLF_REAL_SERVER" not in krita_run["env"]:
        pytest.skip("needs the real weights (vgg16-hed, mtcnn) and the GENKI crops")
    _scenario(krita_run, "live_real")


def test_screenshot_of_the_docker(krita_run):
    """A screenshot of Krita with the docker is saved as an artefact."""
    _scenario(krita_run, "screenshot")
    assert (krita_run["out"] / "krita-docker.png").stat().st_size > 10_000
