"""Third-party CycleGAN checkpoints: the architecture is read off the tensors, not the key names.

Each layout below is an independent re-creation, written here from stock torch modules, of how a
public implementation lays out its ResnetGenerator: the official junyanz one (also with
``--norm batch``), aitorzip/PyTorch-CycleGAN (``model.N.conv_block.M``, saved from DataParallel),
an Upsample + Conv decoder with ``model.N.block.M`` blocks (as in eriklindernoren's PyTorch-GAN),
and a module tree of ``encoder`` / ``res_blocks`` / ``decoder`` / ``head`` with affine
InstanceNorms. Each is saved as a state dict, imported through the CLI, and its forward pass
compared with ours; networks that are not generators are refused, naming the first mismatch.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from backend.algorithms.nets.discriminator import NLayerDiscriminator
from backend.assets.models import ModelStore
from backend.cli import main
from backend.filters.cyclegan import CycleGan, CycleGanParams
from backend.params import parse_values
from tests.conftest import Backend, tiny_context
from tests.fakes import as_array, make_layer, rect_mask


def _norm(kind: str, c: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(c)
    return nn.InstanceNorm2d(c, affine=kind == "affine")


class _ConvBlock(nn.Module):
    """A residual block whose sequential is called ``attr`` (conv_block, block, body)."""

    def __init__(self, dim: int, norm: str, attr: str, bias: bool = True) -> None:
        super().__init__()
        seq = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=bias),
            _norm(norm, dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=bias),
            _norm(norm, dim),
        )
        setattr(self, attr, seq)
        self.attr = attr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + getattr(self, self.attr)(x)


class SequentialGenerator(nn.Module):
    """One ``model`` Sequential: the junyanz / aitorzip / eriklindernoren layouts."""

    def __init__(self, ngf: int, n_blocks: int, norm: str, block: str, upsample: bool) -> None:
        super().__init__()
        bias = norm != "batch"
        m: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7, bias=bias)]
        m += [_norm(norm, ngf), nn.ReLU(True)]
        for c in (ngf, ngf * 2):
            m += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=bias), _norm(norm, 2 * c), nn.ReLU(True)]
        m += [_ConvBlock(ngf * 4, norm, block, bias) for _ in range(n_blocks)]
        for c in (ngf * 4, ngf * 2):
            if upsample:
                m += [nn.Upsample(scale_factor=2), nn.Conv2d(c, c // 2, 3, 1, 1, bias=bias)]
            else:
                m += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, 1, bias=bias)]
            m += [_norm(norm, c // 2), nn.ReLU(True)]
        m += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PartsGenerator(nn.Module):
    """``encoder`` / ``res_blocks`` / ``decoder`` / ``head`` with affine InstanceNorms."""

    def __init__(self, ngf: int, n_blocks: int) -> None:
        super().__init__()
        inorm = _norm("affine", ngf)
        self.encoder = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), inorm, nn.ReLU(True)
        )
        for c in (ngf, ngf * 2):
            self.encoder.extend([nn.Conv2d(c, 2 * c, 3, 2, 1), _norm("affine", 2 * c), nn.ReLU()])
        self.res_blocks = nn.ModuleList(
            [_ConvBlock(ngf * 4, "affine", "body") for _ in range(n_blocks)]
        )
        self.decoder = nn.Sequential()
        for c in (ngf * 4, ngf * 2):
            self.decoder.extend(
                [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, 1), _norm("affine", c // 2), nn.ReLU()]
            )
        self.head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.encoder(x)
        for block in self.res_blocks:
            x = block(x)
        return self.head(self.decoder(x))


def _randomise(net: nn.Module, seed: int) -> nn.Module:
    """Random weights everywhere, norm weights and biases included (defaults would hide a swap)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.dim() == 1 and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
        for name, b in net.named_buffers():
            if name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=g))
            elif name.endswith("running_mean"):
                b.copy_(0.1 * torch.randn(b.shape, generator=g))
    return net


LAYOUTS = {
    # name: (factory, save wrapped in DataParallel, expected summary)
    "junyanz_ngf64_6": (
        lambda: SequentialGenerator(64, 6, "instance", "conv_block", False),
        False,
        "ResnetGenerator 6 blocks, ngf 64, InstanceNorm, ConvTranspose decoder",
    ),
    "junyanz_batch_ngf32_6": (
        lambda: SequentialGenerator(32, 6, "batch", "conv_block", False),
        False,
        "ResnetGenerator 6 blocks, ngf 32, BatchNorm, ConvTranspose decoder",
    ),
    "aitorzip_dataparallel_ngf64_9": (
        lambda: SequentialGenerator(64, 9, "instance", "conv_block", False),
        True,
        "ResnetGenerator 9 blocks, ngf 64, InstanceNorm, ConvTranspose decoder",
    ),
    "upsample_conv_block_ngf32_9": (
        lambda: SequentialGenerator(32, 9, "instance", "block", True),
        False,
        "ResnetGenerator 9 blocks, ngf 32, InstanceNorm, Upsample+Conv decoder",
    ),
    "affine_parts_ngf32_6": (
        lambda: PartsGenerator(32, 6),
        False,
        "ResnetGenerator 6 blocks, ngf 32, affine InstanceNorm, ConvTranspose decoder",
    ),
}


def _save(name: str, folder: Path, seed: int = 0) -> tuple[nn.Module, Path]:
    factory, parallel, _ = LAYOUTS[name]
    ref = _randomise(factory(), seed)
    state = (nn.DataParallel(ref) if parallel else ref).state_dict()
    if parallel:
        assert all(k.startswith("module.") for k in state)
    path = folder / f"{name}.pth"
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return ref, path


def _reference_output(ref: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The re-creation's own forward pass; BatchNorm as the official test.py runs it (train mode,
    one image: that image's statistics), everything else in eval mode."""
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in ref.modules())
    with torch.no_grad():
        return ref.train(has_bn)(x)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_layout_imports_through_cli_and_matches(name: str, tmp_path: Path, capsys) -> None:
    """CLI import records the inferred architecture; the filter reproduces the reference."""
    ref, path = _save(name, tmp_path / "src")
    models = tmp_path / "models"
    assert main(["models", "import", str(path), "--name", "m", "--models-dir", str(models)]) == 0
    summary = LAYOUTS[name][2]
    assert summary in capsys.readouterr().out
    assert main(["models", "list", "--models-dir", str(models)]) == 0
    assert summary in capsys.readouterr().out
    ctx = tiny_context(tmp_path)
    image = torch.rand(1, 3, 40, 52)
    flt = CycleGan(ctx)
    params = parse_values(
        CycleGanParams, {"model": "m", "precision": "fp32"}, flt.dynamic_choices()
    )
    out = flt.run(_job(image), params, lambda s: None)[0].image
    want = (_reference_output(ref, image * 2 - 1) + 1) / 2
    diff = float((out - want).abs().max())
    print(f"{name}: max |ours - reference| = {diff:.2e}")
    assert diff <= 1e-5
    entry = ModelStore(models).entry("m")
    assert entry.parts["main"]["sha256"]  # the file is kept as it was
    assert (models / "m.pth").read_bytes() == path.read_bytes()


def _job(image: torch.Tensor):
    from backend.filters.base import FilterInput

    h, w = image.shape[-2:]
    ones = torch.ones(1, 1, h, w)
    return FilterInput(image=image, alpha=ones, mask=ones, box=(0, 0, w, h))


def _classifier_state() -> dict[str, torch.Tensor]:
    return torchvision.models.resnet18(num_classes=10).state_dict()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (
            lambda: NLayerDiscriminator(ndf=16).state_dict(),
            r"tensor #8 'model\.11\.weight' \(1, 128, 4, 4\): expected '[\w.]+' "
            r"\(128, 128, 4, 4\), the 4x4 Conv2d of a U-Net",
        ),
        (
            _classifier_state,
            r"tensor #\d+ 'layer1\.0\.conv1\.weight' \(64, 64, 3, 3\): expected 'model\.4\.weight' "
            r"\(128, 64, 3, 3\), the 3x3 Conv2d of a ResnetGenerator",
        ),
        (
            lambda: {
                k: v
                for k, v in SequentialGenerator(8, 2, "instance", "conv_block", False)
                .state_dict()
                .items()
                if not k.startswith("model.15.")
            },
            r"tensor #\d+ 'model\.19\.weight' \(3, 8, 7, 7\): expected 'model\.15\.weight' "
            r"\(16, 8, 3, 3\), the 3x3 ConvTranspose2d",
        ),
    ],
    ids=["discriminator", "classifier", "truncated"],
)
def test_not_a_generator_is_refused(tmp_path: Path, capsys, make, reason: str) -> None:
    """A discriminator, a classifier or a truncated generator: exit 1, first mismatch, nothing
    installed."""
    path = tmp_path / "x.pth"
    torch.save(make(), path)
    models = tmp_path / "models"
    assert main(["models", "import", str(path), "--name", "x", "--models-dir", str(models)]) == 1
    err = capsys.readouterr().err
    print(err)
    assert "is not a cyclegan model" in err
    assert re.search(reason, err), err
    assert ModelStore(models).entries() == []
    assert not models.exists() or not list(models.glob("*.pth"))


def test_unusable_generator_is_refused(tmp_path: Path, capsys) -> None:
    """Tensors that fit but give NaN on the test image are refused after the forward pass."""
    net = SequentialGenerator(8, 2, "instance", "conv_block", False)
    state = net.state_dict()
    state["model.19.bias"] = torch.full_like(state["model.19.bias"], float("nan"))
    torch.save(state, tmp_path / "nan.pth")
    models = tmp_path / "models"
    code = main(
        ["models", "import", str(tmp_path / "nan.pth"), "--name", "n"]
        + [
            "--models-dir",
            str(models),
        ]
    )
    assert code == 1
    assert "forward pass on a test image gives NaN" in capsys.readouterr().err
    assert ModelStore(models).entries() == []


def test_imported_layout_runs_over_grpc(make_backend, tmp_path: Path, capsys) -> None:
    """A DataParallel aitorzip-style file imported by the CLI runs through the gRPC server, and the
    schema's model help names its architecture (the editors' tooltip)."""
    backend: Backend = make_backend()
    models = backend.registry.ctx.models_dir
    ref, path = _save("upsample_conv_block_ngf32_9", tmp_path / "src", seed=3)
    args = ["models", "import", str(path), "--name", "third", "--models-dir", str(models)]
    assert main(args) == 0
    with backend.client() as client:
        spec = next(f for f in client.list_filters() if f.id == "cyclegan")
        model = next(p for p in spec.params if p.name == "model")
        assert "third" in model.choices
        assert "third (ResnetGenerator 9 blocks, ngf 32, InstanceNorm, Upsample+Conv" in model.help
        layer = make_layer(36, 28, seed=4)
        values = {"model": "third", "precision": "fp32"}
        result = client.run("cyclegan", layer, rect_mask(36, 28, 0, 0, 36, 28), values)
    got = as_array(result.layers[0])[..., :3].astype(np.float32) / 255
    src = torch.from_numpy(as_array(layer)[..., :3].astype(np.float32) / 255).permute(2, 0, 1)
    want = (_reference_output(ref, src[None] * 2 - 1) + 1) / 2
    want_u8 = want[0].permute(1, 2, 0).numpy()
    assert float(np.abs(got - want_u8).max()) <= 1.5 / 255
