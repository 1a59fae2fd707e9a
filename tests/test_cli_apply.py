"""``python -m backend apply``: files and folders, in-process and over gRPC."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.cli import main
from backend.filters.base import Context
from tests.conftest import ROOT, Backend
from tests.prep import cyclegan as cyclegan_prep


def _png(path: Path, seed: int, size: tuple[int, int] = (24, 16)) -> np.ndarray:
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)
    arr[..., 3] = 255
    Image.fromarray(arr, "RGBA").save(path)
    return arr


def test_folder_over_grpc_carries_on_past_a_bad_file(
    live_server: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two good files are written, a corrupt one is reported, the exit status says so."""
    src = tmp_path / "in"
    src.mkdir()
    a = _png(src / "a.png", 1)
    b = _png(src / "b.png", 2)
    (src / "c.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    rc = main(
        [
            "apply",
            "test_invert",
            str(src),
            "-o",
            str(out),
            "--server",
            live_server.address,
            "--param",
            "amount=1",
        ]
    )
    text = capsys.readouterr().out
    assert rc == 1
    assert "2 of 3 files done" in text and "c.png" in text
    for name, arr in (("a", a), ("b", b)):
        got = np.asarray(Image.open(out / f"{name}.test_invert.png"))
        assert np.array_equal(got[..., :3], 255 - arr[..., :3])


def test_mask_grey_is_partial(live_server: Backend, tmp_path: Path) -> None:
    """White mask pixels take the full effect, grey half, black none."""
    arr = _png(tmp_path / "in.png", 3, (3, 1))
    Image.fromarray(np.array([[255, 128, 0]], np.uint8), "L").save(tmp_path / "m.png")
    out = tmp_path / "out.png"
    assert (
        main(
            [
                "apply",
                "test_invert",
                str(tmp_path / "in.png"),
                "-o",
                str(out),
                "--mask",
                str(tmp_path / "m.png"),
                "--server",
                live_server.address,
            ]
        )
        == 0
    )
    got = np.asarray(Image.open(out)).astype(int)
    src = arr.astype(int)
    assert np.array_equal(got[0, 0, :3], 255 - src[0, 0, :3])
    assert (
        np.abs(got[0, 1, :3] - (src[0, 1, :3] * 127 + (255 - src[0, 1, :3]) * 128) / 255).max() <= 1
    )
    assert np.array_equal(got[0, 2], src[0, 2])


def test_never_overwrites_input(live_server: Backend, tmp_path: Path) -> None:
    """An output path equal to the input is refused and the input stays as it was."""
    path = tmp_path / "x.png"
    _png(path, 4)
    before = path.read_bytes()
    with pytest.raises(SystemExit, match="a file this command reads"):
        main(["apply", "test_invert", str(path), "-o", str(path), "--server", live_server.address])
    assert path.read_bytes() == before


@pytest.mark.parametrize("case", ["mask", "layer", "hard link", "symlink"])
def test_never_writes_a_file_it_reads(live_server: Backend, tmp_path: Path, case: str) -> None:
    """-o naming the --mask file, a --layer file, or another name of the input (same inode) is
    refused before any work; every file read stays as it was."""
    src, other = tmp_path / "x.png", tmp_path / "other.png"
    _png(src, 6)
    _png(other, 7)
    args = ["apply", "test_invert", str(src), "--server", live_server.address]
    if case == "mask":
        out = other
        args += ["--mask", str(other)]
    elif case == "layer":
        out = other
        args += ["--layer", f"style={other}"]
    elif case == "hard link":
        out = tmp_path / "link.png"
        os.link(src, out)
    else:
        out = tmp_path / "sub" / "link.png"
        out.parent.mkdir()
        out.symlink_to(src)
    before = {p: p.read_bytes() for p in (src, other)}
    with pytest.raises(SystemExit, match="a file this command reads"):
        main([*args, "-o", str(out)])
    assert {p: p.read_bytes() for p in (src, other)} == before


def test_same_names_from_two_folders_are_refused(live_server: Backend, tmp_path: Path) -> None:
    """a/x.png and b/x.png into one folder would share out/x.test_invert.png: refused before
    any work (it once wrote both there and reported "2 written")."""
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        _png(tmp_path / sub / "x.png", 8)
    out = tmp_path / "out"
    with pytest.raises(SystemExit, match="would both be written"):
        main(
            [
                "apply",
                "test_invert",
                str(tmp_path / "a" / "x.png"),
                str(tmp_path / "b"),
                "-o",
                str(out),
                "--server",
                live_server.address,
            ]
        )
    assert not out.exists()


def test_bad_param_is_reported(live_server: Backend, tmp_path: Path) -> None:
    """An unknown --param stops before any file is touched, naming the parameter."""
    _png(tmp_path / "x.png", 5)
    with pytest.raises(Exception, match="bogus"):
        main(
            [
                "apply",
                "test_invert",
                str(tmp_path / "x.png"),
                "-o",
                str(tmp_path / "o.png"),
                "--server",
                live_server.address,
                "--param",
                "bogus=1",
            ]
        )


def test_in_process_cyclegan(tmp_path: Path) -> None:
    """Without --server the filter runs in this process (here a tiny CycleGAN model)."""
    ctx = Context(models_dir=tmp_path / "models")
    values = cyclegan_prep.prepare(ctx)
    _png(tmp_path / "in.png", 6, (40, 30))
    out = tmp_path / "out.png"
    cmd = [
        sys.executable,
        "-m",
        "backend",
        "apply",
        "cyclegan",
        str(tmp_path / "in.png"),
        "-o",
        str(out),
        "--models-dir",
        str(tmp_path / "models"),
        "--device",
        "cpu",
    ]
    cmd += [f"--param={k}={v}" for k, v in values.items()]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    assert Image.open(out).size == (40, 30)
    assert "1 of 1 files done" in done.stdout
