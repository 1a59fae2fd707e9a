"""pix2pix / CycleGAN U-Net generators: layout parity, the filter, tiling, refusals."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from backend.algorithms.nets import cyclegan_arch
from backend.algorithms.nets.resnet_generator import ResnetGenerator, clean_state_dict
from backend.algorithms.nets.unet_generator import UnetGenerator
from backend.assets.models import ModelError, ModelStore
from backend.filters.base import FilterInput
from backend.filters.cyclegan import CycleGan, CycleGanParams, feather, tile_starts, translate
from backend.params import parse_values
from tests.conftest import tiny_context

NGF = 4


class _RefSkip(nn.Module):
    """Upstream's UnetSkipConnectionBlock written out again from stock torch modules."""

    def __init__(self, outer, inner, norm_layer, sub=None, in_nc=None, top=False, dropout=False):
        super().__init__()
        self.top = top
        bias = norm_layer is nn.InstanceNorm2d
        conv_in = in_nc or outer
        down_conv = nn.Conv2d(conv_in, inner, 4, 2, 1, bias=bias)
        if top:
            seq = [down_conv, sub, nn.ReLU(True), nn.ConvTranspose2d(2 * inner, outer, 4, 2, 1)]
            seq.append(nn.Tanh())
        elif sub is None:
            seq = [nn.LeakyReLU(0.2, True), down_conv, nn.ReLU(True)]
            seq += [nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=bias), norm_layer(outer)]
        else:
            seq = [nn.LeakyReLU(0.2, True), down_conv, norm_layer(inner), sub, nn.ReLU(True)]
            seq += [nn.ConvTranspose2d(2 * inner, outer, 4, 2, 1, bias=bias), norm_layer(outer)]
            if dropout:
                seq.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) if self.top else torch.cat([x, self.model(x)], 1)


def _reference(num_downs: int, norm: str, dropout: bool = False) -> nn.Module:
    """Upstream's UnetGenerator (BatchNorm2d(affine) or InstanceNorm2d), random norm affines."""
    layer = nn.BatchNorm2d if norm == "batch" else nn.InstanceNorm2d
    block = _RefSkip(NGF * 8, NGF * 8, layer)
    for _ in range(num_downs - 5):
        block = _RefSkip(NGF * 8, NGF * 8, layer, block, dropout=dropout)
    block = _RefSkip(NGF * 4, NGF * 8, layer, block)
    block = _RefSkip(NGF * 2, NGF * 4, layer, block)
    block = _RefSkip(NGF, NGF * 2, layer, block)
    holder = nn.Module()
    holder.model = _RefSkip(3, NGF, layer, block, in_nc=3, top=True)
    holder.forward = holder.model.forward  # type: ignore[method-assign]
    for m in holder.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.3)
            nn.init.normal_(m.bias, 0.0, 0.3)
            m.running_mean.normal_(0.0, 0.3)
            m.running_var.uniform_(0.5, 2.0)
            m.num_batches_tracked.fill_(123)
    return holder


def _official_file(ref: nn.Module, path: Path) -> None:
    """Save ``ref`` as a DataParallel run did; InstanceNorms also get pre-0.4 running stats."""
    state = {f"module.{k}": v.clone() for k, v in ref.state_dict().items()}
    for name, mod in ref.named_modules():
        if isinstance(mod, nn.InstanceNorm2d):
            state[f"module.{name}.running_mean"] = torch.zeros(mod.num_features)
            state[f"module.{name}.running_var"] = torch.ones(mod.num_features)
            state[f"module.{name}.num_batches_tracked"] = torch.tensor(0)
    torch.save(state, path)


def _official_test_mode(ref: nn.Module) -> nn.Module:
    """The official test.py without --eval: train-mode norms (batch of one), dropout left out."""
    ref.train()
    for m in ref.modules():
        if isinstance(m, nn.Dropout):
            m.eval()
    return ref


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
    img = F.interpolate(low, size=(h, w), mode="bicubic", align_corners=False)
    return (img + 0.02 * torch.randn(1, 3, h, w, generator=g)).clamp(0, 1)


def _params(ctx, **values) -> CycleGanParams:
    return parse_values(CycleGanParams, values, CycleGan(ctx).dynamic_choices())


@pytest.mark.parametrize("norm", ["instance", "batch"])
@pytest.mark.parametrize("num_downs", [7, 8])
def test_official_layout_parity(tmp_path: Path, num_downs: int, norm: str) -> None:
    """An upstream-layout U-Net (module. prefixes, dropout, legacy keys) imports and matches."""
    torch.manual_seed(num_downs)
    ref = _reference(num_downs, norm, dropout=True)
    _official_file(ref, tmp_path / "latest_net_G.pth")
    store = ModelStore(tmp_path / "models")
    entry = store.import_model(tmp_path / "latest_net_G.pth", "unet")
    assert entry.arch == {
        "netG": f"unet_{2**num_downs}",
        "input_nc": 3,
        "output_nc": 3,
        "ngf": NGF,
        "num_downs": num_downs,
        "norm": norm,
    }
    kind, net = store.load("unet")
    assert kind == "cyclegan" and isinstance(net, UnetGenerator) and net.multiple == 2**num_downs
    side = 2**num_downs
    x = torch.rand(1, 3, side, 2 * side) * 2 - 1
    with torch.no_grad():
        want_eval = ref.eval()(x)  # before train mode updates the reference's running stats
        want = _official_test_mode(ref)(x)
        got = net(x)
        diff = float((got - want).abs().max())
        print(f"unet_{side} {norm}: max |ours - reference| = {diff:.2e}")
        assert diff <= 1e-5
        if norm == "batch":  # test.py --eval: the running averages
            with net.running_stats():
                diff = float((net(x) - want_eval).abs().max())
            print(f"unet_{side} {norm}, running stats: max |ours - reference| = {diff:.2e}")
            assert diff <= 1e-5
            assert float((net(x) - got).abs().max()) == 0
            assert float((want_eval - want).abs().max()) > 1e-3  # the two modes differ


def test_pix2pix_default_size() -> None:
    """unet_256 with ngf 64 and batch norm has upstream's tensors and parameter count."""
    ours = UnetGenerator(3, 3, 8, 64, "batch")
    layer = nn.BatchNorm2d
    block = _RefSkip(512, 512, layer)
    for _ in range(3):
        block = _RefSkip(512, 512, layer, block)
    for outer in (256, 128, 64):
        block = _RefSkip(outer, outer * 2, layer, block)
    ref = _RefSkip(3, 64, layer, block, in_nc=3, top=True)
    want = {f"model.{k}": tuple(v.shape) for k, v in ref.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == want
    assert sum(p.numel() for p in ours.parameters()) == 54_413_955


def test_clean_keeps_batch_norm_statistics() -> None:
    """Running stats go for weightless norms only; a BatchNorm keeps its own."""
    state = {
        "module.a.running_mean": torch.zeros(2),
        "module.a.num_batches_tracked": torch.tensor(0),
        "module.b.weight": torch.ones(2),
        "module.b.running_mean": torch.zeros(2),
        "module.b.running_var": torch.ones(2),
    }
    assert sorted(clean_state_dict(state)) == ["b.running_mean", "b.running_var", "b.weight"]


def test_old_arch_without_netg_builds_resnet() -> None:
    """Arch dicts recorded before U-Nets (no netG) still build a ResnetGenerator."""
    net = cyclegan_arch.build({"input_nc": 3, "output_nc": 3, "ngf": 4, "n_blocks": 2})
    assert isinstance(net, ResnetGenerator) and net.multiple == 4
    unet = cyclegan_arch.build(cyclegan_arch.infer_arch(UnetGenerator(3, 2, 7, 4).state_dict()))
    assert isinstance(unet, UnetGenerator) and unet.arch["output_nc"] == 2


def test_filter_runs_unet_on_odd_canvas(tmp_path: Path) -> None:
    """A 300x200 crop through the filter: whole (padded to 384x256) exact; tiled close to it."""
    torch.manual_seed(5)
    ref = _reference(7, "instance")
    _official_file(ref, tmp_path / "g.pth")
    ctx = tiny_context(tmp_path)
    ModelStore(ctx.models_dir).import_model(tmp_path / "g.pth", "u128")
    image = _smooth_image(200, 300, seed=1)
    f = CycleGan(ctx)
    out = f.run(_job(image), _params(ctx, model="u128"), lambda s: None)
    assert out[0].image.shape == image.shape
    padded = F.pad(image * 2 - 1, (0, 84, 0, 56), mode="reflect")
    with torch.no_grad():
        want = (ref(padded)[..., :200, :300] + 1) / 2
    assert float((out[0].image - want).abs().max()) <= 1e-5
    steps: list = []
    p = _params(ctx, model="u128", tile_size=64, overlap=16, stats_size=4096)
    tiled = f.run(_job(image), p, steps.append)
    assert tiled[0].image.shape == image.shape
    assert steps[0].stage == "statistics" and steps[-1].total == 1 + 2  # 2 tiles of 256
    db = _psnr(tiled[0].image, out[0].image)
    print(f"unet_128 filter 300x200, tiles of 256: {db:.1f} dB against whole")
    assert db >= 34, db


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_tiled_shares_statistics(norm: str) -> None:
    """Tiles with shared statistics stay close to the whole forward (>= 34 dB); per-tile do not."""
    torch.manual_seed(7)
    net = UnetGenerator(3, 3, 7, NGF, norm).eval()
    for m in net.norms():
        if hasattr(m, "weight"):
            nn.init.normal_(m.weight, 1.0, 0.3)
            nn.init.normal_(m.bias, 0.0, 0.3)
    h, w = 380, 300
    image = _smooth_image(h, w, seed=3)
    image[..., :, 150:] *= 0.4  # a dark half: per-tile norms would brighten it
    with torch.inference_mode():
        whole = translate(net, image, tile_size=4096)
        tiled = translate(net, image, 256, 128, stats_size=4096)
        hp, wp = 384, 384
        x = F.pad(image * 2 - 1, (0, wp - w, 0, hp - h), mode="reflect")
        acc, wsum = torch.zeros(1, 3, hp, wp), torch.zeros(1, 1, hp, wp)
        for y0 in tile_starts(hp, 256, 128, 128):
            for x0 in tile_starts(wp, 256, 128, 128):
                out = (net(x[..., y0 : y0 + 256, x0 : x0 + 256]) + 1) / 2
                wt = feather(256, y0, hp, 128)[:, None] * feather(256, x0, wp, 128)[None, :]
                acc[..., y0 : y0 + 256, x0 : x0 + 256] += out * wt
                wsum[..., y0 : y0 + 256, x0 : x0 + 256] += wt
    per_tile = (acc / wsum)[..., :h, :w].clamp(0, 1)
    assert tiled.shape == image.shape
    shared_db, per_tile_db = _psnr(whole, tiled), _psnr(whole, per_tile)
    print(f"unet_128 {norm}: shared {shared_db:.1f} dB, per-tile {per_tile_db:.1f} dB")
    assert shared_db >= 34, shared_db
    assert shared_db > per_tile_db + 5, (shared_db, per_tile_db)


def test_small_tile_grows_to_twice_the_multiple() -> None:
    """A tile_size below 2 * 128 still tiles a unet_128 with overlapping, aligned tiles."""
    torch.manual_seed(8)
    net = UnetGenerator(3, 3, 7, NGF, "instance").eval()
    seen = []
    with torch.inference_mode():
        out = translate(net, _smooth_image(300, 140), 64, 16, 4096, on_step=seen.append)
    assert out.shape == (1, 3, 300, 140)
    # padded to 384 x 256; tiles of 256 overlapping by 128: two rows, one column, plus stats
    assert [s.total for s in seen][-1] == 1 + 2 and seen[-1].i == 3


def _unet_state(norm: str = "batch") -> dict[str, torch.Tensor]:
    torch.manual_seed(9)
    return dict(UnetGenerator(3, 3, 7, NGF, norm).state_dict())


def _mangle_drop_level(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    deep = "model.model.1.model.3.model.3."
    return {k: v for k, v in state.items() if not k.startswith(deep)}


def _mangle_missing_norm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if not k.startswith("model.model.1.model.3.model.2.")}


def _mangle_first_conv(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {**state, "model.model.0.weight": torch.zeros(NGF, 3, 3, 3)}


def _mangle_width(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    key = "model.model.1.model.3.model.1.weight"
    return {**state, key: torch.zeros(NGF * 4, NGF * 3, 4, 4)}


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (_mangle_drop_level, r"tensor #13 .*: expected .* \(32, 16, 4, 4\), the 4x4 Conv2d"),
        (_mangle_missing_norm, r"expected 'model\.model\.1\.model\.3\.model\.2\.weight' \(16,\)"),
        (_mangle_first_conv, r"\(4, 3, 3, 3\): expected a generator's input convolution"),
        (_mangle_width, r"\(16, 12, 4, 4\): expected .* \(16, 8, 4, 4\)"),
    ],
)
def test_refuses_mangled_unet(tmp_path: Path, mangle, reason: str) -> None:
    """A U-Net state dict with a level, a norm, or a shape wrong is refused with the reason."""
    torch.save(mangle(_unet_state()), tmp_path / "bad.pth")
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ModelError, match=f"not a cyclegan model: .*{reason}"):
        store.import_model(tmp_path / "bad.pth", "bad")
    assert store.entries() == []


def test_refuses_foreign_network(tmp_path: Path) -> None:
    """Weights of another network name both generator layouts in the refusal."""
    torch.save({"features.0.weight": torch.zeros(8, 3, 3, 3)}, tmp_path / "vgg.pth")
    reason = r"'features\.0\.weight' \(8, 3, 3, 3\): .*ResnetGenerator.* U-Net"
    with pytest.raises(ModelError, match=reason):
        ModelStore(tmp_path / "models").import_model(tmp_path / "vgg.pth", "vgg")
