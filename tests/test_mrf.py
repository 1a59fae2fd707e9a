"""The ``mrf`` filter on the tiny random backbone: contract, progress, cancel, maps, errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from backend.algorithms.features import tiny_backbone
from backend.algorithms.mrf_solver import MRF_LAYERS, Problem, Settings, _Level, match_colours
from backend.errors import Cancelled, ParamError
from backend.filters.base import Context, FilterInput, Step, registered
from backend.filters.mrf import MrfParams, NeuralDoodle, working_size
from backend.params import LayerRef, parse_values, schema_of
from tests.prep.mrf import prepare

RED, BLUE = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)


def _filter() -> NeuralDoodle:
    return NeuralDoodle(Context(backbone_factory=lambda: tiny_backbone(0)))


def _two_region_map(h: int, w: int, left=RED, right=BLUE) -> torch.Tensor:
    m = torch.ones(1, 4, h, w)
    m[0, :3, :, : w // 2] = torch.tensor(left).view(3, 1, 1)
    m[0, :3, :, w // 2 :] = torch.tensor(right).view(3, 1, 1)
    return m


def _job(h: int = 40, w: int = 56, **extras: torch.Tensor) -> FilterInput:
    g = torch.Generator().manual_seed(0)
    extras.setdefault("style", torch.rand(1, 4, 64, 64, generator=g))
    return FilterInput(
        image=torch.rand(1, 3, h, w, generator=g),
        alpha=torch.ones(1, 1, h, w),
        mask=torch.ones(1, 1, h, w),
        box=(0, 0, w, h),
        extras=extras,
    )


def _params(**kw: object) -> MrfParams:
    raw = {**prepare(Context()), **kw}
    layers = ["style"] + [n for n in ("style_map", "target_map") if raw.pop(n, False)]
    return parse_values(MrfParams, raw, layers=layers)


def test_registered_with_schema() -> None:
    """The filter is registered as 'mrf' with a required style layer and two optional maps."""
    from backend.filters import load_all

    load_all()
    assert registered()["mrf"] is NeuralDoodle
    specs = {s.name: s for s in schema_of(MrfParams)}
    assert specs["style"].kind == "layer" and specs["style"].required
    assert not specs["style_map"].required and not specs["target_map"].required
    assert specs["preset"].choices == ("preview", "final")


@pytest.mark.parametrize("preset", ["preview", "final"])
def test_output_is_crop_sized_and_in_range(preset: str) -> None:
    """Both presets return one layer at the crop's size with values in [0, 1]."""
    job = _job()
    out = _filter().run(job, _params(preset=preset), lambda s: None)
    assert len(out) == 1
    assert out[0].image.shape == (1, 3, 40, 56)
    assert float(out[0].image.min()) >= 0.0 and float(out[0].image.max()) <= 1.0
    assert not torch.equal(out[0].image, job.image)


def test_progress_reports_every_iteration_with_level_stages() -> None:
    """Every iteration reports a step; stages name the pyramid level; previews come along.

    ``iterations`` counts the finest level; the coarser one runs twice as many.
    """
    steps: list[Step] = []
    p = _params(levels=2, iterations=3, max_size=64)
    _filter().run(_job(64, 64), p, steps.append)
    assert [s.i for s in steps] == list(range(1, 10))
    assert {s.total for s in steps} == {9}
    assert [s.stage for s in steps] == ["level 1/2"] * 6 + ["level 2/2"] * 3
    steps = []
    _filter().run(_job(64, 64), _params(levels=1, iterations=10, max_size=64), steps.append)
    assert steps[9].preview is not None and steps[9].preview.shape[1] == 3


def test_cancel_stops_between_iterations() -> None:
    """Cancelled raised by on_step propagates and no further iteration runs."""
    seen: list[int] = []

    def on_step(step: Step) -> None:
        seen.append(step.i)
        if step.i == 2:
            raise Cancelled()

    with pytest.raises(Cancelled):
        _filter().run(_job(), _params(iterations=5), on_step)
    assert seen == [1, 2]


def test_mrf_loss_decreases() -> None:
    """Optimisation lowers the MRF energy of the crop compared with the input."""
    net = tiny_backbone(0)
    job = _job(48, 48)
    style = job.extras["style"][:, :3]
    out = _filter().run(job, _params(iterations=15, max_size=48), lambda s: None)[0].image
    level = _Level(net, job.image, style, Problem(job.image, style), Settings(content_weight=0))
    with torch.no_grad():
        assert float(level.loss(out)) < 0.8 * float(level.loss(job.image))
    assert MRF_LAYERS == ("relu3_1", "relu4_1")


def test_style_layers_setting_chooses_the_mrf_layers() -> None:
    """``Settings.style_layers`` (measured in docs/quality-mrf.md) builds a bank per layer and
    every one of them enters the loss."""
    net = tiny_backbone(0)
    job = _job(48, 48)
    style = job.extras["style"][:, :3]
    layers = ("relu2_1", "relu3_1", "relu4_1")
    s = Settings(content_weight=0, style_layers=layers, tv_weight=0)
    level = _Level(net, job.image, style, Problem(job.image, style), s)
    assert tuple(level.banks) == layers
    x = job.image.clone().requires_grad_(True)
    level.loss(x)
    assert tuple(level.targets) == layers
    default = _Level(net, job.image, style, Problem(job.image, style), Settings(content_weight=0))
    assert tuple(default.banks) == MRF_LAYERS


def test_doodle_runs_with_maps_of_other_sizes() -> None:
    """Style and target maps of other sizes are resized; pure doodle (content 0) works."""
    job = _job(
        40,
        56,
        style_map=_two_region_map(32, 32),
        target_map=_two_region_map(80, 112, BLUE, RED),
    )
    p = _params(style_map=True, target_map=True, content_weight=0.0)
    assert p.style_map == LayerRef("style_map")
    for preset in ("preview", "final"):
        out = _filter().run(job, dataclasses.replace(p, preset=preset), lambda s: None)
        assert out[0].image.shape == (1, 3, 40, 56)
        assert out[0].name.startswith("Doodle")


def test_target_colour_missing_from_style_map_is_a_param_error() -> None:
    """A target map colour absent from the style map is refused, naming the colour."""
    job = _job(
        style_map=_two_region_map(64, 64), target_map=_two_region_map(40, 56, RED, (0, 1, 0))
    )
    with pytest.raises(ParamError, match="#00ff00"):
        _filter().run(job, _params(style_map=True, target_map=True), lambda s: None)


def test_one_map_alone_is_a_param_error() -> None:
    """A style map without a target map (or the reverse) is refused."""
    job = _job(style_map=_two_region_map(64, 64))
    with pytest.raises(ParamError, match="both"):
        _filter().run(job, _params(style_map=True), lambda s: None)


def test_working_size() -> None:
    """The long side is capped at max_size; the short side never falls below the floor; a
    shape that cannot have both (the floor would push the long side past max_size) is refused."""
    assert working_size((300, 600), 384, 24) == (192, 384)
    assert working_size((100, 80), 384, 24) == (100, 80)
    assert working_size((12, 60), 128, 24) == (24, 120)
    for size in ((10, 200), (1, 2000), (2000, 1)):
        with pytest.raises(ParamError, match="too long and thin"):
            working_size(size, 128, 24)


def test_match_colours_gives_each_region_the_style_colour_moments() -> None:
    """Per map class, the image takes the mean and std of the style's colours in that class."""
    g = torch.Generator().manual_seed(7)
    x, style = torch.rand(1, 3, 20, 30, generator=g) * 0.5, torch.rand(1, 3, 16, 16, generator=g)
    style[:, :, :, :8] = style[:, :, :, :8] * 0.4 + 0.1  # ranges that need no clamping
    style[:, :, :, 8:] = style[:, :, :, 8:] * 0.2 + 0.7
    s_lab = torch.zeros(16, 16, dtype=torch.long)
    s_lab[:, 8:] = 1
    t_lab = torch.zeros(20, 30, dtype=torch.long)
    t_lab[:10] = 1
    problem = Problem(x, style, target_labels=t_lab, style_labels=s_lab, classes=2)
    out = match_colours(x, style, problem)
    for c in (0, 1):
        got = out[0][:, t_lab == c]
        want = style[0][:, s_lab == c]
        assert torch.allclose(got.mean(1), want.mean(1), atol=1e-4)
        assert torch.allclose(got.std(1), want.std(1), atol=1e-3)


@pytest.mark.parametrize("colours", ["painting", "photo", "unchanged"])
def test_masked_styling_through_the_runner_changes_nothing_outside(colours: str) -> None:
    """Through the job runner, a feathered selection changes pixels inside and none outside."""
    import numpy as np

    from backend.serving.imaging import WireImage
    from backend.serving.jobs import Job, execute

    g = torch.Generator().manual_seed(3)
    h, w = 72, 88
    layer = (torch.rand(h, w, 4, generator=g) * 255).round().byte().numpy()
    style = (torch.rand(64, 64, 4, generator=g) * 255).round().byte().numpy()
    yy, xx = np.mgrid[:h, :w]
    cover = np.clip((20 - np.hypot(yy - 36, xx - 44)) / 3 + 0.5, 0, 1)
    mask = (cover * 255).round().astype(np.uint8)
    job = Job(
        "mrf",
        WireImage(w, h, "u8", layer.tobytes()),
        WireImage(w, h, "u8", mask.tobytes()),
        {**prepare(Context()), "colours": colours},
        {"style": WireImage(64, 64, "u8", style.tobytes())},
    )
    out = execute(_filter(), job, lambda s: None)[0]
    after = np.frombuffer(out.pixels, np.uint8).reshape(h, w, 4)
    assert np.array_equal(after[mask == 0], layer[mask == 0])
    assert np.abs(after[mask == 255].astype(int) - layer[mask == 255]).max() > 20


def test_photo_colours_keep_the_layers_chroma() -> None:
    """colours=photo: the result's chroma (RGB minus luma) is the layer's, its luma is new."""
    from backend.algorithms.colour import luminance

    g = torch.Generator().manual_seed(4)
    job = _job(48, 48)
    job.image.copy_(0.25 + 0.5 * torch.rand(1, 3, 48, 48, generator=g))  # no clamping at 0 / 1
    out = _filter().run(job, _params(colours="photo", max_size=48), lambda s: None)[0].image
    chroma_out = out - luminance(out)
    chroma_in = job.image - luminance(job.image)
    unclamped = ((out > 0.001) & (out < 0.999)).all(1, keepdim=True).expand_as(out)
    assert torch.allclose(chroma_out[unclamped], chroma_in[unclamped], atol=1e-4)
    assert float((luminance(out) - luminance(job.image)).abs().mean()) > 0.01


def test_painting_colours_take_the_styles_palette() -> None:
    """colours=painting: the result's colour mean is the style's, not the layer's."""
    g = torch.Generator().manual_seed(5)
    job = _job(48, 48)
    job.image.copy_(0.1 + 0.2 * torch.rand(1, 3, 48, 48, generator=g))  # dark layer
    job.extras["style"][:, :3] = 0.6 + 0.3 * torch.rand(1, 3, 64, 64, generator=g)  # bright style
    for colours, near_style in (("painting", True), ("unchanged", False)):
        out = _filter().run(job, _params(colours=colours, max_size=48), lambda s: None)[0].image
        gap = (out.mean((2, 3)) - job.extras["style"][:, :3].mean((2, 3))).abs().max()
        assert (float(gap) < 0.05) is near_style, (colours, float(gap))
