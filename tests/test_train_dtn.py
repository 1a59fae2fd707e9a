"""DTN training: tiny synthetic domains, checkpoints/resume, folders, the ``train dtn`` command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from backend.algorithms.nets.dtn import DomainTransfer
from backend.assets.models import ModelStore
from backend.cli import main as cli_main
from backend.training.dtn import (
    CHECKPOINT,
    DtnOptions,
    DtnTrainer,
    load_encoder,
    load_folder,
    load_head,
    pretrain_classifier,
    r1_penalty,
    save_encoder,
    train,
)

CLASSES = 4


def blobs(n: int, seed: int, target: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Two toy domains whose class is the quadrant of a blob.

    Source: a 10 px square of a random colour on a flat background, dark on light three times
    in four (which the target's classes cannot read), light on dark otherwise. Target: a white
    8 px square on black. Returns uint8 (n, 3, 32, 32) images and labels.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    images = np.zeros((n, 32, 32, 3), np.float32)
    for i, c in enumerate(labels):
        y0, x0 = 16 * (c // 2) + 3 + rng.integers(-2, 3), 16 * (c % 2) + 3 + rng.integers(-2, 3)
        if target:
            images[i, y0 + 1 : y0 + 9, x0 + 1 : x0 + 9] = 1.0
        else:
            light, dark = 0.6 + rng.random(3) * 0.4, rng.random(3) * 0.4
            back, ink = (light, dark) if i % 4 else (dark, light)
            images[i] = back
            images[i, y0 : y0 + 10, x0 : x0 + 10] = ink
    u8 = torch.from_numpy((images * 255).astype(np.uint8)).permute(0, 3, 1, 2).contiguous()
    return u8, torch.from_numpy(labels)


def nearest_centroid_accuracy(
    train_x: torch.Tensor, train_y: torch.Tensor, x: torch.Tensor, y: torch.Tensor
) -> float:
    """Accuracy on ``x`` (floats in [0, 1]) of class means of the target images ``train_x``."""
    flat = train_x.float().flatten(1) / 255
    means = torch.stack([flat[train_y == c].mean(0) for c in range(CLASSES)])
    pred = torch.cdist(x.flatten(1), means).argmin(1)
    return float((pred == y).float().mean())


FAST = DtnOptions(
    width=0.125,
    code_dim=16,
    batch=16,
    iterations=60,
    f_iterations=60,
    lr=1e-3,
    f_lr=3e-3,
    checkpoint_every=30,
    sample_every=30,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny nets train ~10× faster on one thread than on two when the CPU is shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def domains() -> dict[str, torch.Tensor]:
    src, src_y = blobs(400, 0, target=False)
    tgt, tgt_y = blobs(400, 1, target=True)
    test, test_y = blobs(200, 2, target=False)
    return {"src": src, "src_y": src_y, "tgt": tgt, "tgt_y": tgt_y, "test": test, "test_y": test_y}


@pytest.fixture(scope="module")
def pretrained(domains: dict[str, torch.Tensor]):
    torch.manual_seed(0)
    return pretrain_classifier(domains["src"], domains["src_y"], FAST)


@pytest.fixture(scope="module")
def encoder(pretrained):
    model, acc = pretrained
    return model.encoder, acc


@pytest.fixture(scope="module")
def classifier(pretrained):
    return pretrained[0]


def test_pretrain_f_learns_source_classes(encoder) -> None:
    """f pretrained as a classifier tells the source classes apart on held-out images."""
    _, acc = encoder
    assert acc > 0.9


@pytest.mark.parametrize("r1", [0.0, 1.0])
def test_training_beats_chance_and_losses_fall(
    encoder, domains: dict[str, torch.Tensor], tmp_path: Path, r1: float
) -> None:
    """A short DTN run lowers the content losses and G(source) reads as the right target class."""
    f, _ = encoder
    opts = DtnOptions(**{**FAST.__dict__, "r1": r1})
    net, history = train(domains["src"], domains["tgt"], f, opts, tmp_path)
    content = [FAST.alpha * h["const"] + FAST.beta * h["tid"] for h in history]
    assert np.mean(content[-10:]) < 0.5 * np.mean(content[:10])
    with torch.no_grad():
        out = net(domains["test"].float() / 255)
    acc = nearest_centroid_accuracy(domains["tgt"], domains["tgt_y"], out, domains["test_y"])
    raw = nearest_centroid_accuracy(
        domains["tgt"], domains["tgt_y"], domains["test"].float() / 255, domains["test_y"]
    )
    assert raw < 0.5 and acc > max(0.6, raw + 0.25), (acc, raw)
    assert (tmp_path / "model.pth").is_file() and (tmp_path / CHECKPOINT).is_file()
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "step_000030.png",
        "step_000060.png",
    ]


def test_class_constancy_beats_chance(classifier, domains, tmp_path: Path) -> None:
    """L_CONST on f's class posteriors: G(source) still reads as the right target class."""
    opts = DtnOptions(**{**FAST.__dict__, "constancy": "class"})
    net, history = train(
        domains["src"], domains["tgt"], classifier.encoder, opts, head=classifier.head
    )
    assert np.mean([h["const"] for h in history[-10:]]) < np.mean(
        [h["const"] for h in history[:10]]
    )
    with torch.no_grad():
        out = net(domains["test"].float() / 255)
    acc = nearest_centroid_accuracy(domains["tgt"], domains["tgt_y"], out, domains["test_y"])
    raw = nearest_centroid_accuracy(
        domains["tgt"], domains["tgt_y"], domains["test"].float() / 255, domains["test_y"]
    )
    print(f"class constancy: G(source) {acc:.3f}, raw source {raw:.3f}")
    assert acc > max(0.6, raw + 0.25), (acc, raw)


def test_class_constancy_needs_the_head(classifier) -> None:
    """Without f's pretraining head, class constancy is refused with the way out."""
    opts = DtnOptions(**{**FAST.__dict__, "constancy": "class"})
    with pytest.raises(ValueError, match="head f was pretrained with"):
        DtnTrainer(classifier.encoder, opts, torch.device("cpu"))
    with pytest.raises(ValueError, match="constancy must be one of code, class"):
        DtnOptions(constancy="pixels")


def test_d_rates_fakes_in_the_same_batch_mix_for_g(encoder, domains) -> None:
    """Every D call (its own step and g's GAN loss) sees fakes and real targets together.

    D has BatchNorm: rating a batch of fakes alone normalises it with the fakes' own statistics,
    and D then calls nearly every fake real, so g got no GAN signal (the digits protocol read
    ~50 % with that, ~80 % without it; docs/quality-dtn.md).
    """
    f, _ = encoder
    trainer = DtnTrainer(f, DtnOptions(**{**FAST.__dict__, "g_steps": 2}), torch.device("cpu"))
    xs, xt = domains["src"][:6].float() / 127.5 - 1, domains["tgt"][:5].float() / 127.5 - 1
    seen: list[tuple[int, float]] = []

    def spy(_module, args) -> None:
        batch = args[0]
        real = batch[-5:].detach()
        seen.append((batch.shape[0], float((real - xt).abs().max())))

    handle = trainer.d.register_forward_pre_hook(spy)
    try:
        trainer.step(xs, xt)
    finally:
        handle.remove()
    assert len(seen) == 3  # D's step, then g's two steps
    assert all(n == 6 + 5 + 5 and diff == 0 for n, diff in seen), seen


def test_r1_penalty_is_the_squared_slope_of_the_real_score() -> None:
    """For a linear D (logits = x·W) the slope of log p_real is W_real − Σ_k p_k W_k."""
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(12, 3, generator=gen)
    x = torch.randn(5, 3, 2, 2, generator=gen).requires_grad_(True)
    logits = x.flatten(1) @ w
    p = logits.softmax(1).detach()
    slope = w[:, 2] - p @ w.T  # (5, 12)
    expected = slope.pow(2).sum(1).mean()
    assert torch.allclose(r1_penalty(logits, x), expected, atol=1e-5)


def test_r1_enters_d_update(encoder, domains) -> None:
    """``r1`` > 0 reports the penalty and changes D's step; 0 leaves the step as it was."""
    f, _ = encoder
    xs, xt = domains["src"][:6].float() / 127.5 - 1, domains["tgt"][:5].float() / 127.5 - 1

    def one_step(r1: float) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
        trainer = DtnTrainer(f, DtnOptions(**{**FAST.__dict__, "r1": r1}), torch.device("cpu"))
        return trainer.step(xs, xt), trainer.d.state_dict()

    (plain, d_plain), (_, d_again) = one_step(0.0), one_step(0.0)
    penalised, d_penalised = one_step(10.0)
    assert "r1" not in plain and penalised["r1"] > 0
    assert all(torch.equal(d_plain[k], d_again[k]) for k in d_plain)
    assert any(not torch.equal(d_plain[k], d_penalised[k]) for k in d_plain)


def test_weight_average_of_g(encoder, domains, tmp_path: Path) -> None:
    """With ``ema``, g's weights are averaged from ``ema_start`` on and the average is the model.

    Its BatchNorm statistics are measured afresh for the averaged weights; the checkpoint keeps
    the average so a resumed run continues it.
    """
    f, _ = encoder
    opts = DtnOptions(**{**FAST.__dict__, "iterations": 4, "ema": 0.5, "ema_start": 2})
    trainer = DtnTrainer(f, opts, torch.device("cpu"))
    xs, xt = domains["src"][:8].float() / 127.5 - 1, domains["tgt"][:8].float() / 127.5 - 1
    snapshots = []
    for _ in range(4):
        trainer.step(xs, xt)
        snapshots.append([p.detach().clone() for p in trainer.g.parameters()])
    expected = [0.25 * a + 0.25 * b + 0.5 * c for a, b, c in zip(*snapshots[1:], strict=True)]
    assert trainer.g_ema is not None
    for avg, want in zip(trainer.g_ema.parameters(), expected, strict=True):
        assert torch.allclose(avg, want, atol=1e-6)
    averaged = trainer.averaged_g(domains["src"], domains["tgt"], batches=3)
    live_bn, avg_bn = trainer.g.net[1], averaged.net[1]
    assert not averaged.training and not torch.allclose(live_bn.running_mean, avg_bn.running_mean)
    assert torch.equal(trainer.g_ema.net[0].weight, averaged.net[0].weight)

    train(domains["src"][:32], domains["tgt"][:32], f, opts, tmp_path)
    saved = torch.load(tmp_path / "model.pth", weights_only=True)
    ckpt = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    assert torch.equal(saved["g.net.0.weight"], ckpt["g_ema"]["net.0.weight"])
    assert not torch.equal(saved["g.net.0.weight"], ckpt["g"]["net.0.weight"])
    resumed = DtnTrainer(f, opts, torch.device("cpu"))
    resumed.load_state_dict(ckpt)
    assert resumed.g_ema is not None and torch.equal(
        resumed.g_ema.net[0].weight, ckpt["g_ema"]["net.0.weight"]
    )
    with pytest.raises(ValueError, match="no weight average yet"):
        DtnTrainer(f, FAST, torch.device("cpu")).averaged_g(domains["src"], domains["tgt"])


def test_resume_continues_from_checkpoint(encoder, domains: dict[str, torch.Tensor], tmp_path):
    """A resumed run starts at the saved step and ends where an extended run would."""
    f, _ = encoder
    opts = DtnOptions(width=0.0625, code_dim=16, batch=4, iterations=4, checkpoint_every=2)
    _, first = train(domains["src"][:32], domains["tgt"][:32], f, opts, tmp_path)
    assert len(first) == 4
    longer = DtnOptions(**{**opts.__dict__, "iterations": 6})
    _, rest = train(domains["src"][:32], domains["tgt"][:32], f, longer, tmp_path, resume=True)
    assert len(rest) == 2
    state = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    assert state["step"] == 6


def test_encoder_round_trip(encoder, tmp_path: Path) -> None:
    """f saved with save_encoder loads back (weights_only) with the same outputs."""
    f, _ = encoder
    save_encoder(f, tmp_path / "f.pth")
    g = load_encoder(tmp_path / "f.pth")
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    assert torch.allclose(f(x), g(x))
    assert load_head(tmp_path / "f.pth") is None


def test_encoder_round_trip_with_head(classifier, tmp_path: Path) -> None:
    """f's pretraining head travels in f.pth and gives the same class posteriors back."""
    save_encoder(classifier.encoder, tmp_path / "f.pth", classifier.head)
    f, head = load_encoder(tmp_path / "f.pth"), load_head(tmp_path / "f.pth")
    assert head is not None
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    assert torch.allclose(head(f(x).flatten(1)), classifier(x), atol=1e-6)


def _write(images: torch.Tensor, labels: torch.Tensor | None, folder: Path) -> None:
    for i, img in enumerate(images):
        sub = folder / f"c{int(labels[i])}" if labels is not None else folder
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.permute(1, 2, 0).numpy()).resize((40, 48)).save(sub / f"{i}.png")


def test_load_folder_labels(domains: dict[str, torch.Tensor], tmp_path: Path) -> None:
    """Sub-folders become labels; a flat folder has none; images are squared to the size."""
    _write(domains["src"][:12], domains["src_y"][:12], tmp_path / "lab")
    _write(domains["tgt"][:5], None, tmp_path / "flat")
    x, y, classes = load_folder(tmp_path / "lab", 32)
    assert x.shape == (12, 3, 32, 32) and x.dtype == torch.uint8
    assert y is not None and classes == sorted({f"c{int(c)}" for c in domains["src_y"][:12]})
    x, y, classes = load_folder(tmp_path / "flat", 64)
    assert x.shape == (5, 3, 64, 64) and y is None and classes == []
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        load_folder(tmp_path / "empty", 32)


def test_train_command_imports_model(
    domains: dict[str, torch.Tensor], tmp_path: Path, capsys
) -> None:
    """`train dtn` pretrains f, trains, imports the model; a second run with the name refuses."""
    _write(domains["src"][:40], domains["src_y"][:40], tmp_path / "src")
    _write(domains["tgt"][:40], None, tmp_path / "tgt")
    models, run = tmp_path / "models", tmp_path / "run"
    argv = [
        "train", "dtn", "--source", str(tmp_path / "src"), "--target", str(tmp_path / "tgt"),
        "--name", "toy", "--models-dir", str(models), "--run-dir", str(run), "--width", "0.0625",
        "--code-dim", "8", "--batch", "4", "--iterations", "3", "--f-iterations", "3",
        "--device", "cpu",
    ]  # fmt: skip
    assert cli_main(argv) == 0
    store = ModelStore(models)
    (entry,) = store.entries("dtn")
    assert entry.name == "toy" and entry.meta["options"]["iterations"] == 3
    kind, net = store.load("toy")
    assert kind == "dtn" and isinstance(net, DomainTransfer)
    assert (run / "f.pth").is_file() and (run / "samples" / "step_000003.png").is_file()
    assert cli_main(argv) == 2
    assert "exists already" in capsys.readouterr().err
    assert cli_main([*argv[:-6], "--iterations", "5", "--f-iterations", "3", "--resume"]) == 0
    assert torch.load(run / CHECKPOINT, weights_only=True)["step"] == 5
    assert load_head(run / "f.pth") is not None  # a labelled source keeps f's head


def test_train_command_class_constancy(
    domains: dict[str, torch.Tensor], tmp_path: Path, capsys
) -> None:
    """`--constancy class` (and `--r1`) train from a labelled source; an unlabelled one refuses."""
    _write(domains["src"][:40], domains["src_y"][:40], tmp_path / "src")
    _write(domains["tgt"][:40], None, tmp_path / "tgt")
    common = [
        "--target", str(tmp_path / "tgt"), "--models-dir", str(tmp_path / "models"),
        "--width", "0.0625", "--code-dim", "8", "--batch", "4", "--iterations", "3",
        "--f-iterations", "3", "--device", "cpu", "--constancy", "class",
    ]  # fmt: skip
    argv = ["train", "dtn", "--source", str(tmp_path / "src"), "--name", "cls", *common]
    assert cli_main([*argv, "--r1", "1", "--run-dir", str(tmp_path / "run1")]) == 0
    entry = ModelStore(tmp_path / "models").entries("dtn")[0]
    assert entry.meta["options"]["constancy"] == "class" and entry.meta["options"]["r1"] == 1.0
    assert "r1" in entry.meta["final_losses"]
    flat = ["train", "dtn", "--source", str(tmp_path / "tgt"), "--name", "flat", *common]
    assert cli_main([*flat, "--run-dir", str(tmp_path / "run2")]) == 2
    assert "needs a labelled source" in capsys.readouterr().err
    assert [e.name for e in ModelStore(tmp_path / "models").entries("dtn")] == ["cls"]
