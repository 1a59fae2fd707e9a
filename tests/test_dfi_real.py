"""DFI with the real vgg16-hed weights and the built-in "smiling" pack on held-out GENKI faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from backend import attributes, dirs
from backend.filters import dfi
from backend.filters.base import Context, FilterInput
from backend.params import parse_values
from tests.conftest import missing_weights

pytestmark = pytest.mark.weights

GENKI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "genki4k-train"


@pytest.fixture(scope="module")
def hed_weights() -> Path:
    from backend import weights

    root = dirs.weights_dir()
    if weights.find("vgg16-hed", root) is None:
        missing_weights("vgg16-hed", root)
    return root


@pytest.fixture(scope="module")
def classifier():
    if not GENKI.is_dir():
        pytest.skip(f"GENKI-4K crops not found at {GENKI} (../shared/data is absent)")
    from scripts.smile_classifier import train

    clf, accuracy = train(GENKI)
    assert accuracy > 0.75, f"independent classifier too weak ({accuracy:.2f}) to measure DFI"
    return clf


def test_builtin_pack_matches_backbone() -> None:
    """The committed built-in pack loads, passes its sha256 and is for vgg16-hed at 128 px."""
    path = attributes.pack_path(attributes.BUILTIN_DIR, "vgg16-hed", "smiling")
    pack = attributes.load_pack(path)
    assert pack.backbone == "vgg16-hed" and pack.resolution == attributes.DEFAULT_RESOLUTION
    assert path.stat().st_size <= 2_000_000


def test_validation_face_moves_towards_smiling(hed_weights: Path, classifier, tmp_path: Path):
    """The default edit raises the independent classifier's P(smile) on a held-out face."""
    from backend.features import load_backbone
    from scripts.smile_classifier import read_rgb, split_files

    torch.set_num_threads(2)
    faces = [read_rgb(p) for p in split_files(GENKI)["val"]["non_smile"][:8]]
    face = min(faces, key=classifier.score)  # a clearly non-smiling held-out face
    before = classifier.score(face)
    ctx = Context(
        weights_dir=hed_weights,
        attributes_dir=tmp_path,  # empty: the built-in pack must be found
        backbone_factory=lambda: load_backbone("vgg16-hed", hed_weights),
    )
    f = dfi.DeepFeatureInterpolation(ctx)
    assert f.missing() == [] and "smiling" in f.dynamic_choices()["attributes"]
    p = parse_values(dfi.DfiParams, {}, f.dynamic_choices())
    canvas = np.full((96, 96, 3), 128, np.uint8)
    canvas[16:80, 16:80] = face
    image = torch.from_numpy(canvas).permute(2, 0, 1)[None].float() / 255
    ones = torch.ones(1, 1, 96, 96)
    (layer,) = f.run(FilterInput(image, ones, ones, (16, 16, 80, 80)), p, lambda s: None)
    out = (layer.image[0].permute(1, 2, 0) * 255 + 0.5).clamp(0, 255).to(torch.uint8).numpy()
    after = classifier.score(out[16:80, 16:80])
    assert after > before + 0.2, f"P(smile) {before:.3f} -> {after:.3f}"
    diff = np.abs(out[16:80, 16:80].astype(int) - face.astype(int)).mean()
    assert diff < 20, f"face changed too much (mean abs diff {diff:.1f} / 255)"
