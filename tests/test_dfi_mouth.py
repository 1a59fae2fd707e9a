"""Removing a smile with the inverter: the mouth ellipse is refilled from the decoder's mouth on
the photo's own skin tone (backend/filters/dfi_mouth.py), so no half-faded teeth remain."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from backend.algorithms.faces import Similarity
from backend.algorithms.faces import frame as face_frame
from backend.assets import attributes
from backend.filters import dfi_inverter, dfi_mouth
from backend.filters.base import Context
from tests.prep.dfi import RESOLUTION, install_inverter
from tests.prep.dfi import context as _ctx
from tests.prep.dfi import prepare as _prepare

R = 64
CORNERS = torch.tensor([[20.0, 44.0], [44.0, 44.0]])
"""Mouth corners in a 64 px frame: span 24, so the ellipse is 36 × ~20 px around (32, 46)."""


def test_mouth_mask_is_an_ellipse_around_the_corners() -> None:
    """1 in the middle (a little below the corners' line), 0 at the frame's top and beyond the
    ellipse's ends, smooth in between; follows a tilted mouth; no mouth for coinciding corners."""
    m = dfi_mouth.mouth_mask(CORNERS, R)[0, 0]
    assert m.shape == (R, R)
    assert float(m[46, 32]) == 1.0 and float(m[44, 20]) > 0.5  # centre, a corner
    assert float(m[:30].max()) == 0.0 and float(m[46, :4].max()) == 0.0  # eyes, far left
    assert 0.0 < float(m[46, 15]) < 1.0  # the soft edge
    tilted = dfi_mouth.mouth_mask(torch.tensor([[22.0, 38.0], [42.0, 50.0]]), R)[0, 0]
    assert float(tilted[38, 22]) > 0.5 and float(tilted[50, 22]) < float(tilted[38, 22])
    assert float(dfi_mouth.mouth_mask(torch.tensor([[5.0, 5.0], [5.0, 5.0]]), R).max()) == 0.0


def test_skin_residual_comes_from_around_the_mouth() -> None:
    """Inside the ellipse the residual is the skin's, whatever the photo has there (teeth)."""
    mask = dfi_mouth.mouth_mask(CORNERS, R)
    residual = torch.full((1, 3, R, R), 0.1)
    teeth = mask[0, 0] == 1.0
    residual[..., teeth] = 0.6  # the teeth the decoder did not reproduce
    filled = dfi_mouth.skin_residual(residual, mask, 0.05 * R)
    assert torch.allclose(filled[..., teeth], torch.tensor(0.1), atol=1e-5)


def _scene() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(photo, D(φ), D(φ + α·w), the plain transfer's change) in a 64 px frame: the photo's
    teeth are brighter than their decoding; the decoder closes the mouth (darker lips)."""
    gen = torch.Generator().manual_seed(2)
    before = 0.55 + 0.05 * torch.rand(1, 3, R, R, generator=gen)
    x = before + 0.04  # the photo is a little lighter than its decoding everywhere ...
    x[..., 42:50, 24:40] = 0.95  # ... and has teeth
    after = before.clone()
    after[..., 44:48, 22:42] = torch.tensor([0.6, 0.3, 0.3]).view(1, 3, 1, 1)  # closed lips
    delta = dfi_inverter.transfer(x, before, after, "damped", 1.0) - x
    return x, before, after, delta


def _ellipse() -> torch.Tensor:
    return dfi_mouth.mouth_mask(CORNERS, R)


def test_fill_replaces_the_mouth_and_nothing_else() -> None:
    """Inside the ellipse: the decoder's mouth plus the skin's offset (not a trace of the teeth);
    outside: the plain transfer's change, bit for bit; share 0: the plain change."""
    x, before, after, delta = _scene()
    out = dfi_mouth.fill(x, before, after, delta, _ellipse(), 1.0, 1.0)
    mask = dfi_mouth.mouth_mask(CORNERS, R)[0, 0]
    inside, outside = mask == 1.0, mask == 0.0
    assert torch.allclose((x + out)[..., inside], (after + 0.04)[..., inside], atol=1e-3)
    assert torch.equal(out[..., outside], delta[..., outside])
    assert torch.equal(dfi_mouth.fill(x, before, after, delta, _ellipse(), 0.0, 1.0), delta)
    # the plain transfer leaves teeth where the decoder's change is moderate (the ring)
    plain = (x + delta)[..., 42:44, 24:40]
    filled = (x + out)[..., 42:44, 24:40]
    assert float(plain.mean()) > float(filled.mean()) + 0.1


def test_fill_in_grey_applies_brightness_only() -> None:
    x, before, after, _ = _scene()
    grey_delta = dfi_inverter.transfer(x, before, after, "damped", 0.0) - x
    out = dfi_mouth.fill(x, before, after, grey_delta, _ellipse(), 1.0, 0.0)
    assert torch.allclose(out, out[:, :1].expand_as(out), atol=1e-6)


@pytest.mark.parametrize("strength", [-1.0, 1.0])
def test_edit_fills_the_mouth_only_when_removing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, strength: float
) -> None:
    """edit_aligned: removing (strength < 0) differs from the plain transfer only near the
    mouth, and there it does; adding is the plain transfer (FILL_ADD is 0)."""
    ctx = _ctx(tmp_path)
    _prepare(ctx)
    net = install_inverter(ctx, seed=4)
    backbone = ctx.backbone()
    pack = attributes.load_pack(attributes.pack_path(ctx.attributes_dir, "tiny", "smiling"))
    gen = torch.Generator().manual_seed(9)
    image = torch.rand(1, 3, 48, 48, generator=gen)
    marks = torch.tensor([[16.0, 18.0], [32.0, 18.0], [24.0, 26.0], [18.0, 34.0], [30.0, 34.0]])

    def change() -> torch.Tensor:
        return dfi_inverter.edit_aligned(
            backbone, net, pack, image, marks, strength, RESOLUTION, True, None, None, "damped", 0.5
        )

    filled = change()
    monkeypatch.setattr(dfi_mouth, "FILL_REMOVE", 0.0)
    plain = change()
    moved = (filled - plain).abs().amax(1)[0]
    if strength > 0:
        assert torch.equal(filled, plain)
        return
    assert float(moved[30:38, 18:30].max()) > 1e-3  # the mouth
    assert float(moved[:24].max()) == 0.0  # eyes and above: far from the ellipse
    assert face_frame.FEATHER > 0  # the change still fades at the frame's edges


def test_fine_detail_out_removes_the_old_teeths_edges_in_the_mouth_only() -> None:
    """A face twice the frame's size: inside the ellipse the photo's 1-px detail (teeth edges),
    which the frame cannot carry, is taken out; outside it nothing changes."""
    size = 2 * R
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    image = 0.5 + 0.2 * ((yy + xx) % 2).float().expand(1, 3, size, size)  # fine detail everywhere
    x = torch.nn.functional.avg_pool2d(image, 2)  # the frame: the image at half size
    tf = Similarity(torch.tensor([[1.0 / size, 0.0, 0.0], [0.0, 1.0 / size, 0.0]]).double())
    mask = dfi_mouth.mouth_mask(CORNERS, R)
    out = dfi_mouth.fine_detail_out(image, x, mask, tf)
    core = torch.nn.functional.interpolate(mask, size=(size, size))[0, 0] == 1.0
    assert core.sum() > 100
    before = float(image[..., core].std())
    assert float((image + out)[..., core].std()) < 0.01 * before  # the checkerboard is gone
    far = torch.zeros(size, size, dtype=torch.bool)
    far[:40] = True  # well above the mouth
    assert float(out[..., far].abs().max()) == 0.0


def test_teeth_weight_marks_what_is_brighter_than_the_skins_offset() -> None:
    """Teeth (the photo much brighter than its decoding) get weight 1; the rest of the ellipse,
    where the photo is only as much lighter as the skin around it is, gets 0; outside, 0."""
    x, before, _, _ = _scene()  # the photo is 0.04 lighter everywhere, teeth at rows 42-50
    mask = dfi_mouth.mouth_mask(CORNERS, R)
    w = dfi_mouth.teeth_weight(x, before, mask)[0, 0]
    assert float(w[45:47, 28:36].min()) == 1.0
    assert float(w[53:56, 26:38].max()) == 0.0 and float(w[mask[0, 0] == 0].max()) == 0.0


MARKS = torch.tensor([[16.0, 18.0], [32.0, 18.0], [24.0, 26.0], [18.0, 34.0], [30.0, 34.0]])
"""Five landmarks on a 48 px photo: mouth corners at (18, 34) and (30, 34)."""


def _two_faces(ctx: Context) -> tuple[attributes.AttributePack, dict[str, torch.Tensor]]:
    """A pack whose "smiling" mean is the maps of a face with a bright open mouth (teeth) and
    whose "not smiling" mean is those of the same face with a closed mouth, and both faces."""
    _prepare(ctx)
    backbone = ctx.backbone()
    pack = attributes.load_pack(attributes.pack_path(ctx.attributes_dir, "tiny", "smiling"))
    gen = torch.Generator().manual_seed(3)
    closed = 0.5 + 0.1 * torch.rand(1, 3, 48, 48, generator=gen)
    closed[..., 33:35, 18:30] = 0.3  # the line between closed lips
    teeth = closed.clone()
    teeth[..., 31:37, 18:30] = 0.95
    faces = {"closed": closed, "teeth": teeth}
    means = {}
    for name, image in faces.items():
        x, _ = face_frame.to_frame(image, MARKS, pack.frame, RESOLUTION)
        means[name] = {k: v[0] for k, v in backbone(x, list(pack.layers)).items()}
    pack = dataclasses.replace(pack, mean_with=means["teeth"], mean_without=means["closed"])
    return pack, faces


def test_smile_evidence_is_zero_at_the_plain_mean_one_at_the_smiling_mean(tmp_path: Path) -> None:
    """The projection inside the ellipse: 0 for the closed mouth, 1 for the teeth, in between
    for a half-open mouth; the least over the layers; the share ramps 0 → 1 over the ends."""
    ctx = _ctx(tmp_path)
    pack, faces = _two_faces(ctx)
    backbone = ctx.backbone()
    ellipse = dfi_mouth.mouth_mask(CORNERS * RESOLUTION / R, RESOLUTION)
    layers = list(pack.layers)

    def evidence(maps: dict[str, torch.Tensor]) -> float:
        return dfi_mouth.smile_evidence(maps, pack, ellipse)

    def maps_of(image: torch.Tensor) -> dict[str, torch.Tensor]:
        x, _ = face_frame.to_frame(image, MARKS, pack.frame, RESOLUTION)
        return backbone(x, layers)

    assert evidence(maps_of(faces["closed"])) == pytest.approx(0.0, abs=1e-4)
    assert evidence(maps_of(faces["teeth"])) == pytest.approx(1.0, abs=1e-4)
    closed, teeth = maps_of(faces["closed"]), maps_of(faces["teeth"])
    half = {k: (closed[k] + teeth[k]) / 2 for k in layers}
    assert evidence(half) == pytest.approx(0.5, abs=1e-4)
    mixed = {k: teeth[k] if n else closed[k] for n, k in enumerate(layers)}
    assert evidence(mixed) == pytest.approx(0.0, abs=1e-4)  # one map says no smile
    assert dfi_mouth.evidence_share(dfi_mouth.SMILE_FROM - 0.1) == 0.0
    assert dfi_mouth.evidence_share(dfi_mouth.SMILE_FULL + 0.1) == 1.0
    assert 0.0 < dfi_mouth.evidence_share((dfi_mouth.SMILE_FROM + dfi_mouth.SMILE_FULL) / 2) < 1.0


def test_removing_fills_a_smiling_mouth_and_leaves_a_closed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """edit_aligned at strength −1: the face with teeth gets the whole fill (as with the ramp
    off), the closed mouth none of it (exactly the plain transfer) — a face that does not smile
    keeps its own mouth rather than the decoder's blurred one (the Gogh portrait)."""
    ctx = _ctx(tmp_path)
    pack, faces = _two_faces(ctx)
    net = install_inverter(ctx, seed=4)
    backbone = ctx.backbone()

    def change(image: torch.Tensor) -> torch.Tensor:
        return dfi_inverter.edit_aligned(
            backbone, net, pack, image, MARKS, -1.0, RESOLUTION, True, None, None, "damped", 0.5
        )

    ramped = {name: change(image) for name, image in faces.items()}
    monkeypatch.setattr(dfi_mouth, "SMILE_FULL", dfi_mouth.SMILE_FROM)  # the ramp off
    always = {name: change(image) for name, image in faces.items()}
    monkeypatch.setattr(dfi_mouth, "FILL_REMOVE", 0.0)
    plain = {name: change(image) for name, image in faces.items()}
    assert torch.equal(ramped["teeth"], always["teeth"])
    assert float((ramped["teeth"] - plain["teeth"]).abs().max()) > 1e-3
    assert torch.equal(ramped["closed"], plain["closed"])
    assert float((always["closed"] - plain["closed"]).abs().max()) > 1e-3
