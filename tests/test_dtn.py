"""DTN nets, the ``dtn`` model kind in the models store, and the ``dtn`` filter."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from backend.algorithms.nets.dtn import (
    REAL_TARGET,
    Classifier,
    Discriminator,
    DtnConfig,
    Encoder,
    Generator,
    build,
    diff_augment,
    infer_config,
    tv_loss,
)
from backend.assets.models import ModelError, ModelStore
from backend.errors import Cancelled, Missing, ParamError
from backend.filters.base import FilterInput, Step
from backend.filters.dtn import DomainTransfer, DtnParams, tile_grid, translate
from backend.params import parse_values
from tests.conftest import tiny_context
from tests.prep.dtn import TINY, install_tiny, prepare, tiny_transfer


class TestNets:
    @pytest.mark.parametrize("size", [32, 64])
    def test_shapes(self, size: int) -> None:
        """f maps an image to a 1×1 code, g maps it back to an image, D gives 3 logits."""
        cfg = DtnConfig(size=size, code_dim=16, width=0.125)
        f, g, d = build(cfg)
        x = torch.rand(2, 3, size, size) * 2 - 1
        z = f(x)
        assert z.shape == (2, 16, 1, 1)
        y = g(z)
        assert y.shape == (2, 3, size, size)
        assert y.abs().max() <= 1 and z.abs().max() <= 1
        assert d(y).shape == (2, 3) and REAL_TARGET == 2

    def test_paper_digit_nets(self) -> None:
        """At width 1 the digit nets have the published channel counts (64-128-256, 512-256-128)."""
        cfg = DtnConfig()
        f, g, d = Encoder(cfg), Generator(cfg), Discriminator(cfg)
        f_convs = [m.out_channels for m in f.modules() if isinstance(m, torch.nn.Conv2d)]
        g_convs = [m.out_channels for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
        d_convs = [m.out_channels for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
        assert f_convs == [64, 128, 256, 128]
        assert g_convs == [512, 256, 128, 3]
        assert d_convs == [128, 256, 512, 3]
        assert Classifier(f)(torch.zeros(2, 3, 32, 32)).shape == (2, 10)

    @pytest.mark.parametrize("bad", [{"size": 48}, {"size": 16}, {"width": 0.01}])
    def test_bad_config(self, bad: dict) -> None:
        """Sizes that are not powers of two >= 32 and too-thin nets are refused."""
        with pytest.raises(ValueError):
            DtnConfig(**bad)

    def test_infer_config_round_trip(self) -> None:
        """The config read off a state dict rebuilds a net that loads it strictly."""
        for cfg in (TINY, DtnConfig(size=64, code_dim=32, width=0.25)):
            state = tiny_transfer(cfg=cfg).state_dict()
            assert DtnConfig.from_dict(infer_config(state)) == DtnConfig.from_dict(cfg.to_dict())

    def test_tv_loss(self) -> None:
        """TV is zero on a flat image and positive on a checkerboard."""
        assert float(tv_loss(torch.ones(1, 3, 8, 8))) < 1e-3
        board = (torch.arange(64).view(8, 8) % 2).float().expand(1, 3, 8, 8)
        assert float(tv_loss(board)) > 0.5

    def test_diff_augment_shifts_cuts_and_passes_gradients(self) -> None:
        """DiffAugment keeps the shape, changes the image, blanks a square and is differentiable."""
        x = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(1)).requires_grad_()
        y = diff_augment(x, torch.Generator().manual_seed(0))
        assert y.shape == x.shape
        assert not torch.equal(y, x)
        low = y.detach().amin(dim=(1, 2, 3)).view(6, 1, 1)
        blank = (y.detach() == low.unsqueeze(1)).all(1).flatten(1).sum(1)
        assert bool((blank >= 8 * 8).all())  # a 15×15 hole, at least 8×8 where a corner clips it
        y.sum().backward()
        assert x.grad is not None and float(x.grad.abs().sum()) > 0


class TestModelKind:
    def test_import_list_load(self, tmp_path: Path) -> None:
        """A DTN state dict imports as kind dtn, is listed, and loads to the same outputs."""
        store = ModelStore(tmp_path)
        net = tiny_transfer(seed=3)
        torch.save(net.state_dict(), tmp_path / "g.pth")
        entry = store.import_model(tmp_path / "g.pth", "digits", "dtn")
        assert entry.kind == "dtn" and entry.arch["size"] == 32
        assert [e.name for e in store.entries("dtn")] == ["digits"]
        kind, loaded = store.load("digits")
        x = torch.rand(2, 3, 32, 32)
        with torch.no_grad():
            assert kind == "dtn" and torch.allclose(loaded(x), net(x), atol=1e-6)

    def test_refuses_other_kinds_and_pickles(self, tmp_path: Path) -> None:
        """A foreign state dict and a pickle that would run code are refused for kind dtn."""
        store = ModelStore(tmp_path)
        torch.save({"model.1.weight": torch.zeros(4, 3, 7, 7)}, tmp_path / "foreign.pth")
        with pytest.raises(ModelError, match="not a dtn model"):
            store.import_model(tmp_path / "foreign.pth", "x", "dtn")
        torch.save({"f": Path("evil")}, tmp_path / "evil.pth")
        with pytest.raises(ModelError, match="refused"):
            store.import_model(tmp_path / "evil.pth", "y", "dtn")
        state = tiny_transfer().state_dict()
        state.pop("g.net.0.weight")
        torch.save(state, tmp_path / "partial.pth")
        with pytest.raises(ModelError, match="not a dtn model"):
            store.import_model(tmp_path / "partial.pth", "z", "dtn")
        assert store.entries("dtn") == []


def _job(h: int = 40, w: int = 56, seed: int = 0) -> FilterInput:
    gen = torch.Generator().manual_seed(seed)
    return FilterInput(
        image=torch.rand(1, 3, h, w, generator=gen),
        alpha=torch.ones(1, 1, h, w),
        mask=torch.ones(1, 1, h, w),
        box=(0, 0, w, h),
    )


class TestFilter:
    def test_missing_names_commands(self, tmp_path: Path, monkeypatch) -> None:
        """Without a model (nor the built-in one) it reports the train and import commands."""
        monkeypatch.setattr("backend.filters.dtn.BUILTIN_FILE", tmp_path / "none.pt")
        flt = DomainTransfer(tiny_context(tmp_path))
        (miss,) = flt.missing()
        assert "train dtn" in miss.command and "--kind dtn" in miss.what
        assert flt.dynamic_choices() == {"models": []}
        with pytest.raises(Missing):
            flt._network("anything")

    def test_choices_follow_imports(self, tmp_path: Path, monkeypatch) -> None:
        """Importing a model adds it to the model choices and clears missing()."""
        monkeypatch.setattr("backend.filters.dtn.BUILTIN_FILE", tmp_path / "none.pt")
        ctx = tiny_context(tmp_path)
        flt = DomainTransfer(ctx)
        install_tiny(ctx, "one")
        install_tiny(ctx, "two", seed=1)
        assert list(flt.dynamic_choices()["models"]) == ["one", "two"]
        assert flt.missing() == []
        with pytest.raises(ParamError):
            parse_values(DtnParams, {"model": "three"}, flt.dynamic_choices())

    @pytest.mark.parametrize("tile", [0, 16, 100])
    def test_output_shape_and_steps(self, tmp_path: Path, tile: int) -> None:
        """The output has the crop's size, lies in [0, 1], and reports one step per tile."""
        ctx = tiny_context(tmp_path)
        flt = DomainTransfer(ctx)
        raw = {**prepare(ctx), "tile": tile}
        p = parse_values(DtnParams, raw, flt.dynamic_choices())
        steps: list[Step] = []
        job = _job()
        (layer,) = flt.run(job, p, steps.append)
        assert layer.image.shape == job.image.shape and layer.name == "DTN tiny-dtn"
        assert float(layer.image.min()) >= 0 and float(layer.image.max()) <= 1
        cells = len(tile_grid(40, 56, tile))
        assert cells == (1 if tile in (0, 100) else 3 * 4)
        assert [s.i for s in steps] == list(range(cells + 1))
        assert not torch.equal(layer.image, job.image)

    def test_whole_image_is_one_translation(self) -> None:
        """With tile 0, the crop is resized to the model size, translated and resized back."""
        net = tiny_transfer()
        image = torch.rand(1, 3, 32, 32)
        with torch.inference_mode():
            assert torch.allclose(translate(net, image), net(image).clamp(0, 1))
            big = translate(net, torch.rand(1, 3, 100, 70), upscale="pixels")
        assert big.shape == (1, 3, 100, 70)

    def test_amount_zero_returns_input(self, tmp_path: Path) -> None:
        """Amount 0 gives the input back."""
        ctx = tiny_context(tmp_path)
        flt = DomainTransfer(ctx)
        p = parse_values(DtnParams, {**prepare(ctx), "amount": 0.0}, flt.dynamic_choices())
        job = _job()
        (layer,) = flt.run(job, p, lambda s: None)
        assert torch.allclose(layer.image, job.image)

    def test_cancel_between_tiles(self, tmp_path: Path) -> None:
        """on_step raising Cancelled stops the run after the tile it reports."""
        ctx = tiny_context(tmp_path)
        flt = DomainTransfer(ctx)
        p = parse_values(DtnParams, prepare(ctx), flt.dynamic_choices())
        seen: list[int] = []

        def on_step(step: Step) -> None:
            seen.append(step.i)
            if step.i == 2:
                raise Cancelled()

        with pytest.raises(Cancelled):
            flt.run(_job(), p, on_step)
        assert seen == [0, 1, 2]


class TestDigits:
    def test_printed_digits_reproducible(self) -> None:
        """Rendered printed digits have the right shape, all ten labels, and repeat per seed."""
        from backend.training.digits import render_printed

        x, y = render_printed(60, seed=5)
        x2, y2 = render_printed(60, seed=5)
        assert x.shape == (60, 3, 32, 32) and x.dtype == torch.uint8
        assert torch.equal(x, x2) and torch.equal(y, y2) and set(y.tolist()) == set(range(10))
        assert x.float().std() > 10

    def test_builtin_font_fallback(self) -> None:
        """Without installed fonts, Pillow's built-in font still draws ten distinct digits."""
        from backend.training.digits import render_printed

        x, _ = render_printed(8, seed=0, fonts=[], size=32)
        assert x.shape == (8, 3, 32, 32)

    def test_handwritten_digits(self) -> None:
        """scikit-learn's digits come back at 32×32, white on black, with their labels."""
        from backend.training.digits import handwritten, split

        x, y = handwritten()
        assert x.shape == (1797, 3, 32, 32) and y.shape == (1797,)
        assert x[:, :, 0, :].float().mean() < x[:, :, 12:20, 12:20].float().mean()
        train, test = split(len(x), 0.25)
        assert len(set(train.tolist()) & set(test.tolist())) == 0 and len(test) == 449
