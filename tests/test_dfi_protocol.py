"""The DFI quality protocol's building blocks: the GENKI-4K split and canvas/selection scenes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.evaluation import face_canvas, genki_split

NAMES = [f"file{i:04d}.jpg" for i in range(1, 4001)]


def test_split_is_deterministic_and_depends_only_on_the_name() -> None:
    """The same name lands in the same part whatever else is split with it (fixed expectations)."""
    whole = genki_split.split_names(NAMES)
    alone = {n: genki_split.part_of(n) for n in NAMES[::97]}
    for name, part in alone.items():
        assert name in whole[part]
    # pinned: a change of the hash rule must be deliberate (it would move faces between parts)
    pinned = ["judge", "judge", "pack", "pack", "heldout", "pack", "pack", "judge"]
    assert [genki_split.part_of(f"file{i:04d}.jpg") for i in range(1, 9)] == pinned
    assert genki_split.split_names(list(reversed(NAMES))) == whole


def test_split_parts_are_disjoint_cover_everything_and_have_the_stated_ratios() -> None:
    parts = genki_split.split_names(NAMES)
    assert set(parts) == set(genki_split.PARTS)
    seen = [n for names in parts.values() for n in names]
    assert sorted(seen) == sorted(NAMES) and len(seen) == len(set(seen))
    share = {p: len(v) / len(NAMES) for p, v in parts.items()}
    assert share["heldout"] == pytest.approx(0.20, abs=0.02)
    assert share["pack"] == pytest.approx(0.8 / 3, abs=0.02)
    assert share["judge"] == pytest.approx(1.6 / 3, abs=0.02)


def test_heldout_is_the_old_validation_rule() -> None:
    """sha256(name)[:8] mod 5 == 0: earlier figures on the "validation" split stay comparable."""
    import hashlib

    for name in NAMES[:500]:
        old = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 5 == 0
        assert (genki_split.part_of(name) == "heldout") == old


def _fake_genki(root: Path) -> None:
    for label in genki_split.LABELS:
        (root / label).mkdir(parents=True)
        for name in NAMES[:60] if label == "smile" else NAMES[60:110]:
            Image.new("RGB", (8, 8)).save(root / label / name)
    (root / "smile" / "notes.txt").write_text("not an image")


def test_split_files_and_link_part_make_the_pack_folders(tmp_path: Path) -> None:
    root = tmp_path / "genki"
    _fake_genki(root)
    files = genki_split.split_files(root)
    for part in genki_split.PARTS:
        for label, paths in files[part].items():
            assert all(
                genki_split.part_of(p.name) == part and p.parent.name == label for p in paths
            )
    assert sum(len(v) for by in files.values() for v in by.values()) == 110
    dest = tmp_path / "pack"
    counts = genki_split.link_part("pack", dest, root)
    assert counts == {
        "with": len(files["pack"]["smile"]),
        "without": len(files["pack"]["non_smile"]),
    }
    assert sorted(p.name for p in (dest / "with").iterdir()) == [
        p.name for p in files["pack"]["smile"]
    ]
    assert (dest / "without" / files["pack"]["non_smile"][0].name).resolve().is_file()
    with pytest.raises(FileExistsError):
        genki_split.link_part("pack", dest, root)


def test_split_files_names_the_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "smile").mkdir()
    with pytest.raises(FileNotFoundError, match="non_smile"):
        genki_split.split_files(tmp_path)


def _face(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize("n_faces", [1, 2])
def test_scenes_hold_the_faces_inside_loose_selections(n_faces: int) -> None:
    """Over many seeds: faces inside the canvas and the selection, margins 15–50 % of the side
    on every side of the group, sizes in range, a binary mask equal to the rectangle, and the face
    pixels are the (resized) face."""
    lo, hi = face_canvas.FACE_SIZES if n_faces == 1 else face_canvas.MULTI_FACE_SIZES
    sides = []
    for seed in range(12):
        faces = [_face(seed * 10 + k) for k in range(n_faces)]
        scene = face_canvas.make_scene(faces, np.random.default_rng(seed))
        assert scene.image.shape == (512, 512, 3) and scene.image.dtype == np.uint8
        left, top, right, bottom = scene.selection
        assert 0 <= left < right <= 512 and 0 <= top < bottom <= 512
        mask = scene.mask
        assert set(np.unique(mask)) == {0, 255}
        assert (mask > 0).sum() == (right - left) * (bottom - top)
        assert mask[top:bottom, left:right].all()
        for k, sq in enumerate(scene.faces):
            assert lo <= sq.side <= hi
            fl, ft, fr, fb = sq.box
            assert left <= fl and fr <= right and top <= ft and fb <= bottom
            sides.append(sq.side)
            patch = face_canvas.crop(scene.image, sq, 64).astype(int)
            assert np.abs(patch - faces[k].astype(int)).mean() < 40  # the face, not background
        gl = min(s.left for s in scene.faces)
        gt = min(s.top for s in scene.faces)
        gr = max(s.box[2] for s in scene.faces)
        gb = max(s.box[3] for s in scene.faces)
        side = scene.faces[0].side
        for margin in (
            (gl - left) / side,
            (gt - top) / side,
            (right - gr) / side,
            (bottom - gb) / side,
        ):
            assert 0.15 <= margin <= 0.5 + 1.0 / side
        if n_faces == 1:
            assert scene.margins() == pytest.approx(
                ((gl - left) / side, (gt - top) / side, (right - gr) / side, (bottom - gb) / side)
            )
    assert len(set(sides)) > 5  # sizes vary


def test_scenes_are_reproducible_and_vary_with_the_seed() -> None:
    a = face_canvas.make_scene([_face(1)], np.random.default_rng(7))
    b = face_canvas.make_scene([_face(1)], np.random.default_rng(7))
    c = face_canvas.make_scene([_face(1)], np.random.default_rng(8))
    assert a.faces == b.faces and a.selection == b.selection and np.array_equal(a.image, b.image)
    assert (a.faces, a.selection) != (c.faces, c.selection)
    margins = np.array(a.margins())
    assert len(set(np.round(margins, 3))) > 1  # asymmetric


def test_texture_is_textured() -> None:
    """Backgrounds are not flat: they have structure at coarse and fine scales."""
    img = face_canvas.texture(np.random.default_rng(3)).astype(float)
    assert img.std() > 10
    assert np.abs(np.diff(img, axis=1)).mean() > 1


def test_change_by_region_splits_the_face_and_counts_pixels_outside() -> None:
    scene = face_canvas.make_scene([_face(2)], np.random.default_rng(4))
    before = np.dstack([scene.image, np.full(scene.image.shape[:2], 255, np.uint8)])
    f = scene.faces[0]
    after = before.copy()
    mid = f.top + f.side // 2
    after[mid : f.top + f.side, f.left : f.left + f.side, 0] ^= 8  # lower half: R off by 8
    assert face_canvas.change_by_region(scene, before, after) == pytest.approx(
        {"upper": 0.0, "lower": 8 / 3, "rest_of_selection": 0.0, "changed_outside": 0}
    )
    left, top, _, bottom = scene.selection
    if top > 0:
        after[top - 1, left, 3] = 0  # alpha of one pixel just above the selection
    else:
        after[bottom, left, 3] = 0
    changed = face_canvas.change_by_region(scene, before, after)
    assert changed["changed_outside"] == 1 and changed["upper"] == 0.0


def test_clipped_counts_only_new_extremes_inside_the_selection() -> None:
    """face_canvas.newly_clipped (scripts/dfi_clipped.py): a pixel counts when the edit pushed a
    channel to 255 (or 0) inside the selection; one already at 255, or outside it, does not."""
    before = np.full((8, 8, 3), 128, np.uint8)
    before[0, 0] = 255  # already white
    after = before.copy()
    after[1, 1:4, 0] = 255  # three pixels pushed to white in one channel
    after[2, 2] = 0  # one pushed to black
    after[7, 7] = 255  # outside the selection
    mask = np.full((8, 8), 255, np.uint8)
    mask[6:, 6:] = 0
    assert face_canvas.newly_clipped(before, after, mask) == (3, 1)
    assert face_canvas.newly_clipped(before, before, mask) == (0, 0)
