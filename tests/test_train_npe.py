"""``python -m backend train npe``: the IAN-like trainer, its run folder and the command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from backend.algorithms.nets.npe import NpeNet
from backend.assets.models import ModelStore
from backend.cli import main as cli_main
from backend.filters.npe import load_builtin
from backend.training.npe import CHECKPOINT, NpeOptions, train


def _faces(n: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    """Toy "faces": a bright disc on a dark ground, varying in place, size and colour."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        cx, cy, r = rng.uniform(5, size - 5, 2).tolist() + [rng.uniform(3, 6)]
        disc = ((xx - cx) ** 2 + (yy - cy) ** 2 < r * r)[..., None]
        colour = rng.uniform(120, 255, 3)
        out[i] = np.where(disc, colour, 30).astype(np.uint8)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def _write(images: torch.Tensor, folder: Path) -> None:
    folder.mkdir(parents=True)
    for i, img in enumerate(images):
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(folder / f"{i:03d}.png")


def test_training_reconstructs_better() -> None:
    torch.manual_seed(0)
    opts = NpeOptions(size=16, zdim=8, width=4, batch=8, iterations=40, lr=3e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convs: a second thread only waits on a busy machine
    try:
        _, history = train(_faces(16), opts)
    finally:
        torch.set_num_threads(threads)
    first = np.mean([h["pixel"] for h in history[:5]])
    last = np.mean([h["pixel"] for h in history[-5:]])
    assert last < 0.7 * first, (first, last)


def test_train_command_imports_resumes_and_halves(tmp_path: Path, capsys) -> None:
    _write(_faces(12), tmp_path / "faces")
    models, run, half = tmp_path / "models", tmp_path / "run", tmp_path / "half.pt"
    argv = [
        "train", "npe", "--images", str(tmp_path / "faces"), "--name", "toy",
        "--models-dir", str(models), "--run-dir", str(run), "--size", "16", "--zdim", "8",
        "--width", "4", "--batch", "4", "--device", "cpu", "--half", str(half),
        "--iterations", "3",
    ]  # fmt: skip
    assert cli_main(argv) == 0
    (entry,) = ModelStore(models).entries("npe")
    assert entry.name == "toy" and entry.meta["options"]["iterations"] == 3
    kind, net = ModelStore(models).load("toy")
    assert kind == "npe" and isinstance(net, NpeNet) and net.cfg.size == 16
    assert (run / "samples" / "step_000003.png").is_file()
    halved = torch.load(half, weights_only=True)
    assert all(v.dtype in (torch.float16, torch.int64) for v in halved.values())
    assert load_builtin(half).cfg == net.cfg
    assert cli_main(argv) == 2
    assert "exists already" in capsys.readouterr().err
    assert cli_main([*argv[:-2], "--iterations", "5", "--resume"]) == 0
    assert torch.load(run / CHECKPOINT, weights_only=True)["step"] == 5


def test_train_command_explains_bad_input(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    base = ["train", "npe", "--name", "x", "--models-dir", str(tmp_path / "m")]
    assert cli_main([*base, "--images", str(tmp_path / "empty")]) == 2
    assert "no images" in capsys.readouterr().err
    _write(_faces(2), tmp_path / "faces")
    argv = [*base, "--images", str(tmp_path / "faces"), "--align"]
    assert cli_main([*argv, "--weights-dir", str(tmp_path / "w")]) == 2
    assert "mtcnn" in capsys.readouterr().err
    assert cli_main([*base, "--images", str(tmp_path / "faces"), "--size", "48"]) == 2


def test_align_warps_each_found_face_to_the_template(tmp_path: Path, monkeypatch) -> None:
    """``--align``: faces found by the face finder are warped to the model's frame; images
    without a face are left out (the fake finder sees a face in any non-flat image)."""
    from backend.assets import nets
    from backend.training.npe import aligned_folder
    from tests.fakes import FakeFaceFinder

    monkeypatch.setattr(nets, "load_face_finder", lambda *a, **k: FakeFaceFinder())
    _write(_faces(3, size=40), tmp_path / "faces")
    Image.new("RGB", (40, 40), (90, 90, 90)).save(tmp_path / "faces" / "flat.png")
    faces = aligned_folder(tmp_path / "faces", 16, tmp_path / "weights")
    assert faces.shape == (3, 3, 16, 16) and faces.dtype == torch.uint8
