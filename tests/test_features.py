"""VGGFeatures: layer dicts, shapes, strides, post-ReLU maps, size errors, gradients, backbones."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision.models.vgg import cfgs, make_layers

from backend.algorithms.features import (
    CAFFE_RGB,
    IMAGENET,
    VGG16_LAYERS,
    VGG19_LAYERS,
    HEDHead,
    tiny_backbone,
    vgg16_features,
    vgg19_features,
)
from backend.assets.nets import default_backbone, default_backbone_name
from backend.errors import WeightsMissing

MAIN = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"]
STRIDES = {"relu1_1": 1, "relu2_1": 2, "relu3_1": 4, "relu4_1": 8, "relu4_2": 8, "relu5_1": 16}


def test_layer_tables_match_algorithms_doc() -> None:
    """The ReLU indices are the documented torchvision ones for VGG16 and VGG19."""
    assert [VGG19_LAYERS[n] for n in MAIN] == [1, 6, 11, 20, 22, 29]
    assert [VGG16_LAYERS[n] for n in MAIN] == [1, 6, 11, 18, 20, 25]
    assert [VGG16_LAYERS[n] for n in ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")] == [
        3, 8, 15, 22, 29,
    ]  # fmt: skip


def test_tiny_backbone_keys_shapes_strides() -> None:
    """tiny returns exactly the requested layers at the right stride and channel count."""
    net = tiny_backbone()
    image = torch.rand(2, 3, 48, 64)
    out = net(image, MAIN)
    assert list(out) == MAIN
    for name, fmap in out.items():
        s = STRIDES[name]
        assert net.stride(name) == s
        assert fmap.shape == (2, net.channels(name), 48 // s, 64 // s)
    assert [net.channels(n) for n in ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")] == [
        4, 8, 16, 32, 32,
    ]  # fmt: skip


def test_tiny_backbone_is_seeded_and_does_not_touch_global_rng() -> None:
    """Same seed -> same weights, other seed -> other weights; global RNG state is untouched."""
    state = torch.random.get_rng_state()
    a, b, c = tiny_backbone(0), tiny_backbone(0), tiny_backbone(1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.features[0].weight, b.features[0].weight)
    assert not torch.equal(a.features[0].weight, c.features[0].weight)


@pytest.mark.parametrize(
    ("make", "tv", "table"),
    [(vgg16_features, "D", VGG16_LAYERS), (vgg19_features, "E", VGG19_LAYERS)],
)
def test_full_architectures_match_torchvision(make, tv, table) -> None:
    """An uninitialised full VGG loads torchvision's features state dict strictly and its maps
    equal slices of torchvision's own trunk (post-ReLU) at the documented indices."""
    torch.manual_seed(0)
    ref = make_layers(cfgs[tv]).eval()  # torchvision's vgg16/19().features
    net = make(ref.state_dict())
    image = torch.rand(1, 3, 32, 32)
    out = net(image, MAIN)
    x = net.normalize(image)
    with torch.no_grad():
        for i, module in enumerate(ref):
            x = module(x)
            for name in MAIN:
                if table[name] == i:
                    torch.testing.assert_close(out[name], x)
            if i == table["relu5_1"]:
                break
    for name in MAIN:
        assert out[name].shape[1] == {1: 64, 2: 128, 4: 256, 8: 512, 16: 512}[STRIDES[name]]
        assert out[name].shape[-1] == 32 // STRIDES[name]


def test_maps_are_post_relu() -> None:
    """Every returned map is non-negative and has zeros (the ReLU was applied)."""
    out = tiny_backbone()(torch.rand(1, 3, 32, 32), tiny_backbone().layer_names)
    for fmap in out.values():
        assert fmap.min() >= 0
        assert (fmap == 0).any()


def test_returned_map_not_mutated_by_deeper_layers() -> None:
    """A shallow map returned together with deeper ones equals the map computed on its own."""
    net = tiny_backbone()
    image = torch.rand(1, 3, 32, 32)
    alone = net(image, ["relu3_1"])["relu3_1"].clone()
    together = net(image, ["relu3_1", "relu3_2", "relu5_1"])["relu3_1"]
    assert torch.equal(alone, together)
    assert not any(getattr(m, "inplace", False) for m in net.features)


def test_runs_only_to_deepest_requested_layer() -> None:
    """Requesting relu2_1 never runs modules past its index."""
    net = tiny_backbone()
    ran: list[int] = []
    for i, module in enumerate(net.features):
        module.register_forward_hook(lambda *_, i=i: ran.append(i))
    net(torch.rand(1, 3, 16, 16), ["relu2_1"])
    assert max(ran) == net.index("relu2_1") == 6


@pytest.mark.parametrize(("layer", "need"), [("relu5_1", 16), ("relu3_1", 4), ("relu1_1", 1)])
def test_too_small_input_raises_clear_error(layer: str, need: int) -> None:
    """Inputs smaller than the deepest layer needs raise the documented ValueError."""
    net = tiny_backbone()
    assert net.min_size_for([layer]) == need
    if need > 1:
        with pytest.raises(ValueError, match=f"Input is {need - 1}x40 but must be at least"):
            net(torch.rand(1, 3, need - 1, 40), [layer])
    assert layer in net(torch.rand(1, 3, need, need), [layer])
    assert net.min_size == 16


def test_unknown_layer_and_bad_shape_raise() -> None:
    """Unknown layer names, empty requests and non-RGB inputs are rejected."""
    net = tiny_backbone()
    with pytest.raises(ValueError, match="Unknown layer"):
        net(torch.rand(1, 3, 32, 32), ["relu9_1"])
    with pytest.raises(ValueError, match="No layers"):
        net(torch.rand(1, 3, 32, 32), [])
    with pytest.raises(ValueError, match="shape"):
        net(torch.rand(1, 4, 32, 32), ["relu1_1"])


def test_gradient_reaches_input_but_not_weights() -> None:
    """The backbone is frozen yet differentiable with respect to the pixels."""
    net = tiny_backbone()
    image = torch.rand(1, 3, 32, 32, requires_grad=True)
    out = net(image, ["relu3_1", "relu5_1"])
    (out["relu3_1"].sum() + out["relu5_1"].sum()).backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert all(not p.requires_grad and p.grad is None for p in net.parameters())
    net.train()
    assert not net.training


def test_preprocessing_travels_with_weights() -> None:
    """vgg16-hed uses the Caffe 0-255 mean convention, vgg19-imagenet torchvision's mean/std."""
    hed, tv = vgg16_features(), vgg19_features()
    assert hed.preprocess == CAFFE_RGB and tv.preprocess == IMAGENET
    grey = torch.full((1, 3, 2, 2), 0.5)
    torch.testing.assert_close(
        hed.normalize(grey)[0, :, 0, 0], torch.tensor([127.5 - m for m in CAFFE_RGB.mean])
    )
    torch.testing.assert_close(
        tv.normalize(grey)[0, :, 0, 0],
        torch.tensor([(0.5 - m) / s for m, s in zip(IMAGENET.mean, IMAGENET.std, strict=True)]),
    )


def test_channels_last_and_dtype_keep_results() -> None:
    """channels_last gives the same maps; float64 input returns float64 maps."""
    net = tiny_backbone()
    image = torch.rand(1, 3, 32, 32)
    ref = net(image, ["relu4_1"])["relu4_1"]
    net.use_channels_last()
    torch.testing.assert_close(net(image, ["relu4_1"])["relu4_1"], ref)
    net.use_channels_last(False)
    net64 = tiny_backbone().double()
    assert net64(image.double(), ["relu4_1"])["relu4_1"].dtype == torch.float64


def test_hed_head_shapes() -> None:
    """The HED head gives five side maps and a fused probability map at the input size."""
    net = vgg16_features()
    sides, fused = HEDHead()(net, torch.rand(1, 3, 32, 48))
    assert len(sides) == 5 and all(s.shape == (1, 1, 32, 48) for s in sides)
    assert fused.shape == (1, 1, 32, 48) and fused.min() >= 0 and fused.max() <= 1


def test_default_backbone_missing_names_fetch_command(tmp_path: Path, monkeypatch) -> None:
    """With no weights anywhere, default_backbone raises WeightsMissing naming the fetch command."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert default_backbone_name(tmp_path) is None
    with pytest.raises(WeightsMissing) as info:
        default_backbone(tmp_path, "cpu")
    assert info.value.command == "python -m backend weights fetch vgg16-hed"
    assert "python -m backend weights fetch vgg16-hed" in str(info.value)


@pytest.mark.gpu
def test_bf16_autocast_on_cuda_returns_input_dtype() -> None:
    """On CUDA the trunk runs under bf16 autocast yet returns float32 maps close to fp32 ones."""
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    net = vgg16_features().cuda()
    image = torch.rand(1, 3, 64, 64, device="cuda", requires_grad=True)
    fast = net(image, ["relu3_1"])["relu3_1"]
    assert fast.dtype == torch.float32
    fast.sum().backward()
    assert image.grad is not None
    net.autocast = False
    exact = net(image, ["relu3_1"])["relu3_1"]
    assert (fast - exact).abs().max() <= 0.05 * exact.abs().max()


def test_cpu_never_autocasts() -> None:
    """On CPU, autocast=True changes nothing: maps are float32 and identical to autocast=False."""
    net = tiny_backbone()
    image = torch.rand(1, 3, 32, 32)
    on = net(image, ["relu5_1"])["relu5_1"]
    net.autocast = False
    assert on.dtype == torch.float32 and torch.equal(on, net(image, ["relu5_1"])["relu5_1"])
