"""f pretrained on augmented views (``--f-augment``, docs/quality-dtn.md "f with augmentation")."""

from __future__ import annotations

import argparse

import pytest
import torch

from backend.training.dtn import DtnOptions, add_dtn_arguments
from backend.training.dtn import pretrain as pretrain_mod
from backend.training.dtn.augment import augment
from backend.training.dtn.cli import options_from_args


def test_augment_mirrors_moves_and_recolours_a_little() -> None:
    """Views stay in range and near the image; about half are mirrored; none is the image."""
    gen = torch.Generator().manual_seed(0)
    img = torch.zeros(1, 3, 32, 32)
    img[..., :, :10] = 0.8  # a bright band on the left: mirroring moves it right
    img[:, 0] -= 0.3
    x = img.expand(200, -1, -1, -1).contiguous()
    views = augment(x, gen)
    assert views.shape == x.shape and views.min() >= -1 and views.max() <= 1
    assert (views - x).abs().flatten(1).amax(1).min() > 0.01
    left = views[..., :, :10].mean((1, 2, 3)) > views[..., :, -10:].mean((1, 2, 3))
    assert 0.35 < float(left.float().mean()) < 0.65
    same_side = torch.where(left[:, None, None, None], x, x.flip(-1))
    assert float((views - same_side).abs().mean()) < 0.15  # small shifts and jitter only


def _inputs_seen(monkeypatch: pytest.MonkeyPatch, opts: DtnOptions, images: torch.Tensor):
    seen: list[torch.Tensor] = []
    real = pretrain_mod.init_weights

    def spy(model: torch.nn.Module) -> None:
        real(model)
        model.encoder.register_forward_pre_hook(
            lambda _m, a: seen.append(a[0].detach().clone()) if model.training else None
        )

    monkeypatch.setattr(pretrain_mod, "init_weights", spy)
    pretrain_mod.pretrain_classifier(images, torch.arange(len(images)) % 2, opts)
    return torch.cat(seen)


def test_f_augment_pretrains_f_on_views_not_the_images_themselves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (24, 3, 32, 32), dtype=torch.uint8, generator=gen)
    as_float = images.float() / 127.5 - 1
    small = {"width": 0.0625, "code_dim": 8, "batch": 8, "f_iterations": 5}

    def exact_share(seen: torch.Tensor) -> float:
        d = (seen[:, None] - as_float[None]).abs().flatten(2).amax(2).min(1).values
        return float((d < 1e-5).float().mean())

    plain = _inputs_seen(monkeypatch, DtnOptions(**small), images)
    augmented = _inputs_seen(monkeypatch, DtnOptions(**small, f_augment=True), images)
    assert len(plain) == len(augmented) == 40
    assert exact_share(plain) == 1.0 and exact_share(augmented) == 0.0

    p = argparse.ArgumentParser()
    add_dtn_arguments(p)
    base = ["--source", "s", "--target", "t", "--name", "n"]
    assert options_from_args(p.parse_args([*base, "--f-augment"])).f_augment is True
    assert DtnOptions().f_augment is False
