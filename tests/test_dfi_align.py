"""DFI with face alignment: the frame geometry, the pack's frame, and the filter on fake faces."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from backend.algorithms.faces import frame as face_frame
from backend.algorithms.features import tiny_backbone
from backend.assets import attributes, pack_faces
from backend.errors import NoFace, NotApplicable
from backend.filters import dfi
from backend.filters.base import Context, FilterInput
from backend.params import parse_values
from tests.fakes import FakeFaceFinder
from tests.prep.dfi import prepare as _prepare

TEMPLATE = torch.tensor(pack_faces.TEMPLATE, dtype=torch.float64)


def _rotation(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s], [s, c]], dtype=torch.float64)


def test_to_frame_reads_the_face_and_change_back_stays_near_it() -> None:
    """An upright face at the frame's scale is read pixel for pixel; a constant change in the
    frame comes back as that change at the face (feathered) and exactly zero far from it."""
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 200, 160, generator=gen)
    landmarks = (TEMPLATE * 100 + torch.tensor([30.0, 50.0], dtype=torch.float64)).float()
    face, tf = face_frame.to_frame(image, landmarks, pack_faces.TEMPLATE, 100)
    assert torch.allclose(face, image[..., 50:150, 30:130], atol=1e-4)
    change = face_frame.change_back(torch.full((1, 3, 100, 100), 0.1), tf, (200, 160))
    assert change.shape == (1, 3, 200, 160)
    assert torch.allclose(change[..., 100, 80], torch.full((3,), 0.1)[None], atol=1e-5)
    assert float(change[..., :45, :].abs().max()) == 0.0
    assert float(change[..., :, :25].abs().max()) == 0.0
    # the edge of the frame is feathered: the change fades towards it
    assert 0 < float(change[0, 0, 100, 31]) < 0.05


def test_large_faces_are_shrunk_without_aliasing() -> None:
    """A face 4x the frame's size is read from an antialiased shrink (fine stripes average out)."""
    stripes = torch.zeros(1, 3, 400, 400)
    stripes[..., :, ::2] = 1.0
    landmarks = (TEMPLATE * 400).float()
    face, tf = face_frame.to_frame(stripes, landmarks, pack_faces.TEMPLATE, 100)
    assert tf.scale * 100 == pytest.approx(0.25)
    assert float((face - 0.5).abs().max()) < 0.05


def test_mean_frame_undoes_pose_and_scale() -> None:
    """Copies of one shape at other positions, sizes and angles average back to that shape."""
    shapes = [
        (s * TEMPLATE @ _rotation(a).T + torch.tensor(t, dtype=torch.float64)) * 64
        for s, a, t in ((1.0, 0.0, (0, 0)), (0.7, 0.2, (0.3, 0.1)), (1.3, -0.25, (-0.2, 0.4)))
    ]
    frame = torch.tensor(pack_faces.mean_frame(shapes), dtype=torch.float64)
    assert torch.allclose(frame, TEMPLATE, atol=1e-6)


def test_landmarks_in_pads_tight_crops() -> None:
    """A finder that only sees faces with context still finds the face of a tight crop."""

    class NeedsContext(FakeFaceFinder):
        def find(self, image: torch.Tensor):  # only "detects" when the image is padded
            return super().find(image) if image.shape[-1] > 64 else []

    crop = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    assert pack_faces.landmarks_in(NeedsContext(), crop, pad=0.0) is None
    points = pack_faces.landmarks_in(NeedsContext(), crop)
    assert points is not None and points.shape == (5, 2)
    assert float(points.min()) > 0 and float(points.max()) < 64


def _write(folder: Path, n: int, seed: int, flat: int = 0) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        arr = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
        if i < flat:
            arr[:] = 128  # no "face" for the fake finder
        Image.fromarray(arr).save(folder / f"{i}.png")


def test_build_aligned_pack_records_the_frame_and_skips_faceless_images(tmp_path: Path) -> None:
    """Folders of photos -> a pack with a frame and detector; faceless images are counted."""
    _write(tmp_path / "yes", 3, 0, flat=1)
    _write(tmp_path / "no", 2, 1)
    pack, counts = pack_faces.build_aligned_pack(
        "grin",
        attributes.image_files(tmp_path / "yes"),
        attributes.image_files(tmp_path / "no"),
        tiny_backbone(),
        FakeFaceFinder(),
        32,
    )
    assert counts == {"with": 2, "with_skipped": 1, "without": 2, "without_skipped": 0}
    assert (pack.count_with, pack.count_without) == (2, 2)
    assert pack.detector == pack_faces.DETECTOR and pack.frame is not None
    loaded = attributes.load_pack(attributes.save_pack(pack, tmp_path / "packs"))
    assert loaded.frame == pack.frame and loaded.sha256 == pack.sha256
    _write(tmp_path / "blank", 2, 2, flat=2)
    with pytest.raises(ValueError, match="no face found"):
        pack_faces.build_aligned_pack(
            "grin",
            attributes.image_files(tmp_path / "yes"),
            attributes.image_files(tmp_path / "blank"),
            tiny_backbone(),
            FakeFaceFinder(),
            32,
        )


# -- the filter -----------------------------------------------------------------------------------
def _ctx(tmp_path: Path, grid: int = 1) -> Context:
    return Context(
        weights_dir=tmp_path / "weights",
        attributes_dir=tmp_path / "attributes",
        backbone_factory=tiny_backbone,
        face_finder_factory=lambda: FakeFaceFinder(grid),
    )


def _run(ctx: Context, image: torch.Tensor, box, **raw: object) -> torch.Tensor:
    f = dfi.DeepFeatureInterpolation(ctx)
    p = parse_values(dfi.DfiParams, _prepare(ctx) | raw, f.dynamic_choices())
    ones = torch.ones(1, 1, *image.shape[-2:])
    (layer,) = f.run(FilterInput(image, ones, ones, box), p, lambda s: None)
    return layer.image


def test_no_face_in_the_selection_is_a_clear_error(tmp_path: Path) -> None:
    """A flat selection has no face: NoFace says what to do; align=off still edits it."""
    ctx = _ctx(tmp_path)
    image = torch.full((1, 3, 64, 64), 0.5)
    with pytest.raises(NoFace, match="select a face, or set align=off"):
        _run(ctx, image, (0, 0, 64, 64))
    image = image + 0.01 * torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    out = _run(ctx, image, (0, 0, 64, 64), align=False, strength=1.0)
    assert not torch.equal(out, image)


def test_every_face_in_the_selection_is_edited(tmp_path: Path) -> None:
    """Four faces in one selection: each one's region changes, faces outside it do not."""
    ctx = _ctx(tmp_path, grid=2)
    image = torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(5))
    out = _run(ctx, image, (0, 0, 96, 96), strength=1.0)
    for y in (24, 72):
        for x in (24, 72):
            assert float((out - image)[..., y - 8 : y + 8, x - 8 : x + 8].abs().mean()) > 1e-3
    # a selection around the top-left face only: the other three stay exactly as they were
    out = _run(ctx, image, (0, 0, 48, 48), strength=1.0)
    assert float((out - image)[..., 16:32, 16:32].abs().mean()) > 1e-3
    assert torch.equal(out[..., 48:, :], image[..., 48:, :])
    assert torch.equal(out[..., :, 48:], image[..., :, 48:])


def test_old_packs_without_a_frame_need_align_off(tmp_path: Path) -> None:
    """A pack built from unaligned crops cannot be aligned to: a clear error naming both ways."""
    ctx = _ctx(tmp_path)
    _prepare(ctx)
    path = attributes.pack_path(ctx.attributes_dir, "tiny", "smiling")
    pack = attributes.load_pack(path)
    old = attributes.AttributePack(**{**pack.__dict__, "frame": None, "detector": "", "sha256": ""})
    attributes.save_pack(old, ctx.attributes_dir)
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    f = dfi.DeepFeatureInterpolation(ctx)
    p = parse_values(dfi.DfiParams, {"iterations": 2, "resolution": 32}, f.dynamic_choices())
    ones = torch.ones(1, 1, 64, 64)
    with pytest.raises(NotApplicable, match=r"attributes build smiling.*or set align=off"):
        f.run(FilterInput(image, ones, ones, (0, 0, 64, 64)), p, lambda s: None)
