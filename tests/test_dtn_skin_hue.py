"""The faces → emoji sticker's off-skin hue turned into emoji skin (``dtn.skin_hue``)."""

from __future__ import annotations

import torch

from backend.algorithms.colour import luminance
from backend.filters import dtn


def _sticker(face: tuple[float, float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """A 32 px disc of ``face`` colour with two dark eyes, its alpha, on transparency."""
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    alpha = (((yy - 15.5) ** 2 + (xx - 15.5) ** 2) < 13**2).float()[None, None]
    rgb = torch.tensor(face).view(1, 3, 1, 1).expand(1, 3, 32, 32).clone()
    for x in (10, 20):
        rgb[..., 11:14, x : x + 3] = torch.tensor([0.25, 0.1, 0.25]).view(1, 3, 1, 1)
    return rgb, alpha


def test_a_purple_sticker_gets_a_skin_hue_with_its_luma_and_features_kept():
    rgb, alpha = _sticker((0.55, 0.22, 0.45))  # the dark smiling faces' pink-purple
    out = dtn.skin_hue(rgb, alpha)
    lo, hi = dtn.SKIN_HUES
    face = out[0, :, 20, 15]
    assert float(dtn._hue(rgb[0, :, 20, 15])) > 300
    assert lo - 1 <= float(dtn._hue(face)) <= hi + 1
    inside = alpha[0, 0] > 0.5
    assert torch.allclose(luminance(out)[0, 0][inside], luminance(rgb)[0, 0][inside], atol=0.02)
    eye, skin = (0, slice(None), 12, 11), (0, slice(None), 20, 15)
    before, after = rgb[eye] - rgb[skin], out[eye] - out[skin]
    assert torch.allclose(before, after, atol=0.02)  # eyes stay as much darker as they were
    # the chroma keeps its length: a turn, not a fade to grey
    c0 = rgb[skin] - luminance(rgb)[0, 0, 20, 15]
    c1 = out[skin] - luminance(out)[0, 0, 20, 15]
    assert abs(float(c0.norm() - c1.norm())) < 0.02


def test_skin_coloured_stickers_are_left_alone():
    for face in ((1.0, 0.79, 0.16), (0.65, 0.42, 0.26), (0.98, 0.87, 0.74)):  # yellow, tones 4, 1
        rgb, alpha = _sticker(face)
        assert torch.equal(dtn.skin_hue(rgb, alpha), rgb)


def test_sticker_rgba_applies_it(monkeypatch):
    calls = []
    monkeypatch.setattr(dtn, "skin_hue", lambda rgb, a: calls.append(1) or rgb)
    net = dtn.nets.DomainTransfer(dtn.nets.DtnConfig(channels=4)).eval()
    with torch.no_grad():
        dtn.sticker_rgba(net, torch.rand(2, 3, net.cfg.size, net.cfg.size))
    assert calls == [1]
