"""End to end with the real offline weights: a real server on 127.0.0.1, the real client.

CI fetches vgg16-hed first (scripts/test.sh) and sets NLF_REQUIRE_WEIGHTS=1, so a missing
download fails there instead of skipping.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from backend import dirs
from backend.assets import weights
from backend.filters.base import Context
from backend.serving.registry import Registry
from backend.serving.server import create_server
from nlf_client import Client, Layer, Mask
from tests.conftest import SHARED_DATA, missing_weights
from tests.fakes import as_array

pytestmark = [pytest.mark.weights, pytest.mark.slow]
GENKI = SHARED_DATA / "genki4k-train"
DOODLE = SHARED_DATA / "doodle"


@pytest.fixture(scope="module")
def real_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    root = dirs.weights_dir()
    if weights.find("vgg16-hed", root) is None:
        missing_weights("vgg16-hed", root)
    tmp = tmp_path_factory.mktemp("real")
    ctx = Context(torch.device("cpu"), root, tmp / "attributes", tmp / "models")
    server, port, worker = create_server("127.0.0.1:0", Registry(ctx))
    server.start()
    client = Client.connect(f"127.0.0.1:{port}")
    yield client
    client.close()
    worker.close()
    server.stop(0).wait()


def _layer(rgb: np.ndarray) -> Layer:
    h, w = rgb.shape[:2]
    rgba = np.concatenate([rgb, np.full((h, w, 1), 255, np.uint8)], axis=2)
    return Layer(rgba.tobytes(), w, h)


def test_dfi_makes_a_held_out_face_smile(real_client: Client) -> None:
    """Over gRPC, the default DFI edit raises an independent classifier's P(smile)."""
    if not GENKI.is_dir():
        pytest.skip(f"GENKI-4K crops not found at {GENKI}")
    from backend.evaluation.hog_smile import read_rgb, split_files, train

    status = real_client.status().filter_status("dfi")
    assert status is not None and status.ready, status
    clf, accuracy = train(GENKI)
    assert accuracy > 0.75
    faces = [read_rgb(p) for p in split_files(GENKI)["val"]["non_smile"][:8]]
    face = min(faces, key=clf.score)
    canvas = np.full((96, 96, 3), 128, np.uint8)
    canvas[16:80, 16:80] = face
    layer = _layer(canvas)
    mask = np.zeros((96, 96), np.uint8)
    mask[16:80, 16:80] = 255
    steps = []
    (out,) = real_client.run(
        "dfi", layer, Mask(mask.tobytes(), 96, 96), on_progress=steps.append
    ).layers
    result = as_array(out)
    before, after = clf.score(face), clf.score(result[16:80, 16:80, :3])
    assert after > before + 0.2, f"P(smile) {before:.3f} -> {after:.3f}"
    outside = mask == 0
    assert np.array_equal(result[outside], as_array(layer)[outside])
    # queued, finding faces, then one step per face decoded (the default method=inverter)
    assert [s.stage for s in steps][-2:] == ["faces", "decoding"], steps


def _load(name: str, size: tuple[int, int], nearest: bool) -> np.ndarray:
    from PIL import Image

    im = Image.open(DOODLE / name).convert("RGB")
    return np.asarray(im.resize(size, Image.NEAREST if nearest else Image.LANCZOS))


def test_mrf_doodle_semantic_agreement(real_client: Client) -> None:
    """Over gRPC, a small Renoir doodle puts the right style regions in the target's regions."""
    if not DOODLE.is_dir():
        pytest.skip(f"doodle example data not at {DOODLE}")
    from PIL import Image

    from backend.algorithms.semantic import semantic_agreement
    from backend.assets.nets import load_backbone

    sw, sh = Image.open(DOODLE / "Renoir.jpg").size
    ssize = (112, round(112 * sh / sw)) if sw >= sh else (round(112 * sw / sh), 112)
    tw, th = Image.open(DOODLE / "Landscape_sem.png").size
    tsize = (112, round(112 * th / tw)) if tw >= th else (round(112 * tw / th), 112)
    style = _load("Renoir.jpg", ssize, False)
    style_map = _load("Renoir_sem.png", ssize, True)
    target_map = _load("Landscape_sem.png", tsize, True)
    canvas = np.full(target_map.shape, 128, np.uint8)
    params = {"content_weight": 0.0, "max_size": 112, "levels": 2, "iterations": 20}
    (out,) = real_client.run(
        "mrf",
        _layer(canvas),
        None,
        params,
        {"style": _layer(style), "style_map": _layer(style_map), "target_map": _layer(target_map)},
    ).layers

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.array(a[..., :3])).permute(2, 0, 1)[None].float() / 255

    net = load_backbone("vgg16-hed", dirs.weights_dir())
    score = semantic_agreement(net, t(as_array(out)), t(style), t(style_map), t(target_map))
    assert score >= 0.95, f"semantic agreement {score:.3f}"
