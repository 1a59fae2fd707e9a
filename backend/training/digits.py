"""The DTN digits protocol's two domains, rebuilt from local data (docs/quality-dtn.md).

- Source ("printed"): digits rendered at 32×32 with the TrueType/OpenType fonts installed under
  ``/usr/share/fonts`` (Debian packages ``fonts-dejavu-core``, ``fonts-liberation``,
  ``fonts-freefont-ttf``, ``fonts-croscore``, ``fonts-urw-base35``, ...), with random colours,
  backgrounds, scale, rotation, jitter, blur and noise: a stand-in for SVHN.
- Target ("handwritten"): scikit-learn's bundled ``load_digits`` (1,797 8×8 images, 0-16 ink),
  upscaled bilinearly to 32×32, white ink on black: a stand-in for MNIST.

Images are uint8 tensors (N, 3, S, S); labels int64 (N,).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from torch import Tensor

log = logging.getLogger(__name__)

FONT_ROOTS = ("/usr/share/fonts", "/usr/local/share/fonts")
_NOT_DIGITS = ("symbol", "math", "d050000l", "dingbat", "emoji", "z003")
"""Font file names whose digits are not plain digits (symbol, maths and script faces)."""


def font_paths(roots: Sequence[str | Path] = FONT_ROOTS) -> list[Path]:
    """Installed outline fonts (.ttf/.otf) that render the ten digits, sorted by path."""
    found: list[Path] = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            low = path.name.lower()
            if path.suffix.lower() not in (".ttf", ".otf") or any(s in low for s in _NOT_DIGITS):
                continue
            if _glyphs(str(path)) is not None:
                found.append(path)
    return found


@lru_cache(maxsize=512)
def _glyphs(font: str) -> tuple[Image.Image, ...] | None:
    """The ten digits of ``font`` as tight white-on-black masks (None if it cannot draw them)."""
    try:
        face = ImageFont.truetype(font, 96) if font else ImageFont.load_default(96)
    except OSError:
        return None
    out = []
    for d in "0123456789":
        canvas = Image.new("L", (160, 160), 0)
        ImageDraw.Draw(canvas).text((30, 10), d, fill=255, font=face)
        box = canvas.getbbox()
        if box is None or box[2] - box[0] < 4 or box[3] - box[1] < 20:
            return None
        out.append(canvas.crop(box))
    if len({g.tobytes() for g in out}) < 10:  # a font with one box glyph for every digit
        return None
    return tuple(out)


def _luma(c: np.ndarray) -> float:
    return float(0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2])


def _colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A background and an ink colour (0-1 RGB) at least 0.3 apart in luma."""
    while True:
        bg, fg = rng.random(3), rng.random(3)
        if abs(_luma(bg) - _luma(fg)) >= 0.3:
            return bg, fg


def render_printed(
    n: int,
    seed: int = 0,
    size: int = 32,
    fonts: Sequence[str | Path] | None = None,
) -> tuple[Tensor, Tensor]:
    """``n`` printed digits (uint8 (n, 3, size, size), labels (n,)), reproducible from ``seed``.

    Each sample draws a font, a digit, a height of 70-95 % of the tile, a rotation of ±10°, a
    shift of ±10 %, random ink and background colours (with a horizontal or vertical gradient half
    of the time), a slight blur and Gaussian noise.
    """
    paths = [str(p) for p in (fonts if fonts is not None else font_paths())]
    glyph_sets = [g for g in (_glyphs(p) for p in paths) if g is not None]
    if not glyph_sets:
        log.warning("no usable fonts under %s; using Pillow's built-in font", FONT_ROOTS)
        default = _glyphs("")
        if default is None:
            raise RuntimeError("no font can render digits; apt-get install fonts-dejavu-core")
        glyph_sets = [default]
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = np.empty((n, size, size, 3), np.uint8)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    for i, d in enumerate(labels):
        glyph = glyph_sets[rng.integers(len(glyph_sets))][d]
        h = max(4, round(size * rng.uniform(0.7, 0.95)))
        w = max(2, round(glyph.width * h / glyph.height * rng.uniform(0.85, 1.3)))
        g = glyph.resize((min(w, size), h), Image.Resampling.LANCZOS)
        g = g.rotate(rng.uniform(-10, 10), Image.Resampling.BILINEAR, expand=True)
        mask = Image.new("L", (size, size), 0)
        dx, dy = rng.uniform(-0.1, 0.1, 2) * size
        mask.paste(g, (round((size - g.width) / 2 + dx), round((size - g.height) / 2 + dy)))
        mask = mask.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 1.2)))
        a = np.asarray(mask, np.float32)[..., None] / 255.0
        bg, fg = _colours(rng)
        if rng.random() < 0.5:
            ramp = (xx if rng.random() < 0.5 else yy)[..., None]
            bg2 = np.clip(bg + rng.uniform(-0.25, 0.25, 3), 0, 1)
            back = bg * (1 - ramp) + bg2 * ramp
        else:
            back = np.broadcast_to(bg, (size, size, 3))
        img = back * (1 - a) + fg * a + rng.normal(0, rng.uniform(0, 0.04), (size, size, 3))
        images[i] = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels)


def handwritten(size: int = 32) -> tuple[Tensor, Tensor]:
    """scikit-learn's 1,797 handwritten digits, upscaled to ``size``: (uint8 images, labels)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.from_numpy(data.images.astype(np.float32) / 16.0)[:, None]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    x = (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    return x, torch.from_numpy(data.target.astype(np.int64))


def split(n: int, test_fraction: float, seed: int = 0) -> tuple[Tensor, Tensor]:
    """A reproducible (train indices, test indices) split of ``range(n)``."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = round(n * test_fraction)
    return perm[n_test:], perm[:n_test]


def to_float(images: Tensor) -> Tensor:
    """uint8 (N, 3, S, S) → float32 in [0, 1]."""
    return images.float() / 255.0


def write_folder(images: Tensor, labels: Tensor | None, folder: Path) -> None:
    """Save uint8 images as PNGs, in one sub-folder per label when labels are given."""
    for i, img in enumerate(images):
        sub = folder / str(int(labels[i])) if labels is not None else folder
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(sub / f"{i:06d}.png")


def grid(images: Tensor, columns: int) -> Image.Image:
    """Tile (N, 3, S, S) uint8 or [0, 1] float images into one PIL image, ``columns`` wide."""
    if images.dtype != torch.uint8:
        images = (images.clamp(0, 1) * 255 + 0.5).to(torch.uint8)
    n, _, h, w = images.shape
    rows = -(-n // columns)
    canvas = torch.zeros(3, rows * (h + 2) + 2, columns * (w + 2) + 2, dtype=torch.uint8)
    for i in range(n):
        r, c = divmod(i, columns)
        canvas[:, 2 + r * (h + 2) : 2 + r * (h + 2) + h, 2 + c * (w + 2) : 2 + c * (w + 2) + w] = (
            images[i]
        )
    return Image.fromarray(canvas.permute(1, 2, 0).numpy())
