"""The faces → emoji model's prototypes (``nets.dtn.Prototypes``): a face's code drawn onto the
mean of its nearest codes of the labelled emoji g rebuilds best, fitted at the end of
``train dtn --f face`` (and post hoc into the built-in), stored in the model and used by the
``dtn`` filter's stickers (docs/quality-dtn.md, "The sticker on photos")."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from backend.algorithms.nets.dtn import (
    PROTOTYPE_K,
    DomainTransfer,
    Prototypes,
    build_transfer,
    infer_config,
    init_weights,
)
from backend.assets.models import ModelStore
from backend.cli import main
from backend.filters.dtn import load_builtin
from backend.training.dtn import DtnOptions, DtnTrainer, faces
from tests.test_dtn_faces import RGBA, tiny_face_run


def _bank(count: int = 20, dim: int = 8) -> Prototypes:
    p = Prototypes(dim, count)
    p.codes.copy_(torch.rand(count, dim, generator=torch.Generator().manual_seed(0)) * 0.4 - 0.2)
    return p


def test_a_code_outside_the_stored_codes_is_drawn_onto_its_nearest_ones() -> None:
    p = _bank()
    z = torch.full((1, 8, 1, 1), 0.9)  # far outside every stored code (they lie in ±0.2)
    out = p(z).flatten(1)
    near = torch.cdist(z.flatten(1), p.codes)[0].topk(PROTOTYPE_K, largest=False).indices
    assert torch.allclose(out, p.codes[near].mean(0, keepdim=True), atol=1e-6)
    assert float(out.abs().max()) <= 0.2 + 1e-6
    p.weight.fill_(0.5)
    half = p(z).flatten(1)
    assert torch.allclose(half, (z.flatten(1) + out) / 2, atol=1e-6)
    p.k.fill_(1)
    (one,) = torch.cdist(z.flatten(1), p.codes)[0].topk(1, largest=False).indices
    p.weight.fill_(1.0)
    assert torch.allclose(p(z).flatten(1), p.codes[one][None], atol=1e-6)


def test_a_model_with_prototypes_round_trips_through_the_store(tmp_path: Path) -> None:
    net = DomainTransfer(dataclasses.replace(RGBA, prototypes=20)).eval()
    init_weights(net)
    assert net.prototypes is not None
    net.prototypes.codes.copy_(_bank().codes)
    arch = infer_config(net.state_dict())
    assert arch["prototypes"] == 20
    assert infer_config(DomainTransfer(RGBA).state_dict())["prototypes"] == 0
    back = build_transfer(arch).eval()
    back.load_state_dict(net.state_dict(), strict=True)
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(back(x), net(x))
    path = tmp_path / "m.pth"
    torch.save(net.state_dict(), path)
    ModelStore(tmp_path / "models").import_model(path, "pr", "dtn")
    _, loaded = ModelStore(tmp_path / "models").load("pr")
    assert torch.equal(loaded(x), net(x))
    z = torch.full((1, 8, 1, 1), 0.9)
    assert torch.allclose(loaded.express(z), net.prototypes(z))  # g gets the stored codes' mean
    assert (loaded.express(z) - z).abs().max() > 0.5


def test_fit_prototypes_keeps_the_labelled_targets_g_rebuilds_best() -> None:
    torch.manual_seed(0)
    opts = DtnOptions(size=32, width=0.0625, code_dim=8, target_alpha=True, prototypes=0.5)
    net = DomainTransfer(opts.config(18))
    init_weights(net)
    f = net.f.eval()
    trainer = DtnTrainer(f, opts, torch.device("cpu"))
    target = torch.randint(0, 256, (12, 4, 32, 32), dtype=torch.uint8)
    smile = torch.tensor([1, 0, -1] * 4)
    with torch.no_grad():
        x = target.float() / 127.5 - 1
        z = f(x[:, :3])
        err = (trainer.g.eval()(z) - x).abs().mean((1, 2, 3))
    smile[err.argmin()] = -1  # the best rebuilt target is unlabelled: it must be left out
    trainer.fit_prototypes(target, smile)
    want = (smile >= 0) & (err <= torch.quantile(err, 0.5))
    assert trainer.prototype_codes is not None
    assert 0 < len(trainer.prototype_codes) < int((smile >= 0).sum())
    assert torch.allclose(trainer.prototype_codes, z.flatten(1)[want], atol=1e-6)
    model = trainer.transfer()
    assert model.prototypes is not None and model.cfg.prototypes == int(want.sum())


def test_train_stores_prototypes_in_the_model(tmp_path: Path) -> None:
    """``train dtn --f face`` stores the prototypes (the preset's share); ``--prototypes 0``
    stores none."""
    args, models, emoji = tiny_face_run(tmp_path, 2)
    _, net = ModelStore(models).load("fe")
    assert net.prototypes is not None and net.cfg.prototypes > 0
    images, rows = faces.load_emoji(emoji, 32)
    with torch.no_grad():
        z = net.f(images[:, :3].float() / 127.5 - 1).flatten(1)
    labelled = z[faces.emoji_smile(rows) >= 0]
    assert torch.cdist(net.prototypes.codes, labelled).min(1).values.max() < 1e-5
    off = [*args, "--name", "plain", "--run-dir", str(tmp_path / "r2"), "--prototypes", "0"]
    assert main(off) == 0
    assert ModelStore(models).load("plain")[1].prototypes is None


def test_the_builtin_draws_codes_onto_its_stored_emoji_codes() -> None:
    net = load_builtin()
    assert net.prototypes is not None and net.cfg.prototypes > 100
    codes = net.prototypes.codes
    lo, hi = codes.min(0).values, codes.max(0).values
    z = torch.where(torch.arange(codes.shape[1]) % 2 == 0, 1.0, -1.0).view(1, -1, 1, 1)
    out = net.prototypes(z).flatten(1)[0]
    assert bool(((out >= lo - 1e-5) & (out <= hi + 1e-5)).all())
    before = float(torch.cdist(z.flatten(1), codes).min())
    assert float(torch.cdist(out[None], codes).min()) < before
