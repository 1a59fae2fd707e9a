"""The ``dtn`` filter's face stickers drawn by fake RGBA nets: the mean code of the views, the
emoji's silhouette over the face, and the chroma smoothing."""

from __future__ import annotations

import torch

from backend.filters.dtn import face_stickers, straight
from tests.fakes import FakeFaceFinder
from tests.test_dtn_faces import RGBA


def _drawing(out: torch.Tensor, f: object = None) -> type[torch.nn.Module]:
    """A fake RGBA G = g∘f whose g draws ``out`` (1, 4, 32, 32) in [0, 1] whatever the code
    (or, given ``f`` (frames in [-1, 1] → codes), ``g(code)`` = ``out`` with red + the code)."""

    class Drawing(torch.nn.Module):
        cfg = RGBA

        def f(self, x: torch.Tensor) -> torch.Tensor:
            return f(x) if f else x.new_zeros(len(x), 1, 1, 1)  # type: ignore[operator]

        def express(self, z: torch.Tensor) -> torch.Tensor:
            return z

        def g(self, z: torch.Tensor) -> torch.Tensor:
            red = torch.zeros(1, 4, 1, 1)
            red[:, 0] = 1
            return (out + z.view(-1, 1, 1, 1) * red) * 2 - 1

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (self.g(self.f(x * 2 - 1)) + 1) / 2

    return Drawing


def test_the_sticker_is_drawn_from_the_mean_code_of_mirrored_and_shifted_views() -> None:
    """f reads left minus right: one view of a left-bright face gives g a large code, the mirrored
    views of :data:`VIEWS` cancel it, so the emoji's red is the disc's own."""
    from backend.filters.dtn import VIEWS

    inside = torch.zeros(1, 1, 32, 32)
    inside[..., 6:26, 6:26] = 1
    out = torch.cat([torch.full((1, 3, 32, 32), 0.4), inside], 1)

    def left_minus_right(x: torch.Tensor) -> torch.Tensor:
        return (x[..., :16].mean((1, 2, 3)) - x[..., 16:].mean((1, 2, 3))).view(-1, 1, 1, 1) / 4

    net = _drawing(out, left_minus_right)()
    image = torch.zeros(1, 3, 100, 120)
    image[..., :60] = 1.0  # bright on the left
    (face,) = FakeFaceFinder(fraction=0.5).find(image)
    x0, y0, x1, y1 = (round(v) for v in face.box)
    centre = (0, 0, (y0 + y1) // 2, (x0 + x1) // 2)
    one, _ = face_stickers(net, image, [face.landmarks], views=((1.0, 0.0, 0.0, False),))
    mean, _ = face_stickers(net, image, [face.landmarks])
    assert len(VIEWS) > 1 and one[centre] > 0.5
    assert abs(float(mean[centre]) - 0.4) < 0.03


def test_face_stickers_are_the_emoji_silhouette_over_the_face() -> None:
    """A G that draws an opaque disc: the sticker is opaque on the face, clear around it."""

    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    inside = (((yy - 15.5) ** 2 + (xx - 15.5) ** 2) < 12**2).float()
    rgb = torch.tensor([0.9, 0.7, 0.1]).view(1, 3, 1, 1) * inside + 0.5 * (1 - inside)
    Disc = _drawing(torch.cat([rgb, inside[None, None]], 1))

    image = torch.rand(1, 3, 100, 120)
    (face,) = FakeFaceFinder(fraction=0.5).find(image)
    colour, alpha = face_stickers(Disc(), image, [face.landmarks])
    x0, y0, x1, y1 = (round(v) for v in face.box)
    cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
    assert (
        alpha[0, 0, cy, cx] > 0.99 and alpha[0, 0, 2, 2] == 0 and alpha[0, 0, y0 + 1, x0 + 1] < 0.05
    )
    assert torch.allclose(colour[0, :, cy, cx], torch.tensor([0.9, 0.7, 0.1]), atol=0.02)
    rgb, _ = straight(Disc()(torch.zeros(1, 3, 32, 32)))
    assert torch.allclose(rgb[0, :, 16, 16], torch.tensor([0.9, 0.7, 0.1]))


def test_sticker_colour_loses_rainbow_speckle_but_keeps_features_and_flat_colour() -> None:
    """A G that draws an opaque disc speckled with pixels of opposite hue at one luma, and a dark
    mouth: the sticker's colour keeps the mouth's luma and the disc's hue, without the speckle."""
    from backend.filters.dtn import smooth_chroma

    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    inside = (((yy - 15.5) ** 2 + (xx - 15.5) ** 2) < 13**2).float()[None, None]
    base = torch.tensor([0.7, 0.55, 0.35]).view(1, 3, 1, 1)
    hue = torch.tensor([0.25, -0.15, 0.15]).view(1, 3, 1, 1)  # ~zero luma: pure chroma
    hue = hue - (hue * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, True)
    speckle = ((yy + xx) % 2 * 2 - 1)[None, None] * hue
    mouth = ((yy - 22).abs() < 1.5) & ((xx - 15.5).abs() < 6)
    rgb = (base + speckle) * (1 - 0.6 * mouth.float()[None, None])
    Speckled = _drawing(torch.cat([rgb * inside + 0.5 * (1 - inside), inside], 1))

    raw, a = straight(Speckled()(torch.zeros(1, 3, 32, 32)))
    smooth = smooth_chroma(raw, a)
    cheek = (slice(None), slice(None), slice(8, 14), slice(8, 14))
    assert raw[cheek].std((2, 3)).mean() > 0.1  # the speckle is there before
    assert smooth[cheek].std((2, 3)).mean() < 0.02
    assert torch.allclose(smooth[cheek].mean((2, 3)), base.view(1, 3), atol=0.02)
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    core = ((yy - 15.5) ** 2 + (xx - 15.5) ** 2) < 11**2
    kept = ((smooth - raw) * luma).sum(1)[0].abs()
    assert kept[core].max() < 1e-3 and mouth.sum() > 0 and bool(core[mouth].all())  # mouth kept
    image = torch.rand(1, 3, 100, 120)
    (face,) = FakeFaceFinder(fraction=0.5).find(image)
    x0, y0, x1, y1 = (round(v) for v in face.box)
    cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
    patch = (slice(None), slice(None), slice(cy - 9, cy - 2), slice(cx - 5, cx + 5))
    colour, _ = face_stickers(Speckled(), image, [face.landmarks])
    plain, _ = face_stickers(Speckled(), image, [face.landmarks], chroma_sigma=0)
    assert colour[patch].std((2, 3)).mean() < 0.5 * plain[patch].std((2, 3)).mean()
