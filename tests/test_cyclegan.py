"""CycleGAN filter: official checkpoint parity, safe loading, tiling, directions, errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from backend.assets.models import ModelError, ModelStore
from backend.errors import Cancelled, Missing, ParamError
from backend.filters.base import FilterInput, Step
from backend.filters.cyclegan import CycleGan, CycleGanParams, feather, tile_starts, translate
from backend.params import parse_values
from tests.conftest import tiny_context
from tests.prep.cyclegan import RESNET_OFFICIAL, prepare, tiny_generator


class _RefBlock(nn.Module):
    """The official ResnetBlock, written out again here (reflect padding, no dropout)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3),
            nn.InstanceNorm2d(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3),
            nn.InstanceNorm2d(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def _reference_generator(ngf: int = 64, n_blocks: int = 9) -> nn.Module:
    """Official ResnetGenerator built from stock torch modules (nn.InstanceNorm2d)."""
    m: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), nn.InstanceNorm2d(ngf)]
    m += [nn.ReLU(True)]
    for c in (ngf, ngf * 2):
        m += [nn.Conv2d(c, 2 * c, 3, 2, 1), nn.InstanceNorm2d(2 * c), nn.ReLU(True)]
    m += [_RefBlock(ngf * 4) for _ in range(n_blocks)]
    for c in (ngf * 4, ngf * 2):
        m += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, 1), nn.InstanceNorm2d(c // 2), nn.ReLU(True)]
    m += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
    seq = nn.Sequential(*m)
    holder = nn.Module()
    holder.model = seq
    holder.forward = seq.forward  # type: ignore[method-assign]
    return holder


def _legacy_checkpoint(ref: nn.Module) -> dict[str, torch.Tensor]:
    """An official-layout state dict as DataParallel + pre-0.4 PyTorch saved it."""
    state = {f"module.{k}": v.clone() for k, v in ref.state_dict().items()}
    for name, mod in ref.named_modules():
        if isinstance(mod, nn.InstanceNorm2d):
            c = mod.num_features
            state[f"module.{name}.running_mean"] = torch.zeros(c)
            state[f"module.{name}.running_var"] = torch.ones(c)
            state[f"module.{name}.num_batches_tracked"] = torch.tensor(0)
    return state


def _job(image: torch.Tensor) -> FilterInput:
    h, w = image.shape[-2:]
    ones = torch.ones(1, 1, h, w)
    return FilterInput(image=image, alpha=ones, mask=ones, box=(0, 0, w, h))


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def _smooth_image(h: int, w: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, max(2, h // 24), max(2, w // 24), generator=g)
    img = nn.functional.interpolate(low, size=(h, w), mode="bicubic", align_corners=False)
    return (img + 0.02 * torch.randn(1, 3, h, w, generator=g)).clamp(0, 1)


def _params(ctx, **values) -> CycleGanParams:
    f = CycleGan(ctx)
    return parse_values(CycleGanParams, values, f.dynamic_choices())


def test_official_checkpoint_parity(tmp_path: Path) -> None:
    """An official 9-block checkpoint (module. prefixes, legacy norm keys) matches the reference."""
    torch.manual_seed(1)
    ref = _reference_generator().eval()
    keys = list(ref.state_dict())
    assert len(keys) == 48 and sum(v.numel() for v in ref.state_dict().values()) == 11_378_179
    torch.save(_legacy_checkpoint(ref), tmp_path / "latest_net_G.pth")
    ctx = tiny_context(tmp_path)
    entry = ModelStore(ctx.models_dir).import_model(tmp_path / "latest_net_G.pth", "official")
    assert entry.arch == {
        "netG": "resnet_9blocks",
        "input_nc": 3,
        "output_nc": 3,
        "ngf": 64,
        "n_blocks": 9,
        **RESNET_OFFICIAL,
    }
    image = torch.rand(1, 3, 48, 64)
    f = CycleGan(ctx)
    out = f.run(_job(image), _params(ctx, model="official", precision="fp32"), lambda s: None)
    with torch.inference_mode():
        want = (ref(image * 2 - 1) + 1) / 2
    assert out[0].image.shape == image.shape
    assert float((out[0].image - want).abs().max()) <= 1e-5


def test_refuses_pickle_that_runs_code(tmp_path: Path) -> None:
    """A checkpoint whose pickle would write a file is refused and the file is never written."""
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.write_text, (marker, "code ran"))

    state = dict(tiny_generator().state_dict())
    state["model.1.weight"] = Evil()  # type: ignore[assignment]
    bad = tmp_path / "evil.pth"
    torch.save(state, bad)
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ModelError, match="could run code"):
        store.import_model(bad, "evil")
    assert not marker.exists()
    assert store.entries() == []
    torch.load(bad, weights_only=False)  # the crafted file is live: an unsafe load runs it
    assert marker.read_text() == "code ran"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not a checkpoint at all", "not a readable PyTorch checkpoint"),
        ({"fc.weight": torch.zeros(2, 2)}, "not a cyclegan model"),
        ([torch.zeros(1)], "not a state dict"),
    ],
)
def test_refuses_foreign_files(tmp_path: Path, content: object, reason: str) -> None:
    """Garbage, other networks' weights and non-dict payloads are refused with a clear reason."""
    path = tmp_path / "foreign.pth"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(ModelError, match=reason):
        ModelStore(tmp_path / "models").import_model(path, "foreign")


def test_refuses_wrong_shapes(tmp_path: Path) -> None:
    """A generator state dict with one tensor of the wrong shape does not import."""
    state = dict(tiny_generator().state_dict())
    state["model.4.weight"] = torch.zeros(8, 4, 5, 5)
    torch.save(state, tmp_path / "bad.pth")
    reason = r"'model\.4\.weight' \(8, 4, 5, 5\): expected .*\(8, 4, 3, 3\)"
    with pytest.raises(ModelError, match=reason):
        ModelStore(tmp_path / "models").import_model(tmp_path / "bad.pth", "bad")


def test_tiled_matches_whole(tmp_path: Path) -> None:
    """Tiles with shared statistics reproduce the whole-image forward (PSNR >= 40 dB, odd size)."""
    net = tiny_generator(seed=3)
    image = _smooth_image(202, 174)
    steps: list[Step] = []
    with torch.inference_mode():
        whole = translate(net, image, tile_size=4096)
        tiled = translate(net, image, 96, 48, stats_size=4096, on_step=steps.append)
    assert tiled.shape == image.shape
    assert len(steps) > 8 and steps[-1].i == steps[-1].total
    assert _psnr(whole, tiled) >= 40


def test_reduced_precision_path_stays_close() -> None:
    """The autocast path (fp16 on a GPU; bfloat16 here on the CPU) keeps whole and tiled output
    close to fp32 and hands back float32 images."""
    net = tiny_generator(seed=3)
    image = _smooth_image(130, 98)
    with torch.inference_mode():
        ref = translate(net, image, tile_size=4096)
        whole = translate(net, image, tile_size=4096, dtype=torch.bfloat16)
        tiled = translate(net, image, 64, 32, stats_size=4096, dtype=torch.bfloat16)
    assert whole.dtype == tiled.dtype == torch.float32 and tiled.shape == image.shape
    assert not torch.equal(whole, ref)  # it did run in reduced precision
    psnr = _psnr(ref, whole), _psnr(ref, tiled)  # about 49 and 42 dB
    assert min(psnr) >= 30, psnr


def test_shared_statistics_beat_per_tile_statistics() -> None:
    """Statistics from a downscaled whole image drift less than per-tile InstanceNorm."""
    net = tiny_generator(seed=4)
    image = _smooth_image(192, 192, seed=5)
    image[..., :, 96:] *= 0.4  # a dark half: per-tile norms would brighten it
    with torch.inference_mode():
        whole = translate(net, image, tile_size=4096)
        shared = translate(net, image, 96, 32, stats_size=96)
        acc, wsum = torch.zeros_like(image), torch.zeros(1, 1, 192, 192)
        x = image * 2 - 1
        for y0 in tile_starts(192, 96, 32):
            for x0 in tile_starts(192, 96, 32):
                out = (net(x[..., y0 : y0 + 96, x0 : x0 + 96]) + 1) / 2
                wt = feather(96, y0, 192, 32)[:, None] * feather(96, x0, 192, 32)[None, :]
                acc[..., y0 : y0 + 96, x0 : x0 + 96] += out * wt
                wsum[..., y0 : y0 + 96, x0 : x0 + 96] += wt
    per_tile = acc / wsum
    assert _psnr(whole, shared) > _psnr(whole, per_tile) + 3


def test_feather_weights_partition_unity() -> None:
    """Blend weights of neighbouring tiles sum to one across the middle of their overlap."""
    assert tile_starts(400, 128, 64) == [0, 64, 128, 192, 256, 272]
    starts = tile_starts(192, 128, 64)
    assert starts == [0, 64]
    total = torch.zeros(192)
    for s in starts:
        total[s : s + 128] += feather(128, s, 192, 64)
    assert torch.allclose(total, torch.ones(192), atol=1e-3)
    assert float(total.min()) > 0


def test_pair_directions(tmp_path: Path) -> None:
    """A training folder imports as a pair and each direction runs its own generator."""
    run = tmp_path / "run"
    run.mkdir()
    g_a, g_b = tiny_generator(seed=1), tiny_generator(seed=2)
    torch.save(g_a.state_dict(), run / "latest_net_G_A.pth")
    torch.save(g_b.state_dict(), run / "latest_net_G_B.pth")
    ctx = tiny_context(tmp_path)
    ModelStore(ctx.models_dir).import_model(run, "pair")
    image = torch.rand(1, 3, 40, 36)
    f = CycleGan(ctx)
    for direction, g in (("a_to_b", g_a), ("b_to_a", g_b)):
        p = _params(ctx, model="pair", direction=direction)
        out = f.run(_job(image), p, lambda s: None)
        with torch.inference_mode():
            want = (g(image * 2 - 1) + 1) / 2
        assert torch.allclose(out[0].image, want, atol=1e-5)
        assert direction.replace("_", " ") in out[0].name


def test_single_direction_refuses_b_to_a(tmp_path: Path) -> None:
    """A one-way model asked to go B to A fails with a parameter error."""
    ctx = tiny_context(tmp_path)
    prepare(ctx)
    with pytest.raises(ParamError, match="one way"):
        CycleGan(ctx).run(
            _job(torch.rand(1, 3, 32, 32)),
            _params(ctx, model="tiny", direction="b_to_a"),
            lambda s: None,
        )


def test_missing_model_names_the_fix(tmp_path: Path) -> None:
    """With no model installed the filter reports a Missing with the fetch command."""
    ctx = tiny_context(tmp_path)
    f = CycleGan(ctx)
    (missing,) = f.missing()
    assert "models fetch" in missing.command and str(ctx.models_dir) in missing.command
    assert f.dynamic_choices() == {"models": []}
    with pytest.raises(Missing):
        f.run(_job(torch.rand(1, 3, 32, 32)), CycleGanParams(), lambda s: None)


def test_choices_follow_imports(tmp_path: Path) -> None:
    """The model choice lists a model as soon as it is imported and the filter becomes ready."""
    ctx = tiny_context(tmp_path)
    f = CycleGan(ctx)
    assert f.missing()
    values = prepare(ctx)
    assert f.missing() == []
    assert f.dynamic_choices() == {"models": ["tiny"]}
    p = _params(ctx, **values)
    out = f.run(_job(_smooth_image(90, 70)), p, lambda s: None)
    assert out[0].image.shape == (1, 3, 90, 70)
    assert float(out[0].image.min()) >= 0 and float(out[0].image.max()) <= 1


def test_cancel_between_tiles(tmp_path: Path) -> None:
    """A callback raising Cancelled stops the run after the current tile."""
    ctx = tiny_context(tmp_path)
    p = _params(ctx, **prepare(ctx))
    seen: list[Step] = []

    def stop_at_third(step: Step) -> None:
        seen.append(step)
        if len(seen) == 3:
            raise Cancelled()

    with pytest.raises(Cancelled):
        CycleGan(ctx).run(_job(_smooth_image(200, 200)), p, stop_at_third)
    assert len(seen) == 3 and seen[-1].total > 3
