"""The Krita plug-in inside real Krita 5.1 under Xvfb (marker ``krita``).

One Krita start runs tests/krita/gui_suite.py through the CI-only test-driver plug-in; every
test below checks one scenario of that run. The plug-in is installed with the real installer
(``python -m backend install-plugin krita``) into a throwaway profile, restored from the cache that
``scripts/setup_krita.sh`` warms. Krita is bounded by a watchdog inside (exit 124) and by
``timeout`` outside, so a hung dialog can never hang CI. Artefacts: artifacts/krita/.
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

from backend.install_krita import enable_plugin
from tests.conftest import ROOT, require_editors, start_backend

pytestmark = pytest.mark.krita

PROFILE_CACHE = Path(
    os.environ.get("NLF_KRITA_PROFILE_CACHE", Path.home() / ".cache/nlf/krita-profile.tar.zst")
)
WATCHDOG_S = 240
ARTIFACTS = ROOT / "artifacts" / "krita"


def _need(*programs: str) -> None:
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        msg = f"{', '.join(missing)} not installed: run bash scripts/setup_krita.sh"
        if require_editors():
            pytest.fail(msg)
        pytest.skip(msg)


def make_profile(home: Path) -> None:
    """Restore the warmed profile if cached, then install the plug-in and the test driver."""
    if PROFILE_CACHE.is_file() and shutil.which("zstd"):
        subprocess.run(
            f"zstd -dcq '{PROFILE_CACHE}' | tar -C '{home}' -xf -", shell=True, check=True
        )
    env = dict(os.environ, HOME=str(home))
    subprocess.run(
        [sys.executable, "-m", "backend", "install-plugin", "krita"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    pykrita = home / ".local/share/krita/pykrita"
    driver = ROOT / "tests/krita/pykrita"
    shutil.rmtree(pykrita / "krita_test_driver", ignore_errors=True)
    shutil.copytree(driver / "krita_test_driver", pykrita / "krita_test_driver")
    shutil.copy2(driver / "krita_test_driver.desktop", pykrita)
    enable_plugin(home / ".config/kritarc", "krita_test_driver")


def run_krita(home: Path, script: Path, out: Path, env_extra: dict[str, str]) -> tuple[int, str]:
    """Run Krita under Xvfb with the driver; returns (exit status, log)."""
    env = dict(
        os.environ,
        HOME=str(home),
        XDG_RUNTIME_DIR=tempfile.mkdtemp(prefix="xdg-"),
        KRITA_TEST_SCRIPT=str(script),
        KRITA_TEST_TIMEOUT=str(WATCHDOG_S),
        NLF_TEST_OUT=str(out),
        **env_extra,
    )
    env.pop("NLF_TOKEN", None)
    cmd = ["timeout", "-k", "10", str(WATCHDOG_S + 30), "xvfb-run", "-a", "-s"]
    cmd += ["-screen 0 1600x1000x24", "krita", "--nosplash"]
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


@pytest.fixture(scope="module")
def krita_run(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the whole GUI suite once; returns {"rc", "log", "results"}."""
    _need("krita", "xvfb-run", "timeout")
    home = tmp_path_factory.mktemp("krita-home")
    make_profile(home)
    out = ARTIFACTS
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
    t0 = time.monotonic()
    try:
        rc, log = run_krita(
            home,
            ROOT / "tests/krita/gui_suite.py",
            out,
            {
                "NLF_SERVER": live_server.address,
                "NLF_LOST_SERVER": lost.address,
                "NLF_PRODUCT": json.dumps(product),
            },
        )
    finally:
        stop.set()
        lost.worker.close()
        lost.server.stop(grace=0).wait()
    results_file = out / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    print(f"krita suite: rc {rc} in {time.monotonic() - t0:.1f} s")
    return {"rc": rc, "log": log, "results": results}


def _scenario(run: dict[str, Any], name: str) -> None:
    result = run["results"].get(name)
    if result is None:
        tail = "\n".join(run["log"].splitlines()[-60:])
        pytest.fail(f"scenario {name} did not run (Krita exit status {run['rc']}):\n{tail}")
    assert result["ok"], result["detail"]


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


def test_screenshot_of_the_docker(krita_run):
    """A screenshot of Krita with the docker is saved as an artefact."""
    _scenario(krita_run, "screenshot")
    assert (ARTIFACTS / "krita-docker.png").stat().st_size > 10_000
