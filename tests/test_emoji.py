"""The emoji target domain: catalogue labels read off Unicode names, deterministic rendering."""

from __future__ import annotations

import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.training import emoji

CATALOGUE = emoji.catalogue()


def _font() -> Path:
    font = emoji.font_path()
    if font is None:
        pytest.skip(f"Noto Color Emoji font not found ({emoji.INSTALL_HINT})")
    return font


def test_people_come_in_every_skin_tone() -> None:
    """Each person appears in the default yellow and the five Fitzpatrick tones, named so."""
    people = [e for e in CATALOGUE if e.kind == "person"]
    assert len(people) % 6 == 0 and len(people) >= 100
    assert Counter(e.tone for e in people) == {t: len(people) // 6 for t in range(6)}
    for e in people:
        assert ("FITZPATRICK" in e.name) == (e.tone > 0)
    assert {"red", "curly", "white", "bald", "blond", "beard"} <= {e.hair for e in people}
    assert {"adult", "child", "older"} == {e.age for e in people}


def test_expressions_are_read_off_the_names() -> None:
    """Smiling words win, frowning words next, the rest is 'other'; both classes are well filled."""
    assert emoji.expression_of("SMILING FACE WITH OPEN MOUTH AND COLD SWEAT") == "smiling"
    assert emoji.expression_of("SLIGHTLY FROWNING FACE") == "not_smiling"
    assert emoji.expression_of("THINKING FACE") == "other"
    smileys = Counter(e.expression for e in CATALOGUE if e.kind == "smiley")
    assert smileys["smiling"] >= 15 and smileys["not_smiling"] >= 15
    by_text = {e.text: e for e in CATALOGUE}
    assert by_text["\U0001f600"].expression == "smiling"  # grinning face
    assert by_text["\U0001f610"].expression == "not_smiling"  # neutral face
    assert "\U0001f63a" not in by_text  # cats are not faces of people


def test_sequences_are_fully_qualified() -> None:
    """Skin tones follow the base character; ZWJ pieces keep their variation selector."""
    texts = {e.text for e in CATALOGUE}
    woman_red_dark = "\U0001f469\U0001f3ff" + emoji.ZWJ + "\U0001f9b0"
    man_beard_light = "\U0001f9d4\U0001f3fb" + emoji.ZWJ + "\u2642" + emoji.VS16
    assert woman_red_dark in texts and man_beard_light in texts
    for e in CATALOGUE:
        assert e.name == emoji.sequence_name(e.text)
        assert all(unicodedata.name(c) for c in e.text)


def test_build_is_deterministic_and_labelled(tmp_path: Path) -> None:
    """Two builds write identical RGBA files; the manifest names every file with its labels."""
    font = _font()
    picks = [e for e in CATALOGUE if e.tone in (0, 5)][::9]
    for run in ("a", "b"):
        done = list(emoji.build(tmp_path / run, font, size=40, variants=2, seed=3, entries=picks))
        assert all(n == 2 for _, n in done), [e.name for e, n in done if n == 0]
    rows = emoji.read_manifest(tmp_path / "a")
    assert len(rows) == 2 * len(picks)
    for row in rows:
        a = (tmp_path / "a" / row["file"]).read_bytes()
        assert a == (tmp_path / "b" / row["file"]).read_bytes()
        img = np.asarray(Image.open(tmp_path / "a" / row["file"]))
        assert img.shape == (40, 40, 4)
        assert img[0, 0, 3] == 0 and img[-1, -1, 3] == 0  # clear around the emoji
        assert (img[..., 3] > 0).mean() > 0.3  # and the emoji fills most of the square
    toned = [r for r in rows if r["tone"] == "5"]
    assert toned and all("TYPE-6" in r["name"] for r in toned)


def test_skin_tones_draw_darker(tmp_path: Path) -> None:
    """The rendered skin gets darker from tone 1 to tone 5 (the labels match the pixels)."""
    font = _font()
    woman = [e for e in CATALOGUE if e.kind == "person" and e.name.startswith("WOMAN")][:6]
    lum = []
    for e in woman[1:]:
        img = np.asarray(emoji.glyph(e, font).convert("RGBA"), dtype=np.float32)
        h, w = img.shape[:2]
        face = img[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3]  # the middle of the face
        lum.append(float((face[..., :3] @ [0.299, 0.587, 0.114]).mean()))
    assert lum == sorted(lum, reverse=True), lum


def test_toned_smileys_keep_the_expression_and_take_the_fonts_skin_tones(tmp_path):
    font = _font()
    grinning = next(e for e in CATALOGUE if e.name == "GRINNING FACE")
    toned = emoji.toned_smileys([grinning])
    assert [e.tone for e in toned] == [1, 2, 3, 4, 5]
    assert all(e.expression == "smiling" and e.recoloured for e in toned)
    assert len({e.code for e in toned}) == 5 and grinning.code not in {e.code for e in toned}
    lumas = []
    for e, colour in zip(toned, emoji.tone_colours(font), strict=True):
        img = np.asarray(emoji.glyph(e, font).convert("RGBA"), dtype=np.float32)
        h, w = img.shape[:2]
        cheek = img[int(0.45 * h) : int(0.55 * h), int(0.1 * w) : int(0.2 * w), :3]
        assert np.abs(np.median(cheek.reshape(-1, 3), 0) - colour).max() < 40
        lumas.append(float(cheek.mean()))
    assert lumas == sorted(lumas, reverse=True)  # tone 1 lightest … tone 5 darkest
    done = list(emoji.build(tmp_path, font, size=32, variants=1, entries=[grinning], toned=True))
    assert [n for _, n in done] == [1] * 6
    rows = emoji.read_manifest(tmp_path)
    assert [r["tone"] for r in rows] == ["0", "1", "2", "3", "4", "5"]
    assert [r["recoloured"] for r in rows] == ["0"] + ["1"] * 5
