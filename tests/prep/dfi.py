"""Contract-test preparation for ``dfi``: a tiny random attribute pack and face inverter for the
test backbone."""

from __future__ import annotations

from pathlib import Path

import torch

from backend.algorithms.features import tiny_backbone
from backend.algorithms.nets.dfi_inverter import DfiInverter, InverterConfig
from backend.assets import attributes
from backend.assets.pack_faces import TEMPLATE
from backend.filters import dfi_inverter
from backend.filters.base import Context
from backend.training.dfi_inverter import inverter_file
from tests.fakes import FakeFaceFinder

RESOLUTION = 32


def prepare(ctx: Context) -> dict[str, object]:
    """Install a random "smiling" pack for ``ctx.backbone()``, recording the template as its face
    frame, and return fast param overrides."""
    backbone = ctx.backbone()
    gen = torch.Generator().manual_seed(0)
    with_images = [torch.rand(1, 3, RESOLUTION, RESOLUTION, generator=gen) for _ in range(3)]
    without_images = [torch.rand(1, 3, RESOLUTION, RESOLUTION, generator=gen) for _ in range(3)]
    pack = attributes.build_pack(
        "smiling",
        with_images,
        without_images,
        backbone,
        RESOLUTION,
        source="random test pack",
        frame=TEMPLATE,
        detector="fake",
    )
    attributes.save_pack(pack, ctx.attributes_dir)
    install_inverter(ctx)
    return {"attribute": "smiling", "iterations": 2, "resolution": RESOLUTION}


def install_inverter(ctx: Context, seed: int = 0, gain: float = 100.0) -> DfiInverter:
    """A random inverter for the test backbone's relu3_1 / relu4_1 / relu5_1, installed where a
    user's own goes (``<attributes dir>/<backbone>/inverter.pth``)."""
    backbone = ctx.backbone()
    layers = ("relu3_1", "relu4_1", "relu5_1")
    with torch.no_grad():
        maps = backbone(torch.zeros(1, 3, RESOLUTION, RESOLUTION), list(layers))
    torch.manual_seed(seed)
    net = DfiInverter(InverterConfig(layers, tuple(maps[k].shape[1] for k in layers), 2, 16))
    with torch.no_grad():  # a random decoder barely moves; make it answer to its input
        net.out.weight.mul_(gain)
    path = ctx.attributes_dir / backbone.name / dfi_inverter.FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(inverter_file(net, {"backbone": backbone.name, "resolution": RESOLUTION}), path)
    return net.eval()


def context(tmp_path: Path) -> Context:
    """A context with the tiny backbone and the fake face finder, its stores under ``tmp_path``."""
    return Context(
        weights_dir=tmp_path / "weights",
        attributes_dir=tmp_path / "attributes",
        backbone_factory=tiny_backbone,
        face_finder_factory=FakeFaceFinder,
    )
