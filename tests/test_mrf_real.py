"""The ``mrf`` filter with the real vgg16-hed backbone on the neural-doodle example data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from backend import dirs
from backend.algorithms.features import VGGFeatures
from backend.assets.nets import load_backbone
from tests.conftest import missing_weights

pytestmark = pytest.mark.weights

DOODLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "doodle"
SIZE = 112
"""Long side of the small doodle (Renoir + Renoir_sem -> Landscape_sem)."""
FAST = {"levels": 2, "iterations": 20}


@pytest.fixture(scope="module")
def net() -> VGGFeatures:
    from backend.assets import weights

    if not DOODLE.is_dir():
        pytest.skip(f"doodle example data not at {DOODLE}")
    root = dirs.weights_dir()
    if weights.find("vgg16-hed", root) is None:
        missing_weights("vgg16-hed", root)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    return load_backbone("vgg16-hed", root)


def test_small_doodle_reaches_semantic_agreement_goal(net: VGGFeatures) -> None:
    """At least 95 % of interior output patches match style patches of the target's label."""
    from backend.evaluation.doodle_runs import doodle

    out, score = doodle(net, SIZE, FAST)
    assert out.shape[-1] == SIZE
    assert score >= 0.95, f"semantic agreement {score:.3f} below the 0.95 goal"


def test_masked_styling_leaves_outside_pixels_bit_identical(net: VGGFeatures) -> None:
    """Styling a feathered disc through the job runner changes the disc and nothing outside."""
    from backend.evaluation.doodle_runs import run_masked

    before, after, changed_outside = run_masked(net, 96, {"levels": 1, "iterations": 5})
    assert changed_outside == 0
    assert float((after[:, :3] - before[:, :3]).abs().max()) > 0.05


def test_masked_styling_takes_the_style_palette_inside(net: VGGFeatures) -> None:
    """Inside the selection the styled region is far closer to the painting's colours."""
    from backend.evaluation.doodle_runs import DATA as DOODLE_DATA
    from backend.evaluation.doodle_runs import disc_cover, load, run_masked
    from backend.evaluation.mrf_metrics import lab_swd

    photo, painting = DOODLE_DATA / "Renoir.jpg", DOODLE_DATA / "Gogh.jpg"
    before, after, _ = run_masked(net, 96, {"levels": 2, "iterations": 5}, None, photo, painting)
    style = load(painting, 96)[:, :3]
    inside = disc_cover(*before.shape[-2:]) >= 0.5

    def region(x: torch.Tensor) -> torch.Tensor:
        return x[0, :3][:, inside].reshape(1, 3, 1, -1)

    d_before, d_after = lab_swd(region(before), style), lab_swd(region(after), style)
    assert d_after < 0.5 * d_before, (d_before, d_after)
