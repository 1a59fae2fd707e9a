"""Contract-test preparation for ``dfi``: a tiny random attribute pack for the test backbone."""

from __future__ import annotations

import torch

from backend.assets import attributes
from backend.assets.pack_faces import TEMPLATE
from backend.filters.base import Context

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
    return {"attribute": "smiling", "iterations": 2, "resolution": RESOLUTION}
