"""DFI on the tiny random backbone: scaling, residual trick, progress, cancel, missing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from backend.algorithms.features import tiny_backbone
from backend.assets import attributes
from backend.errors import Cancelled, Missing, WeightsMissing
from backend.filters import dfi, dfi_direction
from backend.filters.base import Context, FilterInput, Step
from backend.params import parse_values
from tests.prep.dfi import context as dfi_context
from tests.prep.dfi import prepare as _prepare


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return dfi_context(tmp_path)


def _job(h: int = 72, w: int = 64, box: tuple[int, int, int, int] = (8, 8, 56, 64)) -> FilterInput:
    gen = torch.Generator().manual_seed(3)
    image = torch.rand(1, 3, h, w, generator=gen)
    ones = torch.ones(1, 1, h, w)
    return FilterInput(image=image, alpha=ones, mask=ones, box=box)


def _params(f: dfi.DeepFeatureInterpolation, raw: dict[str, object]) -> dfi.DfiParams:
    return parse_values(dfi.DfiParams, raw, f.dynamic_choices())


def test_scaled_direction_has_the_feature_norm() -> None:
    """w is rescaled to ‖φ(x)‖ and resampled to the map's size, keeping its direction."""
    direction = torch.rand(4, 2, 2)
    feats = torch.rand(1, 4, 4, 4) * 7
    w = dfi.scaled_direction(direction, feats)
    assert w.shape == feats.shape
    assert torch.isclose(w.norm(), feats.norm(), rtol=1e-5)
    same = dfi.scaled_direction(direction, torch.rand(1, 4, 2, 2))
    cos = torch.nn.functional.cosine_similarity(same.flatten(), direction.flatten(), dim=0)
    assert cos > 0.9999
    assert torch.equal(dfi.scaled_direction(torch.zeros(4, 2, 2), feats), torch.zeros_like(feats))


def test_residual_trick_keeps_full_resolution_detail() -> None:
    """Only the upsampled low-res change is added: full-res detail and outside-box pixels stay."""
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 96, 96, generator=gen) * 0.5 + 0.25  # full-res noise = "detail"
    box = (16, 16, 80, 80)
    x = attributes.resize_square(image[..., 16:80, 16:80], 16)
    z = x + 0.1  # a smooth (constant) edit at the working resolution
    out = dfi.apply_residual(image, box, x, z, keep_colours=False)
    assert torch.allclose(out[..., 16:80, 16:80], image[..., 16:80, 16:80] + 0.1, atol=1e-6)
    outside = torch.ones(96, 96, dtype=torch.bool)
    outside[16:80, 16:80] = False
    assert torch.equal(out[..., outside], image[..., outside])
    assert torch.equal(dfi.apply_residual(image, box, x, x.clone(), keep_colours=True), image)


def test_keep_colours_applies_a_grey_change() -> None:
    """keep_colours turns a red-only change into an equal change of all three channels."""
    image = torch.full((1, 3, 32, 32), 0.5)
    x = torch.full((1, 3, 16, 16), 0.5)
    z = x.clone()
    z[:, 0] += 0.2
    out = dfi.apply_residual(image, (0, 0, 32, 32), x, z, keep_colours=True)
    change = (out - image).mean(dim=(2, 3))[0]
    assert torch.allclose(change, torch.full((3,), 0.2 * dfi_direction.LUMA[0]), atol=1e-6)


def test_square_box_is_square_and_inside() -> None:
    """A tall box becomes a square around its centre, shifted to stay inside the crop."""
    assert dfi.square_box((10, 0, 30, 40), 50, 60) == (0, 0, 40, 40)
    x0, y0, x1, y1 = dfi.square_box((40, 5, 50, 45), 50, 60)
    assert x1 - x0 == y1 - y0 == 40 and x1 <= 60 and y0 >= 0


def test_missing_until_a_pack_is_installed(ctx: Context) -> None:
    """No pack for the backbone -> Missing naming the build command; after prepare -> ready."""
    f = dfi.DeepFeatureInterpolation(ctx)
    (missing,) = f.missing()
    assert isinstance(missing, Missing)
    assert missing.command.startswith("python -m backend attributes build")
    assert f.dynamic_choices() == {"attributes": []}
    _prepare(ctx)
    assert f.missing() == []
    assert f.dynamic_choices() == {"attributes": ["smiling"]}


def test_missing_weights_reported_without_loading(tmp_path: Path) -> None:
    """With no backbone weights on disk, missing() reports WeightsMissing (nothing loads)."""
    ctx = Context(weights_dir=tmp_path / "none", attributes_dir=tmp_path / "a")
    (missing,) = dfi.DeepFeatureInterpolation(ctx).missing()
    assert isinstance(missing, WeightsMissing)
    assert "weights fetch vgg16-hed" in missing.command


def test_pack_of_another_backbone_is_not_offered(ctx: Context) -> None:
    """Packs built for another backbone are not choices for the current one."""
    pack = attributes.build_pack(
        "senior", [torch.rand(1, 3, 32, 32)], [torch.rand(1, 3, 32, 32)], tiny_backbone(), 32
    )
    other = attributes.AttributePack(**{**pack.__dict__, "backbone": "vgg16-hed", "sha256": ""})
    attributes.save_pack(other, ctx.attributes_dir)
    assert dfi.DeepFeatureInterpolation(ctx).dynamic_choices() == {"attributes": []}


def test_run_reports_progress_previews_and_output_size(ctx: Context) -> None:
    """Every iteration reports a Step, previews come every few, output matches the crop."""
    raw = _prepare(ctx) | {"iterations": 6, "method": "optimise"}
    f = dfi.DeepFeatureInterpolation(ctx)
    job = _job()
    steps: list[Step] = []
    (layer,) = f.run(job, _params(f, raw), steps.append)
    assert [s.i for s in steps] == list(range(7))
    previews = [s for s in steps if s.preview is not None]
    assert [s.i for s in previews] == [5, 6]
    assert previews[0].preview is not None and previews[0].preview.shape == (1, 3, 32, 32)
    assert layer.image.shape == job.image.shape
    assert float(layer.image.min()) >= 0.0 and float(layer.image.max()) <= 1.0
    assert layer.name == "DFI smiling 1"


def test_zero_strength_returns_the_input(ctx: Context) -> None:
    """α = 0: the target is φ(x), z stays x (optimise) and D(φ(x)) − D(φ(x)) = 0 (inverter), so
    the crop comes back unchanged."""
    for method in dfi.METHODS:
        raw = _prepare(ctx) | {"strength": 0.0, "iterations": 3, "method": method}
        f = dfi.DeepFeatureInterpolation(ctx)
        job = _job()
        (layer,) = f.run(job, _params(f, raw), lambda s: None)
        assert torch.equal(layer.image, job.image)


def test_edit_moves_features_along_the_attribute(ctx: Context) -> None:
    """After the edit, relu4_1 of the face has moved towards mean_with along w."""
    _prepare(ctx)
    backbone = ctx.backbone()
    pack = attributes.load_pack(attributes.pack_path(ctx.attributes_dir, "tiny", "smiling"))
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.enable_grad():
        out = dfi.edit_face(backbone, pack, image, (0, 0, 32, 32), 1.0, 8, 32, False)
    w = pack.direction("relu4_1").flatten()
    with torch.no_grad():
        before = backbone(image, ["relu4_1"])["relu4_1"].flatten() @ w
        after = backbone(out, ["relu4_1"])["relu4_1"].flatten() @ w
    assert after > before
    assert not torch.equal(out, image)


def test_cancel_between_iterations(ctx: Context) -> None:
    """on_step raising Cancelled stops the run at that step."""
    raw = _prepare(ctx) | {"iterations": 50, "method": "optimise"}
    f = dfi.DeepFeatureInterpolation(ctx)
    seen: list[int] = []

    def on_step(step: Step) -> None:
        seen.append(step.i)
        if step.i == 2:
            raise Cancelled()

    with pytest.raises(Cancelled):
        f.run(_job(), _params(f, raw), on_step)
    assert seen == [0, 1, 2]


def test_pack_is_loaded_once(ctx: Context) -> None:
    """The pack is cached on the filter instance between runs."""
    raw = _prepare(ctx) | {"iterations": 1}
    f = dfi.DeepFeatureInterpolation(ctx)
    f.run(_job(), _params(f, raw), lambda s: None)
    first = f._packs[("tiny", "smiling")]
    f.run(_job(), _params(f, raw), lambda s: None)
    assert f._packs[("tiny", "smiling")] is first


def test_face_already_at_working_resolution(ctx: Context) -> None:
    """A channels-last face box exactly the working size (no resampling) is optimised too."""
    raw = _prepare(ctx) | {"iterations": 2, "strength": 1.0, "method": "optimise"}
    f = dfi.DeepFeatureInterpolation(ctx)
    hwc = torch.rand(40, 40, 3, generator=torch.Generator().manual_seed(2))
    image = hwc.permute(2, 0, 1)[None]  # non-contiguous, like an image converted from HWC
    ones = torch.ones(1, 1, 40, 40)
    job = FilterInput(image=image, alpha=ones, mask=ones, box=(4, 4, 36, 36))
    (layer,) = f.run(job, _params(f, raw), lambda s: None)
    assert layer.image.shape == (1, 3, 40, 40)
    assert not torch.equal(layer.image, image)
