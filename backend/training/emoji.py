"""Noto Color Emoji faces and people as a labelled image domain (the DTN faces → emoji target).

The catalogue lists the smileys with expressions and the people emoji (woman, man, person, girl,
boy, older adults, beards, red / curly / white / bald / blond hair), each person in the default
yellow and the five skin-tone modifiers. Every label comes from the Unicode names of the sequence's
code points, so the manifest can be checked against the standard rather than against our say-so.

The font is Debian's ``fonts-noto-color-emoji``: colour bitmaps with one strike, drawn by Pillow
at size 109 with ``embedded_color=True``; ZWJ sequences and skin tones need Pillow's raqm layout.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, features

FONT_PATHS = (
    Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"),
    Path("/usr/share/fonts/noto/NotoColorEmoji.ttf"),
    Path("/usr/local/share/fonts/NotoColorEmoji.ttf"),
)
FONT_SIZE = 109
"""The font's only bitmap strike; other sizes fail to load."""
INSTALL_HINT = "install the Debian package fonts-noto-color-emoji"
ZWJ, VS16 = "\u200d", "\ufe0f"
TONES = ("\U0001f3fb", "\U0001f3fc", "\U0001f3fd", "\U0001f3fe", "\U0001f3ff")
HAIR = {"red": "\U0001f9b0", "curly": "\U0001f9b1", "bald": "\U0001f9b2", "white": "\U0001f9b3"}

SMILEY_RANGES = ((0x1F600, 0x1F644), (0x1F910, 0x1F92F), (0x1F970, 0x1F97A), (0x1F9D0, 0x1F9D0))
SMILEY_SINGLES = (0x263A, 0x2639)
PEOPLE = (
    "\U0001f469",  # woman
    "\U0001f468",  # man
    "\U0001f9d1",  # person
    "\U0001f467",  # girl
    "\U0001f466",  # boy
    "\U0001f475",  # older woman
    "\U0001f474",  # older man
    "\U0001f9d3",  # older person
    "\U0001f9d4",  # person: beard
    "\U0001f471",  # person: blond hair
)
HAIR_BASES = PEOPLE[:3]
BEARDS = ("\U0001f9d4" + ZWJ + "\u2642" + VS16, "\U0001f9d4" + ZWJ + "\u2640" + VS16)

SMILING_WORDS = ("SMILING", "GRINNING", "LAUGHING", "BEAMING", "TEARS OF JOY")
NOT_SMILING_WORDS = (
    "FROWNING", "SAD", "CRYING", "ANGRY", "POUTING", "NEUTRAL", "EXPRESSIONLESS", "WORRIED",
    "CONFUSED", "DISAPPOINTED", "PERSEVERING", "WEARY", "TIRED", "ANGUISHED", "FEARFUL",
    "SCREAMING", "ASTONISHED", "HUSHED", "PENSIVE", "UNAMUSED", "CONFOUNDED", "OPEN MOUTH",
    "PLEADING",
)  # fmt: skip
EXCLUDED_WORDS = ("CAT", "MONKEY", "GESTURE", "PERSON ", "HANDS", "PALM")


@dataclass(frozen=True)
class Emoji:
    """One catalogue entry: the character sequence and the labels read off its names."""

    text: str
    name: str
    kind: str  # smiley | person
    expression: str  # smiling | not_smiling | other
    tone: int  # 0 = default yellow, 1..5 = Fitzpatrick 1-2, 3, 4, 5, 6
    hair: str  # default | red | curly | white | bald | blond | beard
    age: str  # adult | child | older | none
    recoloured: bool = False  # a smiley redrawn in skin tone ``tone`` (see :func:`recolour`)

    @property
    def code(self) -> str:
        """File-name form of the sequence: lowercase hex code points joined by '-' (no ZWJ/VS16)."""
        code = "-".join(f"{ord(c):x}" for c in self.text if c not in (ZWJ, VS16))
        return f"{code}-tone{self.tone}" if self.recoloured else code


def sequence_name(text: str) -> str:
    """The Unicode names of the sequence's visible code points, joined by ', '."""
    return ", ".join(unicodedata.name(c) for c in text if c not in (ZWJ, VS16))


def expression_of(name: str) -> str:
    """smiling / not_smiling / other from a smiley's name (smiling words win: 'SMILING … SWEAT')."""
    if any(w in name for w in SMILING_WORDS):
        return "smiling"
    if any(w in name for w in NOT_SMILING_WORDS):
        return "not_smiling"
    return "other"


def _labels(text: str, kind: str) -> Emoji:
    name = sequence_name(text)
    tone = next((i + 1 for i, t in enumerate(TONES) if t in text), 0)
    hair = next((h for h, c in HAIR.items() if c in text), "default")
    if "BLOND" in name:
        hair = "blond"
    elif "BEARD" in name:
        hair = "beard"
    age = "none"
    if kind == "person":
        age = (
            "older"
            if "OLDER" in name
            else "child"
            if ("GIRL" in name or "BOY" in name)
            else "adult"
        )
    expression = expression_of(name) if kind == "smiley" else "other"
    return Emoji(text, name, kind, expression, tone, hair, age)


def _named(cp: int) -> bool:
    try:
        unicodedata.name(chr(cp))
    except ValueError:  # newer than this Python's Unicode database
        return False
    return True


def catalogue() -> list[Emoji]:
    """Every smiley with a face, then every person × (default + five skin tones)."""
    smileys = [cp for lo, hi in SMILEY_RANGES for cp in range(lo, hi + 1)] + list(SMILEY_SINGLES)
    out = []
    for cp in smileys:
        if not _named(cp):
            continue
        name = unicodedata.name(chr(cp))
        if "FACE" in name and not any(w in name for w in EXCLUDED_WORDS):
            out.append(_labels(chr(cp), "smiley"))
    people = list(PEOPLE)
    for base in HAIR_BASES:
        people += [base + ZWJ + h for h in HAIR.values()]
    for person in people + list(BEARDS):
        head, _, tail = person.partition(ZWJ)
        out.append(_labels(person, "person"))
        for tone in TONES:
            toned = head + tone + (ZWJ + tail if tail else "")
            out.append(_labels(toned, "person"))
    return out


def toned_smileys(entries: Sequence[Emoji]) -> list[Emoji]:
    """Every smiley of ``entries`` once more in each of the five skin tones (drawn by
    :func:`recolour`). Unicode gives smileys no skin tones; without these, a faces → emoji model
    could keep a face's expression (smileys) or its skin tone (people) but not both."""
    return [
        Emoji(e.text, e.name, e.kind, e.expression, tone, e.hair, e.age, recoloured=True)
        for e in entries
        if e.kind == "smiley" and not e.recoloured
        for tone in range(1, len(TONES) + 1)
    ]


def font_path(roots: Sequence[Path] = FONT_PATHS) -> Path | None:
    """The first Noto Color Emoji font found, or None."""
    return next((p for p in roots if p.is_file()), None)


@cache
def _font(path: Path) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), FONT_SIZE)


SMILEY_YELLOW = (255, 202, 40)
"""The face colour of the font's default (yellow) people and smileys."""


@cache
def tone_colours(font: Path) -> tuple[tuple[int, int, int], ...]:
    """The font's skin colour of each tone 1..5: the median of a cheek patch of WOMAN + tone."""
    out = []
    for tone in TONES:
        img = glyph(_labels("\U0001f469" + tone, "person"), font)
        assert img is not None
        a = np.asarray(img.convert("RGBA"))
        h, w = a.shape[:2]
        patch = a[int(0.6 * h) : int(0.7 * h), int(0.2 * w) : int(0.3 * w), :3].reshape(-1, 3)
        out.append(tuple(int(v) for v in np.median(patch, 0)))
    return tuple(out)


def recolour(img: Image.Image, colour: Sequence[int]) -> Image.Image:
    """A yellow smiley with its face (yellow-orange, saturated, bright pixels) painted ``colour``,
    keeping the shading: each such pixel becomes ``colour`` × its luma / the yellow's luma."""
    a = np.asarray(img.convert("RGBA")).astype(np.float32)
    rgb = a[..., :3] / 255.0
    hi, lo = rgb.max(-1), rgb.min(-1)
    sat = (hi - lo) / np.maximum(hi, 1e-6)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    hue = np.degrees(np.arctan2(np.sqrt(3) * (g - b), 2 * r - g - b)) % 360
    face = (hue > 20) & (hue < 62) & (sat > 0.45) & (hi > 0.5)
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    ref = float(np.dot(np.array(SMILEY_YELLOW) / 255.0, [0.299, 0.587, 0.114]))
    new = np.asarray(colour, np.float32)[None, None] * (luma / ref)[..., None]
    a[..., :3] = np.where(face[..., None], np.clip(new, 0, 255), a[..., :3])
    return Image.fromarray(a.round().astype(np.uint8), "RGBA")


def glyph(emoji: Emoji, font: Path) -> Image.Image | None:
    """The emoji drawn once, cropped to its alpha; None when the font lacks it as one glyph."""
    if emoji.recoloured:
        base = glyph(Emoji(emoji.text, emoji.name, emoji.kind, emoji.expression, 0, "", ""), font)
        return None if base is None else recolour(base, tone_colours(font)[emoji.tone - 1])
    if not features.check("raqm"):
        raise RuntimeError("Pillow lacks raqm layout: emoji sequences would draw as pieces")
    f = _font(font)
    x0, _, x1, y1 = f.getbbox(emoji.text)
    if x1 - x0 > 1.5 * FONT_SIZE:  # drawn as several glyphs: the font has no such sequence
        return None
    canvas = Image.new("RGBA", (x1 + 8, y1 + 8), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((0, 0), emoji.text, font=f, embedded_color=True)
    box = canvas.getchannel("A").getbbox()
    return canvas.crop(box) if box else None


def variant(img: Image.Image, size: int, rng: np.random.Generator) -> Image.Image:
    """The glyph at a random scale (80–95 % of ``size``) and shift (±5 %) on a clear square."""
    scale = rng.uniform(0.80, 0.95) * size / max(img.size)
    w, h = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    small = img.resize((w, h), Image.Resampling.LANCZOS)
    dx, dy = rng.uniform(-0.05, 0.05, 2) * size
    out = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    out.alpha_composite(small, (round((size - w) / 2 + dx), round((size - h) / 2 + dy)))
    return out


MANIFEST_FIELDS = (
    "file", "codepoints", "name", "kind", "expression", "tone", "hair", "age", "recoloured"
)  # fmt: skip


def build(
    out: Path,
    font: Path,
    size: int = 64,
    variants: int = 8,
    seed: int = 0,
    entries: Sequence[Emoji] | None = None,
    toned: bool = False,
) -> Iterator[tuple[Emoji, int]]:
    """Write ``variants`` RGBA PNGs of each entry (default: the catalogue) and ``manifest.csv``.

    With ``toned``, every smiley is drawn once more in each skin tone (:func:`toned_smileys`).

    Deterministic for a given font, size, variants and seed. Yields (entry, files written); an entry
    the font cannot draw as one glyph yields 0 and is left out of the manifest.
    """
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    chosen = list(catalogue() if entries is None else entries)
    if toned:
        chosen += toned_smileys(chosen)
    for index, emoji in enumerate(chosen):
        img = glyph(emoji, font)
        if img is None:
            yield emoji, 0
            continue
        rng = np.random.default_rng([seed, index])
        for k in range(variants):
            file = f"{emoji.code}_{k:02d}.png"
            variant(img, size, rng).save(out / file)
            rows.append(_row(file, emoji))
        yield emoji, variants
    with open(out / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(MANIFEST_FIELDS)
        writer.writerows(rows)


def _row(file: str, e: Emoji) -> tuple[object, ...]:
    codepoints = " ".join(f"U+{ord(c):04X}" for c in e.text)
    row = (file, codepoints, e.name, e.kind, e.expression, e.tone, e.hair, e.age)
    return (*row, int(e.recoloured))


def read_manifest(folder: Path) -> list[dict[str, str]]:
    """The manifest rows of a built folder."""
    with open(folder / "manifest.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
