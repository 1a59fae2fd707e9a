"""The ``dtn`` face sticker inside real GIMP 3.0.4 / 3.2.6 (marker ``gimp``).

A backend with the real face finder (mtcnn) and a tiny faces → emoji model
(tests/prep/dtn.py: ``sticker_transfer``, which draws a yellow disc with eyes and a mouth); one
GIMP console session (in_gimp/sticker_run.py) runs plug-in-nlf-dtn on a 512² photo with a GENKI
face through a loose selection and checks the result layer (in_gimp/sticker_checks.py). Its own
folder (/opt/nlf-sticker in the rootfs) keeps it apart from tests/gimp/test_real.py's session.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import ROOT, SHARED_DATA, missing_weights, require_editors
from tests.editor_installs import (
    Install,
    gimp_binary,
    gimp_console_command,
    gimp_installs,
    run_gimp_console,
)
from tests.gimp.test_real import GIMP_TIMEOUT, _restore_profile, profile_cache

pytestmark = pytest.mark.gimp

GENKI_FACE = SHARED_DATA / "genki4k-train/non_smile/file2163.jpg"
MODEL = "tiny-sticker"
INSTALLS = gimp_installs()


def face_photo() -> bytes:
    """512² RGBA u8: noise with the GENKI face at (156, 156), 200 px."""
    canvas = np.random.default_rng(0).integers(60, 200, (512, 512, 4)).astype(np.uint8)
    canvas[..., 3] = 255
    face = Image.open(GENKI_FACE).convert("RGB").resize((200, 200), Image.Resampling.BICUBIC)
    canvas[156:356, 156:356, :3] = np.asarray(face)
    return canvas.tobytes()


@pytest.fixture(scope="module", params=INSTALLS, ids=[i.name for i in INSTALLS])
def sticker_session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict:
    from backend import dirs
    from backend.assets import weights
    from backend.filters.base import Context
    from backend.installers.gimp import install_plugin
    from backend.serving.registry import Registry
    from backend.serving.server import create_server
    from tests.prep.dtn import install_sticker

    gimp_install: Install = request.param
    reason = gimp_install.missing()
    if reason:
        if require_editors():
            pytest.fail(reason)
        pytest.skip(reason)
    if not GENKI_FACE.is_file():
        pytest.skip(f"GENKI-4K crops not found at {GENKI_FACE.parent}")
    if weights.find("mtcnn", dirs.weights_dir()) is None:
        missing_weights("mtcnn", dirs.weights_dir())
    rootfs = gimp_install.rootfs
    assert rootfs is not None
    tmp = tmp_path_factory.mktemp("sticker")
    install_sticker(tmp / "models", MODEL)
    ctx = Context(torch.device("cpu"), dirs.weights_dir(), tmp / "attributes", tmp / "models")
    server, port, worker = create_server("127.0.0.1:0", Registry(ctx))
    server.start()
    base = rootfs / "opt" / "nlf-sticker"
    profile, out, tests_dir, inp = (base / d for d in ("profile", "out", "tests", "in"))
    for d in (out, tests_dir, inp):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    cache = profile_cache(gimp_install)
    if not (profile / "pluginrc").exists() and cache.exists():
        _restore_profile(profile, cache)
    (profile / "neural-layer-filters.json").unlink(missing_ok=True)
    install_plugin(profile, python=["chroot", str(rootfs), "/usr/bin/python3"])
    for f in (ROOT / "tests" / "gimp" / "in_gimp").glob("*.py"):
        shutil.copy2(f, tests_dir / f.name)
    (inp / "face.rgba").write_bytes(face_photo())
    plan = {
        "server": f"127.0.0.1:{port}",
        "out": "/opt/nlf-sticker/out",
        "tests_dir": "/opt/nlf-sticker/tests",
        "plugin_dir": "/opt/nlf-sticker/profile/plug-ins/neural-layer-filters",
        "face": "/opt/nlf-sticker/in/face.rgba",
        "model": MODEL,
        "filters": [],
    }
    (inp / "plan.json").write_text(json.dumps(plan, indent=2))
    script = "/opt/nlf-sticker/tests/sticker_run.py"
    binary = gimp_binary(gimp_install, console=True)
    cmd = gimp_console_command(rootfs, binary, "/opt/nlf-sticker", script, GIMP_TIMEOUT)

    def stop() -> None:
        worker.close()
        server.stop(grace=0).wait()

    names = ("gimp-sticker.log", "sticker_report.json")
    run = run_gimp_console(cmd, out, names, stop, GIMP_TIMEOUT)
    print(f"{gimp_install.name} sticker session: rc {run.rc} in {run.seconds:.1f} s")
    return {"rc": run.rc, "log": run.log, "checks": run.checks, "out": Path(out)}


def test_dtn_face_sticker_in_gimp(sticker_session: dict[str, Any]) -> None:
    """plug-in-nlf-dtn with the tiny faces → emoji model on a photo, loose selection around
    the face: one new layer whose alpha is the emoji's disc over the face, clear around it and
    outside the selection; the photo untouched. OUT/dtn_sticker.rgba: the layer."""
    result = sticker_session["checks"].get("dtn_sticker")
    if result is None:
        pytest.fail(f"the check did not run (GIMP status {sticker_session['rc']}):\n"
                    + sticker_session["log"][-3000:])  # fmt: skip
    assert result["ok"], result["detail"]
    assert sticker_session["rc"] == 0, sticker_session["log"][-3000:]
    print("dtn_sticker:", result["detail"])
