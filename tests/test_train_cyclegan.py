"""CycleGAN training: losses fall and colours translate on toy domains; checkpoints and resume."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from backend.assets.models import ModelStore
from backend.cli import main
from backend.training.cyclegan import CycleGanConfig, CycleGanTrainer, ImagePool, lr_factor

RED, GREEN, DARK = (220, 40, 40), (40, 220, 40), (20, 20, 20)


def _shape(rng: random.Random, size: int, colour: tuple[int, int, int]) -> Image.Image:
    im = Image.new("RGB", (size, size), DARK)
    r = rng.randint(size // 6, size // 3)
    cx, cy = rng.randint(r, size - r), rng.randint(r, size - r)
    draw = ImageDraw.Draw(im)
    (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(
        (cx - r, cy - r, cx + r, cy + r), colour
    )
    return im


def _domain(folder: Path, n: int, colour: tuple[int, int, int], seed: int) -> Path:
    folder.mkdir(parents=True)
    rng = random.Random(seed)
    for i in range(n):
        _shape(rng, 36, colour).save(folder / f"{i:03d}.png")
    return folder


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny convolutions run far faster on one thread on a busy machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _translation_score(g: torch.nn.Module, seed: int = 7, n: int = 16) -> float:
    """Balanced accuracy of red shapes on dark turned into green shapes on dark (chance 0.5)."""
    rng = random.Random(seed)
    x = torch.from_numpy(np.stack([np.asarray(_shape(rng, 32, RED)) for _ in range(n)]))
    x = x.permute(0, 3, 1, 2).float() / 127.5 - 1
    shape = x[:, 0] > 0
    with torch.no_grad():
        y = g.eval()(x)
    green = torch.tensor(GREEN).float()[:, None, None] / 127.5 - 1
    dark = torch.tensor(DARK).float()[:, None, None] / 127.5 - 1
    says_shape = ((y - green) ** 2).sum(1) < ((y - dark) ** 2).sum(1)
    return 0.5 * float(says_shape[shape].float().mean() + (~says_shape[~shape]).float().mean())


def _config(tmp: Path, **kw) -> CycleGanConfig:
    a = tmp / "a" if (tmp / "a").exists() else _domain(tmp / "a", 32, RED, 1)
    b = tmp / "b" if (tmp / "b").exists() else _domain(tmp / "b", 32, GREEN, 2)
    base = dict(size=32, epochs=5, batch_size=4, ngf=8, n_blocks=2, ndf=8, lr=1e-3)
    base.update(checkpoint_every=0, run_dir=str(tmp / "run"), models_dir=str(tmp / "models"))
    base.update(kw)
    return CycleGanConfig(str(a), str(b), "toy", **base)  # type: ignore[arg-type]


@pytest.mark.slow
def test_training_translates_toy_domains(tmp_path: Path, one_thread: None) -> None:
    """On red vs green shapes the losses fall, G_A turns red green, and the pair is imported."""
    trainer = CycleGanTrainer(_config(tmp_path))
    before = _translation_score(trainer.g_a)
    trainer.fit()
    h = trainer.history
    assert len(h) == 5 * 8
    for key in ("cyc_A", "cyc_B", "G_A", "G_B"):
        assert np.mean([e[key] for e in h[-8:]]) < np.mean([e[key] for e in h[:8]]), key
    after = _translation_score(trainer.g_a)
    assert after >= 0.75 and after > before + 0.1
    assert len(list((tmp_path / "run" / "samples").glob("epoch_*.png"))) == 5
    assert Image.open(tmp_path / "run" / "samples" / "epoch_0005.png").size == (
        2 + 4 * 34,
        2 + 6 * 34,
    )
    trainer.publish()
    entry = ModelStore(tmp_path / "models").entry("toy")
    assert entry.is_pair and entry.arch["ngf"] == 8 and entry.meta["trained"]["epochs"] == 5
    _, g = ModelStore(tmp_path / "models").load("toy", "a_to_b")
    assert _translation_score(g) == pytest.approx(after)


def test_interrupted_run_resumes(tmp_path: Path, one_thread: None) -> None:
    """An interrupted run saves a checkpoint; --resume continues it to the end and imports it."""
    cfg = _config(tmp_path, epochs=2, ngf=4, ndf=4)

    def interrupt(step: int, losses: dict[str, float]) -> None:
        if step == 11:
            raise KeyboardInterrupt

    first = CycleGanTrainer(cfg)
    with pytest.raises(KeyboardInterrupt):
        first.fit(on_iteration=interrupt)
    second = CycleGanTrainer(cfg)
    assert second.resume()
    assert (second.epoch, second.iteration, second.step_count) == (1, 3, 11)
    for p, q in zip(first.g_a.parameters(), second.g_a.parameters(), strict=True):
        assert torch.equal(p, q)
    args = ["train", "cyclegan", "--domain-a", cfg.domain_a, "--domain-b", cfg.domain_b]
    args += ["--name", "toy", "--size", "32", "--epochs", "2", "--batch-size", "4", "--ngf", "4"]
    args += ["--n-blocks", "2", "--ndf", "4", "--run-dir", cfg.run_dir]
    args += ["--models-dir", str(cfg.models_dir), "--device", "cpu"]
    assert main(args) == 2  # a checkpoint exists: refuses to start over without --resume
    assert main([*args, "--resume"]) == 0
    state = torch.load(tmp_path / "run" / "checkpoint.pth", weights_only=True)
    assert (state["epoch"], state["step_count"]) == (2, 16)
    assert [e.name for e in ModelStore(cfg.models_dir).entries("cyclegan")] == ["toy"]


def test_learning_rate_policy_and_pool() -> None:
    """The rate stays constant for half the epochs then falls linearly; the pool mixes history."""
    rates = [lr_factor(e, 200) for e in range(200)]
    assert rates[:100] == [1.0] * 100 and rates[100] < 1.0
    assert all(a > b for a, b in itertools.pairwise(rates[100:])) and rates[-1] > 0
    pool = ImagePool(2, random.Random(0))
    seen = [pool.query(torch.full((1, 1), float(i))).item() for i in range(40)]
    assert seen[:2] == [0.0, 1.0] and any(s < i for i, s in enumerate(seen))
    assert ImagePool(0, random.Random(0)).query(torch.ones(1, 1)).item() == 1.0
