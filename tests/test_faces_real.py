"""The face finder on the real MTCNN weights and real faces (GENKI-4K crops pasted on textures).

scripts/test.sh fetches mtcnn first and sets NLF_REQUIRE_WEIGHTS=1, so missing weights fail
there instead of skipping. GENKI-4K: "http://mplab.ucsd.edu, The MPLab GENKI-4K Dataset."
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.ops import box_iou

from backend import dirs
from backend.algorithms.faces import DEFAULT_TEMPLATE, Face, FaceFinder, align, paste_back
from backend.assets import hed_check
from backend.assets import weights as W
from backend.assets.nets import load_face_finder
from backend.assets.weights import mtcnn as FW
from backend.evaluation.detection_canvases import (
    genki_files,
    paste_faces,
    textured_canvas,
    to_tensor,
)
from tests.conftest import SHARED_DATA, missing_weights

pytestmark = [pytest.mark.weights]
GENKI = SHARED_DATA / "genki4k-train"
DOODLE = SHARED_DATA / "doodle"


@pytest.fixture(scope="module")
def finder() -> FaceFinder:
    root = dirs.weights_dir()
    if not W.verify("mtcnn", root).ok:
        missing_weights("mtcnn", root)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    return load_face_finder(root)


def need(path) -> None:
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")


def plausible(face: Face, square: tuple[int, int, int, int]) -> None:
    """Eyes level-ish and above the nose, nose above the mouth, left/right in order, all five
    inside the pasted square."""
    lm = face.landmarks
    (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = lm.tolist()
    side = square[2] - square[0]
    assert lx < nx < rx and mlx < mrx, lm
    assert max(ly, ry) < ny < min(mly, mry), lm
    assert abs(ly - ry) < 0.15 * side and rx - lx > 0.2 * side, lm
    x0, y0, x1, y1 = square
    assert ((lm[:, 0] > x0) & (lm[:, 0] < x1) & (lm[:, 1] > y0) & (lm[:, 1] < y1)).all(), lm


def test_real_weights_match_the_wheel(finder: FaceFinder) -> None:
    """The installed nets hold the wheel's tensors exactly (when the wheel is cached here)."""
    wheel = W.wheel_cache_dir() / FW.FACENET_WHEEL_FILE
    if not wheel.is_file():
        pytest.skip(f"no cached wheel at {wheel}")
    with zipfile.ZipFile(wheel) as zf:
        onet = W.safe_load(io.BytesIO(zf.read(FW.FACENET_MEMBERS["onet"][0])))
    for key, value in onet.items():
        torch.testing.assert_close(finder.nets.onet.state_dict()[key], value, rtol=0, atol=0)


@pytest.mark.slow
def test_finds_one_pasted_face_per_canvas(finder: FaceFinder) -> None:
    """12 GENKI faces (140–260 px) on 512² textures: ≥ 11 found, boxes on the pasted squares,
    landmarks plausible, nothing found on the texture."""
    need(GENKI)
    files = genki_files("non_smile")[::97][:6] + genki_files("smile")[::131][:6]
    rng = np.random.default_rng(13)
    hits = 0
    for path in files:
        canvas, (square,) = paste_faces(textured_canvas(512, rng), [path], rng)
        faces = finder.find(to_tensor(canvas))
        assert len(faces) <= 1, (path, [f.box for f in faces])
        if not faces:
            continue
        iou = box_iou(torch.tensor([square], dtype=torch.float32), torch.tensor([faces[0].box]))
        assert iou.item() > 0.5, (path, square, faces[0].box)
        plausible(faces[0], square)
        assert faces[0].score > 0.9
        hits += 1
    assert hits >= 11


@pytest.mark.slow
def test_finds_several_faces_largest_first(finder: FaceFinder) -> None:
    """Three faces in one 512² canvas and four in a 2048² one are all found, once each."""
    need(GENKI)
    files = genki_files("smile")[3:200:40]
    rng = np.random.default_rng(5)
    for size, count, sides in ((512, 3, (110, 150)), (2048, 4, (300, 700))):
        canvas, squares = paste_faces(textured_canvas(size, rng), files[:count], rng, sides)
        faces = finder.find(to_tensor(canvas))
        assert len(faces) == count, (size, squares, [f.box for f in faces])
        assert [f.size for f in faces] == sorted((f.size for f in faces), reverse=True)
        iou = box_iou(
            torch.tensor(squares, dtype=torch.float32), torch.tensor([f.box for f in faces])
        )
        best = iou.max(1)
        assert (best.values > 0.5).all() and len(set(best.indices.tolist())) == count, iou
        for square, j in zip(squares, best.indices.tolist(), strict=True):
            plausible(faces[j], square)


@pytest.mark.slow
def test_no_face_in_textures_or_landscape(finder: FaceFinder) -> None:
    """Synthetic textures and Renoir's landscape give an empty list."""
    rng = np.random.default_rng(21)
    for size in (256, 512, 700):
        assert finder.find(to_tensor(textured_canvas(size, rng))) == []
    assert finder.find(hed_check.shapes_image(384, seed=3)) == []
    need(DOODLE / "Renoir.jpg")
    with Image.open(DOODLE / "Renoir.jpg") as im:
        assert finder.find(to_tensor(np.asarray(im.convert("RGB")))) == []


def test_finds_the_painted_portrait(finder: FaceFinder) -> None:
    """Gogh.jpg is a portrait: one face in the upper middle with its landmarks in order."""
    need(DOODLE / "Gogh.jpg")
    with Image.open(DOODLE / "Gogh.jpg") as im:
        rgb = np.asarray(im.convert("RGB"))
    faces = finder.find(to_tensor(rgb))
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box
    assert 100 < x0 < x1 < 330 and 60 < y0 < y1 < 340, faces[0].box
    plausible(faces[0], tuple(int(v) for v in faces[0].box))


def test_aligned_face_lands_on_the_template(finder: FaceFinder) -> None:
    """Align a tilted, off-centre face: the frame is upright, detecting again in it finds the
    landmarks where the warp put them (within 3 % of the frame), near the template; pasting the
    frame back reproduces the source."""
    need(GENKI)
    rng = np.random.default_rng(2)
    face_rgb = Image.open(genki_files("smile")[11]).convert("RGB").resize((200, 200))
    canvas = Image.fromarray(textured_canvas(512, rng))
    canvas.paste(
        face_rgb.rotate(15, Image.Resampling.BICUBIC, fillcolor=(128, 128, 128)), (250, 60)
    )
    image = to_tensor(np.asarray(canvas))
    (face,) = finder.find(image)
    assert not face.landmarks.is_inference() and not face.landmarks.requires_grad
    leaf = image.clone().requires_grad_(True)
    align(leaf, face, size=64)[0].mean().backward()  # gradients reach the picture
    assert leaf.grad is not None and leaf.grad.abs().sum() > 0
    aligned, tf = align(image, face, size=256)
    assert abs(tf.angle - np.radians(15)) < np.radians(6), np.degrees(tf.angle)
    framed = torch.nn.functional.pad(aligned, (64, 64, 64, 64), mode="replicate")
    again = finder.find(framed)
    assert again, "no face in the aligned frame"
    unit = (again[0].landmarks.double() - 64) / 256
    expected = tf.apply(face.landmarks)  # where the warp took the first detection's landmarks
    assert (unit - expected).norm(dim=1).max() < 0.03, (unit, expected)
    assert (expected - DEFAULT_TEMPLATE).norm(dim=1).mean() < 0.04, expected
    content, weight = paste_back(aligned, tf, image.shape[-2:])
    inside = weight[0, 0] == 1
    assert inside.sum() > 100 * 100
    assert (content - image).abs()[0][:, inside].mean() < 0.02
