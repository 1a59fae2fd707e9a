"""DFI's feed-forward inverter: the net, its file, training, and the filter's method=inverter."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from backend.algorithms.features import tiny_backbone
from backend.algorithms.nets.dfi_inverter import DfiInverter, InverterConfig, load_inverter
from backend.assets import attributes
from backend.errors import Broken, Missing
from backend.filters import dfi, dfi_inverter
from backend.filters.base import Context, FilterInput
from backend.params import parse_values
from backend.training import dfi_inverter as training
from tests.fakes import FakeFaceFinder
from tests.prep.dfi import RESOLUTION, install_inverter
from tests.prep.dfi import context as _ctx
from tests.prep.dfi import prepare as _prepare

LAYERS = ("relu3_1", "relu4_1", "relu5_1")


def _run(ctx: Context, image: torch.Tensor, mask: torch.Tensor, box, **raw: object):
    f = dfi.DeepFeatureInterpolation(ctx)
    p = parse_values(dfi.DfiParams, _prepare(ctx) | raw, f.dynamic_choices())
    (layer,) = f.run(FilterInput(image, torch.ones_like(mask), mask, box), p, lambda s: None)
    return layer.image


def test_decoder_shapes_and_file_round_trip(tmp_path: Path) -> None:
    """Maps of a 32 px face decode to a 32 px image in [0, 1]; the fp16 file rebuilds the net."""
    backbone = tiny_backbone()
    x = torch.rand(2, 3, RESOLUTION, RESOLUTION, generator=torch.Generator().manual_seed(0))
    maps = backbone(x, list(LAYERS))
    cfg = InverterConfig(LAYERS, tuple(maps[k].shape[1] for k in LAYERS), 2, 16)
    net = DfiInverter(cfg).eval()
    with torch.no_grad():
        y = net(maps)
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1
    saved = training.inverter_file(net, {"backbone": "tiny"})
    assert all(v.dtype == torch.float16 for v in saved["state"].values())
    again = load_inverter(saved["state"], saved["config"])
    assert again.cfg == cfg
    with torch.no_grad():
        assert torch.allclose(again(maps), y, atol=2e-2)


def test_training_lowers_the_loss_and_resumes(tmp_path: Path) -> None:
    """A few steps on a tiny cache lower the pixel loss; --resume continues from the checkpoint."""
    backbone = tiny_backbone()
    gen = torch.Generator().manual_seed(1)
    faces = (torch.rand(4, 3, RESOLUTION, RESOLUTION, generator=gen) * 255).to(torch.uint8)
    cache = training.feature_cache(backbone, faces, LAYERS)
    assert len(cache["faces"]) == 8 and cache["relu3_1"].dtype == torch.float16
    channels = tuple(cache[k].shape[1] for k in LAYERS)
    cfg = InverterConfig(LAYERS, channels, 2, 16)
    opts = training.InverterOptions(iterations=30, batch=8, lr=3e-3, checkpoint_every=10)
    (tmp_path / "again").mkdir()
    _, history = training.train(cache, backbone, cfg, opts, tmp_path, resume=False)
    assert history[-1]["l1"] < history[0]["l1"]
    more = training.InverterOptions(iterations=35, batch=8, lr=3e-3, checkpoint_every=10)
    _, resumed = training.train(cache, backbone, cfg, more, tmp_path, resume=True)
    assert len(resumed) == 35 and resumed[:30] == history
    _, straight = training.train(cache, backbone, cfg, more, tmp_path / "again", resume=False)
    assert straight == resumed  # same seed, same draws: a resumed run retraces a straight one


def test_inverter_changes_the_face_and_nothing_outside_the_selection(tmp_path: Path) -> None:
    """method=inverter: the face in the selection changes, pixels away from the face (inside
    the selection) and every pixel outside it stay exactly as they were; α = 0 changes nothing."""
    ctx = _ctx(tmp_path)
    image = torch.full((1, 3, 96, 128), 0.4)
    gen = torch.Generator().manual_seed(3)
    image[..., 16:80, 24:88] = torch.rand(1, 3, 64, 64, generator=gen)  # the "face" region
    mask = torch.zeros(1, 1, 96, 128)
    mask[..., 8:88, 16:100] = 1.0
    out = _run(ctx, image, mask, (16, 8, 100, 88), strength=1.5)
    fake = FakeFaceFinder().find(image[..., 8:88, 16:100])
    assert len(fake) == 1
    changed = (out - image).abs().amax(1)[0]
    assert float(changed[30:66, 40:76].mean()) > 1e-3  # the middle of the face
    outside = mask[0, 0] == 0
    assert torch.equal(out[..., outside], image[..., outside])
    assert float(changed[8:12, 16:100].max()) == 0.0  # the selection's top rows: no face there
    assert torch.equal(_run(ctx, image, mask, (16, 8, 100, 88), strength=0.0), image)


def test_inverter_edit_follows_the_decoder(tmp_path: Path) -> None:
    """The change in the frame is exactly D(φ(x) + α·w) − D(φ(x)) with the pack's scaled w."""
    ctx = _ctx(tmp_path)
    _prepare(ctx)
    net = install_inverter(ctx, seed=4)
    backbone = ctx.backbone()
    pack = attributes.load_pack(attributes.pack_path(ctx.attributes_dir, "tiny", "smiling"))
    x = torch.rand(1, 3, RESOLUTION, RESOLUTION, generator=torch.Generator().manual_seed(5))
    delta = dfi_inverter.change_in_frame(backbone, net, pack, x, 1.0)
    with torch.no_grad():
        maps = backbone(x, list(LAYERS))
        edited = {
            k: (v + dfi.scaled_direction(pack.direction(k), v)).clamp_min(0)
            for k, v in maps.items()
        }
        expected = net(edited) - net(maps)
    assert torch.allclose(delta, expected, atol=1e-6) and float(delta.abs().max()) > 1e-3
    only_deep = dfi_inverter.change_in_frame(backbone, net, pack, x, 1.0, ("relu5_1",))
    assert not torch.allclose(only_deep, delta)


def test_damped_transfer_follows_the_decoders_tone_without_clipping() -> None:
    """transfer=damped: where the decoder's change is large the result is its target (not the
    photo plus the change, which clips when the photo is brighter than its decoding); where
    there is no change the photo is untouched; colour 0 applies a grey change, 1 the decoder's."""
    x = torch.full((1, 3, 4, 4), 0.7)
    x[..., :2] = torch.tensor([0.8, 0.5, 0.45]).view(1, 3, 1, 1)  # lips, brighter than decoded
    before = torch.full((1, 3, 4, 4), 0.7)
    before[..., :2] = torch.tensor([0.55, 0.3, 0.3]).view(1, 3, 1, 1)
    after = before.clone()
    after[..., :2] = torch.tensor([0.9, 0.88, 0.86]).view(1, 3, 1, 1)  # teeth
    added = dfi_inverter.transfer(x, before, after, "add", 1.0).clamp(0, 1)
    damped = dfi_inverter.transfer(x, before, after, "damped", 1.0)
    assert float(added[0, 0, 0, 0]) == 1.0  # the old transfer clips the red channel at white
    assert torch.allclose(damped[..., :2], after[..., :2], atol=0.01)
    assert torch.equal(damped[..., 2:], x[..., 2:])  # no change, no edit
    small = before + 0.02 * torch.tensor([1.0, -1.0, 0.5]).view(1, 3, 1, 1)
    grey = dfi_inverter.transfer(x, before, small, "damped", 0.0) - x
    assert torch.allclose(grey, grey[:, :1].expand_as(grey), atol=1e-6)
    assert float(grey.abs().max()) > 1e-3
    full = dfi_inverter.transfer(x, before, small, "damped", 1.0) - x
    assert torch.allclose(full, small - before, atol=2e-3)
    half = dfi_inverter.transfer(x, before, small, "damped", 0.5) - x
    assert torch.allclose(half, (grey + full) / 2, atol=1e-5)
    with pytest.raises(ValueError, match="transfer"):
        dfi_inverter.transfer(x, before, after, "logit", 0.0)


def test_neutral_tone_takes_out_the_decoders_overall_lightening() -> None:
    """neutral_tone: a decoder that lightens the whole region by 30 % and draws teeth in a few
    pixels keeps its teeth but loses the lightening (all of it at share 1, half of it — as a
    gain — at 0.5); share 0 and an empty region change nothing; measured inside the region only."""
    gen = torch.Generator().manual_seed(7)
    before = 0.2 + 0.5 * torch.rand(1, 3, 16, 16, generator=gen)
    after = before * 1.3
    after[..., 10:12, 4:12] = 0.95  # teeth: 16 of the region's 160 pixels
    region = torch.zeros(1, 1, 16, 16)
    region[..., 6:16, :] = 1.0
    after[..., :6, :] = before[..., :6, :] * 0.5  # outside the region: not measured
    eps = dfi_inverter.NEUTRAL_EPS
    full = dfi_inverter.neutral_tone(before, after, region, 1.0)
    gain = float(((after + eps) / (before + eps))[..., 6:10, :].median())
    assert gain > 1.25  # the fixture: most of the region is lightened
    assert torch.allclose(full[..., 6:10, :], before[..., 6:10, :], atol=0.02)
    assert float(full[..., 10:12, 4:12].min()) > float(before[..., 10:12, 4:12].max())
    half = dfi_inverter.neutral_tone(before, after, region, 0.5)
    assert torch.allclose(half, (after + eps) / gain**0.5 - eps, atol=0.02)
    assert torch.equal(dfi_inverter.neutral_tone(before, after, region, 0.0), after)
    assert torch.equal(dfi_inverter.neutral_tone(before, after, torch.zeros_like(region), 1), after)


def test_a_grey_photo_gets_a_grey_change(tmp_path: Path) -> None:
    """With keep colours on, the colour share scales with the photo's own chroma: a grey face
    gets a grey change (R = G = B), a coloured one a coloured change; off: colour always."""
    ctx = _ctx(tmp_path)
    _prepare(ctx)
    net = install_inverter(ctx, seed=4)
    backbone = ctx.backbone()
    pack = attributes.load_pack(attributes.pack_path(ctx.attributes_dir, "tiny", "smiling"))
    assert pack.frame is not None
    gen = torch.Generator().manual_seed(8)
    grey = torch.rand(1, 1, 48, 48, generator=gen).expand(1, 3, 48, 48).clone()
    colour = grey * torch.tensor([1.0, 0.7, 0.55]).view(1, 3, 1, 1)
    marks = torch.tensor([[16.0, 18.0], [32.0, 18.0], [24.0, 26.0], [18.0, 34.0], [30.0, 34.0]])
    assert dfi_inverter.photo_chroma(grey, None) == 0.0 < dfi_inverter.photo_chroma(colour, None)

    def change(image: torch.Tensor, keep: bool) -> torch.Tensor:
        return dfi_inverter.edit_aligned(
            backbone, net, pack, image, marks, 1.0, RESOLUTION, keep, None, None, "damped", 0.5
        )

    on = change(grey, True)
    assert float(on.abs().max()) > 1e-3
    assert torch.allclose(on, on[:, :1].expand_as(on), atol=1e-6)
    for image, keep in ((grey, False), (colour, True)):
        c = change(image, keep)
        assert float((c - c[:, :1]).abs().max()) > 1e-4


def test_missing_or_changed_inverter_says_how_to_fix_it(tmp_path: Path, monkeypatch) -> None:
    """No inverter for the backbone: Missing naming the train command (method=optimise still
    works); a built-in file whose sha256 differs is refused as Broken."""
    ctx = _ctx(tmp_path)
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(6))
    ones = torch.ones(1, 1, 64, 64)
    _prepare(ctx)
    (ctx.attributes_dir / "tiny" / dfi_inverter.FILE).unlink()
    with pytest.raises(Missing, match="train dfi-inverter"):
        _run_no_prepare(ctx, image, ones, method="inverter")
    assert not torch.equal(_run_no_prepare(ctx, image, ones, method="optimise"), image)
    builtin = tmp_path / "builtin"
    install_inverter(Context(attributes_dir=builtin, backbone_factory=tiny_backbone))
    monkeypatch.setattr(dfi_inverter, "BUILTIN_DIR", builtin)
    monkeypatch.setattr(dfi_inverter, "BUILTIN_SHA256", {"tiny": "0" * 64})
    with pytest.raises(Broken, match="changed"):
        _run_no_prepare(ctx, image, ones, method="inverter")


def _run_no_prepare(ctx: Context, image: torch.Tensor, mask: torch.Tensor, **raw: object):
    f = dfi.DeepFeatureInterpolation(ctx)
    base = {"attribute": "smiling", "iterations": 2, "resolution": RESOLUTION, "strength": 1.0}
    p = parse_values(dfi.DfiParams, base | raw, f.dynamic_choices())
    box = (0, 0, image.shape[-1], image.shape[-2])
    (layer,) = f.run(FilterInput(image, torch.ones_like(mask), mask, box), p, lambda s: None)
    return layer.image
