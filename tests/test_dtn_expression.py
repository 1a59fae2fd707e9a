"""The faces → emoji model's smile caricature (``nets.dtn.Expression``): the code moved along the
emoji's smile axis by f's own reading, fitted at the end of ``train dtn --f face``, stored in the
model and used by the ``dtn`` filter's stickers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from backend.algorithms.nets.dtn import (
    DomainTransfer,
    Expression,
    build_transfer,
    infer_config,
    init_weights,
)
from backend.assets.models import ModelStore
from backend.cli import main
from backend.filters.dtn import sticker_rgba, straight
from backend.training.dtn import DtnOptions, faces, train
from backend.training.dtn.options import FACE_PRESET
from tests.test_dtn_faces import RGBA, tiny_face_run


def test_expression_moves_the_code_towards_the_smile_f_reads() -> None:
    """A head that reads "smiling" from the code's first entry: a smiling code moves along the
    axis by the strength, a non-smiling one against it, an undecided one not at all."""
    ex = Expression(code_dim=3, classes=2)
    with torch.no_grad():
        ex.head.weight.copy_(torch.tensor([[-10.0, 0, 0], [10.0, 0, 0]]))
        ex.head.bias.zero_()
        ex.axis.copy_(torch.tensor([0.0, 0.25, -0.25]))
        ex.strength.fill_(2.0)
    z = torch.tensor([[0.8, 0.0, 0.0], [-0.8, 0.0, 0.0], [0.0, 0.2, 0.9]]).view(3, 3, 1, 1)
    out = ex(z).flatten(1)
    assert torch.allclose(out[0], torch.tensor([0.8, 0.5, -0.5]), atol=1e-3)
    assert torch.allclose(out[1], torch.tensor([-0.8, -0.5, 0.5]), atol=1e-3)
    assert torch.allclose(out[2], torch.tensor([0.0, 0.2, 0.9]))
    ex.strength.fill_(8.0)
    assert float(ex(z).detach().abs().max()) <= 1.0  # clamped to f's tanh range


def _expressive(strength: float) -> DomainTransfer:
    torch.manual_seed(0)
    net = DomainTransfer(dataclasses.replace(RGBA, expression=18))
    init_weights(net)
    assert net.expression is not None
    with torch.no_grad():
        net.expression.head.bias[9:] = 5.0  # reads every face as smiling
        net.expression.axis.uniform_(-0.5, 0.5)
        for conv in net.g.net[:-2:3]:
            conv.weight.mul_(25)  # so g's output follows its code visibly
        net.expression.strength.fill_(strength)
        net.g.net[-2].bias[3] = 4.0  # alpha towards opaque, so the sticker shows
    return net.eval()


def test_a_model_with_expression_round_trips_through_the_store(tmp_path: Path) -> None:
    net = _expressive(2.0)
    arch = infer_config(net.state_dict())
    assert arch["expression"] == 18
    assert infer_config(DomainTransfer(RGBA).state_dict())["expression"] == 0
    back = build_transfer(arch)
    back.load_state_dict(net.state_dict(), strict=True)
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(back.eval()(x), net(x))
    path = tmp_path / "m.pth"
    torch.save(net.state_dict(), path)
    ModelStore(tmp_path / "models").import_model(path, "ex", "dtn")
    _, loaded = ModelStore(tmp_path / "models").load("ex")
    assert torch.equal(loaded(x), net(x))


def test_the_sticker_is_drawn_from_the_expressed_mean_code(monkeypatch) -> None:
    import backend.filters.dtn as dtn_filter

    monkeypatch.setattr(dtn_filter, "SKIN_FIX", False)  # g's colour as it comes (skin_hue aside)
    views = torch.rand(4, 3, 32, 32)
    strong, plain = _expressive(3.0), _expressive(0.0)
    rgb, a = sticker_rgba(strong, views, chroma_sigma=0)
    with torch.no_grad():
        code = strong.f(views * 2 - 1).mean(0, keepdim=True)
        want = (strong.g(strong.express(code)) + 1) / 2
    want_rgb, want_a = straight(want)
    assert torch.allclose(rgb, want_rgb, atol=1e-4) and torch.allclose(a, want_a)
    rgb0, _ = sticker_rgba(plain, views, chroma_sigma=0)
    assert (rgb - rgb0).abs().max() > 0.01


def test_train_fits_the_emoji_smile_axis_into_the_model(tmp_path: Path) -> None:
    """``train dtn --f face`` stores f's head, the preset's strength and half the difference of
    f's mean codes of the smiling and the not-smiling emoji; ``--expression 0`` stores none."""
    args, models, emoji = tiny_face_run(tmp_path, 3)
    _, net = ModelStore(models).load("fe")
    assert net.expression is not None and net.cfg.expression == 18
    assert float(net.expression.strength) == FACE_PRESET["expression"] > 0
    images, rows = faces.load_emoji(emoji, 32)
    smile = faces.emoji_smile(rows)
    with torch.no_grad():
        z = net.f(images[:, :3].float() / 127.5 - 1).flatten(1)
    axis = (z[smile == 1].mean(0) - z[smile == 0].mean(0)) / 2
    assert float(axis.abs().max()) > 0
    assert torch.allclose(net.expression.axis, axis, atol=1e-5)
    off = [*args, "--name", "plain", "--run-dir", str(tmp_path / "r2"), "--expression", "0"]
    assert main(off) == 0
    assert ModelStore(models).load("plain")[1].expression is None


def test_expression_needs_face_labels_and_smile_labels() -> None:
    images = torch.randint(0, 255, (8, 3, 32, 32), dtype=torch.uint8)
    opts = DtnOptions(
        size=32, width=0.0625, code_dim=8, batch=4, iterations=1, expression=2.0, f="face"
    )
    f = DomainTransfer(RGBA).f
    head = torch.nn.Linear(8, 18)
    with pytest.raises(ValueError, match="--expression"):
        train(images, images, f, opts, head=head)
    with pytest.raises(ValueError, match="--expression"):
        train(
            images,
            images,
            f,
            dataclasses.replace(opts, f="folders"),
            head=head,
            target_smile=torch.zeros(8),
        )
