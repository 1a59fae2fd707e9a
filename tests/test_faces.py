"""Faces without real weights: the mtcnn wheel conversion and fetch, the cascade's pieces, the
alignment geometry (exact similarity recovery, warp and paste-back round trip), the Context."""

from __future__ import annotations

import hashlib
import io
import math
import zipfile
from pathlib import Path

import pytest
import torch

from backend.algorithms.faces import (
    DEFAULT_TEMPLATE,
    Face,
    FaceFinder,
    Similarity,
    align,
    estimate_similarity,
    mean_template,
    paste_back,
    paste_back_region,
    transform_for,
    warp_to_frame,
)
from backend.algorithms.faces.align import frame_bounds, frame_mask, frame_weight
from backend.algorithms.faces.detect import in_selection, nms_min, regress, square
from backend.algorithms.nets.mtcnn import MTCNN, ONet, PNet, RNet, random_mtcnn
from backend.assets import weights as W
from backend.assets.nets import load_face_finder
from backend.assets.weights import mtcnn as FW
from backend.cli import main as cli_main
from backend.errors import WeightsMissing
from backend.filters.base import Context
from tests.fakes import FakeFaceFinder


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the real wheel cache or weights folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("NLF_WEIGHTS_DIR", str(tmp_path / "env-weights"))


# -- nets --
def test_nets_output_shapes() -> None:
    """P-Net is fully convolutional (stride 2, 12 px cells); R/O-Net score fixed-size crops."""
    prob, reg = PNet()(torch.zeros(1, 3, 40, 30))
    assert prob.shape == (1, 15, 10) and reg.shape == (1, 4, 15, 10)
    prob, reg = RNet()(torch.zeros(5, 3, 24, 24))
    assert prob.shape == (5,) and reg.shape == (5, 4)
    prob, reg, marks = ONet()(torch.zeros(2, 3, 48, 48))
    assert prob.shape == (2,) and reg.shape == (2, 4) and marks.shape == (2, 10)
    assert ((prob >= 0) & (prob <= 1)).all()


def test_mtcnn_is_frozen_and_stays_in_eval() -> None:
    net = random_mtcnn(0)
    net.train()
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    torch.testing.assert_close(random_mtcnn(0).state_dict(), net.state_dict())


# -- the wheel, conversion, fetch --
def fake_wheel(path: Path, seed: int = 1, payload: object | None = None) -> dict[str, torch.Tensor]:
    """A zip laid out like facenet-pytorch's wheel, its nets saved in torch's legacy format."""
    state = random_mtcnn(seed).state_dict()
    with zipfile.ZipFile(path, "w") as zf:
        for net, (member, _) in FW.FACENET_MEMBERS.items():
            part = {k[len(net) + 1 :]: v for k, v in state.items() if k.startswith(f"{net}.")}
            if payload is not None and net == "rnet":
                part["conv1.weight"] = payload  # type: ignore[assignment]
            buf = io.BytesIO()
            torch.save(part, buf, _use_new_zipfile_serialization=False)
            zf.writestr(member, buf.getvalue())
        zf.writestr("facenet_pytorch/__init__.py", "")
    return state


def pin(wheel: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the fake wheel's digests in place of the real ones."""
    monkeypatch.setattr(FW, "FACENET_WHEEL_SHA256", W.sha256_file(wheel))
    with zipfile.ZipFile(wheel) as zf:
        members = {
            net: (member, hashlib.sha256(zf.read(member)).hexdigest())
            for net, (member, _) in FW.FACENET_MEMBERS.items()
        }
    monkeypatch.setattr(FW, "FACENET_MEMBERS", members)


@pytest.fixture
def pinned_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict]:
    wheel = tmp_path / "dl" / FW.FACENET_WHEEL_FILE
    wheel.parent.mkdir()
    state = fake_wheel(wheel)
    pin(wheel, monkeypatch)
    return wheel, state


def test_legacy_pickles_convert_to_verified_state_dict(pinned_wheel, tmp_path: Path) -> None:
    """The wheel's three legacy-format .pt files become one verified mtcnn.pth that loads
    strictly, tensor for tensor."""
    wheel, state = pinned_wheel
    root = tmp_path / "weights"
    assert W.fetch("mtcnn", root, wheel=wheel) == root / "mtcnn.pth"
    check = W.verify("mtcnn", root)
    assert check.ok, check
    assert W.sidecar(check.path).read_text().split()[0] == W.sha256_file(check.path)
    loaded = W.load_state_dict("mtcnn", root)
    torch.testing.assert_close(loaded, dict(state), rtol=0, atol=0)
    finder = load_face_finder(root)
    torch.testing.assert_close(finder.nets.onet.dense6_3.weight, state["onet.dense6_3.weight"])


def test_fetch_from_local_mirror_then_cache(pinned_wheel, http_dir, tmp_path, monkeypatch) -> None:
    """--url downloads the wheel from a mirror into the wheel cache (sha256-checked), converts it;
    a second fetch elsewhere uses the cache; pip is never run."""
    wheel, _ = pinned_wheel
    base, served = http_dir
    (served / wheel.name).write_bytes(wheel.read_bytes())
    monkeypatch.setattr(FW.subprocess, "run", lambda *a, **k: pytest.fail("pip was run"))
    root = tmp_path / "a"
    argv = ["weights", "--weights-dir", str(root), "fetch", "mtcnn", "--url"]
    assert cli_main([*argv, f"{base}/{wheel.name}"]) == 0
    assert W.verify("mtcnn", root).ok
    assert (W.wheel_cache_dir() / FW.FACENET_WHEEL_FILE).read_bytes() == wheel.read_bytes()
    (served / wheel.name).unlink()
    assert W.fetch("mtcnn", tmp_path / "b").is_file()
    assert W.verify("mtcnn", tmp_path / "b").ok


def test_mirror_serving_another_file_is_refused(pinned_wheel, http_dir, tmp_path: Path) -> None:
    """A mirror whose file is not the pinned wheel leaves nothing installed or cached."""
    base, served = http_dir
    (served / "w.whl").write_bytes(b"not the wheel")
    with pytest.raises(W.WeightsCorrupt, match="sha256"):
        W.fetch("mtcnn", tmp_path / "w", url=f"{base}/w.whl")
    assert W.find("mtcnn", tmp_path / "w") is None
    assert not (W.wheel_cache_dir() / FW.FACENET_WHEEL_FILE).exists()


def test_unpinned_wheel_is_refused(tmp_path: Path) -> None:
    wheel = tmp_path / FW.FACENET_WHEEL_FILE
    fake_wheel(wheel)
    with pytest.raises(W.WeightsCorrupt, match="not pinned"):
        FW.install(wheel, tmp_path / "weights")
    assert not (tmp_path / "weights" / "mtcnn.pth").exists()


class Payload:
    """Pickles to a call that would create a marker file if unpickled unsafely."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_member_with_code_is_refused_unexecuted(tmp_path: Path, monkeypatch) -> None:
    """weights_only loading: a .pt member that would run code is refused and never runs."""
    marker = tmp_path / "pwned"
    wheel = tmp_path / FW.FACENET_WHEEL_FILE
    fake_wheel(wheel, payload=Payload(marker))
    pin(wheel, monkeypatch)
    with pytest.raises(W.WeightsCorrupt, match="not a plain tensor file"):
        FW.install(wheel, tmp_path / "weights")
    assert not marker.exists()


def test_cli_list_and_tamper(pinned_wheel, tmp_path: Path, capsys) -> None:
    """`weights list` shows mtcnn; a flipped byte makes `verify` fail and loading refuse."""
    wheel, _ = pinned_wheel
    root = tmp_path / "w"
    assert (
        cli_main(["weights", "--weights-dir", str(root), "fetch", "mtcnn", "--wheel", str(wheel)])
        == 0
    )
    capsys.readouterr()
    assert cli_main(["weights", "--weights-dir", str(root), "list"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["mtcnn"][1] == "yes" and rows["mtcnn"][3] == "ok"
    path = root / "mtcnn.pth"
    data = bytearray(path.read_bytes())
    data[-50] ^= 0xFF
    path.write_bytes(bytes(data))
    assert cli_main(["weights", "--weights-dir", str(root), "verify"]) == 1
    with pytest.raises(W.WeightsCorrupt, match="fetch mtcnn --force"):
        load_face_finder(root)


def test_missing_weights_name_the_fetch_command(tmp_path: Path) -> None:
    """Without mtcnn.pth the finder and the Context say exactly what to run."""
    with pytest.raises(WeightsMissing) as info:
        load_face_finder(tmp_path)
    assert info.value.command == "python -m backend weights fetch mtcnn"
    ctx = Context(weights_dir=tmp_path)
    assert [m.command for m in ctx.face_finder_missing()] == [
        "python -m backend weights fetch mtcnn"
    ]
    with pytest.raises(WeightsMissing, match="run: python -m backend weights fetch mtcnn"):
        ctx.face_finder()


def test_context_builds_the_finder_once(pinned_wheel, tmp_path: Path) -> None:
    wheel, _ = pinned_wheel
    W.fetch("mtcnn", tmp_path / "w", wheel=wheel)
    ctx = Context(weights_dir=tmp_path / "w")
    assert ctx.face_finder_missing() == []
    finder = ctx.face_finder()
    assert ctx.face_finder() is finder and isinstance(finder, FaceFinder)
    calls: list[int] = []
    made = FaceFinder(random_mtcnn(2))
    ctx2 = Context(face_finder_factory=lambda: calls.append(1) or made)
    assert ctx2.face_finder_missing() == [] and ctx2.face_finder() is made
    assert ctx2.face_finder() is made and calls == [1]


# -- cascade pieces --
def test_square_regress_and_min_nms() -> None:
    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0, 0.9]])
    sq = square(boxes)
    torch.testing.assert_close(sq, torch.tensor([[0.0, 20.0, 40.0, 60.0, 0.9]]))
    moved = regress(sq, torch.tensor([[0.1, -0.1, 0.0, 0.25]]))
    torch.testing.assert_close(moved, torch.tensor([[4.0, 16.0, 40.0, 70.0, 0.9]]))
    # a box nested inside a stronger one goes (intersection / smaller area = 1), a disjoint stays
    b = torch.tensor([[0.0, 0, 100, 100], [10, 10, 40, 40], [200, 200, 250, 250]])
    s = torch.tensor([0.9, 0.95, 0.5])
    assert nms_min(b, s, 0.7).tolist() == [1, 2]
    assert nms_min(b[[0, 2]], s[[0, 2]], 0.7).tolist() == [0, 1]


def test_pyramid_scales() -> None:
    finder = FaceFinder(random_mtcnn())
    scales = finder.scales(512, 512, 20.0)
    assert scales[0] == pytest.approx(12 / 20) and 512 * scales[-1] >= 12 > 512 * scales[-1] * 0.709
    assert finder.default_min_face(512, 512) == pytest.approx(20.48)
    assert finder.default_min_face(2048, 3000) == pytest.approx(81.92)
    assert finder.default_min_face(100, 100) == 20.0


def test_find_checks_shape_and_handles_tiny_images() -> None:
    finder = FaceFinder(random_mtcnn())
    with pytest.raises(ValueError, match="positive"):
        finder.find(torch.rand(1, 3, 64, 64), min_face=0)
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        finder.find(torch.rand(3, 64, 64))
    assert finder.find(torch.rand(1, 3, 10, 40)) == []
    faces = finder.find(torch.rand(1, 3, 64, 80), min_face=12)
    assert all(isinstance(f, Face) and f.landmarks.shape == (5, 2) for f in faces)
    assert [f.size for f in faces] == sorted((f.size for f in faces), reverse=True)


def test_in_selection_keeps_faces_whose_landmarks_are_selected() -> None:
    def face_at(x: float, y: float) -> Face:
        marks = torch.tensor(
            [[x - 10, y], [x + 10, y], [x, y + 8], [x - 7, y + 16], [x + 7, y + 16]]
        )
        return Face((x - 20, y - 20, x + 20, y + 30), marks, 0.99)

    mask = torch.zeros(1, 1, 100, 200)
    mask[..., :, :100] = 1.0  # the left half is selected
    inside, straddling, outside, off = (
        face_at(50, 40),
        face_at(100, 40),
        face_at(150, 40),
        face_at(-30, 40),
    )
    kept = in_selection([inside, straddling, outside, off], mask)
    assert kept == [inside]
    assert in_selection([straddling], mask, threshold=0.4) == [straddling]  # 2 of 5 points
    assert in_selection([inside], mask * 0.4) == []


def test_face_shifted() -> None:
    face = Face((1.0, 2.0, 11.0, 12.0), torch.arange(10, dtype=torch.float32).view(5, 2), 0.9)
    moved = face.shifted(5, -2)
    assert moved.box == (6.0, 0.0, 16.0, 10.0) and moved.size == pytest.approx(10.0)
    torch.testing.assert_close(moved.landmarks[0], torch.tensor([5.0, -1.0]))


# -- alignment geometry --
def similarity(scale: float, angle: float, tx: float, ty: float) -> torch.Tensor:
    c, s = scale * math.cos(angle), scale * math.sin(angle)
    return torch.tensor([[c, -s, tx], [s, c, ty]], dtype=torch.float64)


@pytest.mark.parametrize("seed", range(5))
def test_estimate_recovers_a_known_similarity_exactly(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    src = torch.rand(5, 2, generator=gen, dtype=torch.float64) * 300
    m = similarity(0.003 + 0.01 * float(torch.rand(1, generator=gen)), 2.0 * seed - 4, 0.3, -0.2)
    dst = src @ m[:, :2].T + m[:, 2]
    est = estimate_similarity(src, dst)
    torch.testing.assert_close(est.matrix, m, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(est.apply(src), dst, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(est.inverse().apply(dst), src, rtol=1e-9, atol=1e-9)
    assert est.scale == pytest.approx(math.hypot(m[0, 0], m[1, 0]))
    assert est.angle == pytest.approx(math.atan2(m[1, 0], m[0, 0]))


def test_estimate_is_least_squares_and_never_reflects() -> None:
    """A mirrored target is fitted by a rotation, not a reflection; noise gives the LS optimum."""
    src = DEFAULT_TEMPLATE * 100
    mirrored = src * torch.tensor([-1.0, 1.0], dtype=torch.float64)
    est = estimate_similarity(src, mirrored)
    assert torch.linalg.det(est.matrix[:, :2]) > 0
    noisy = src / 100 + torch.randn(5, 2, generator=torch.Generator().manual_seed(0)) * 0.01
    best = estimate_similarity(src, noisy)
    res = ((best.apply(src) - noisy) ** 2).sum()
    for delta in (1e-4, -1e-4):
        for i, j in ((0, 0), (0, 2), (1, 2)):
            m = best.matrix.clone()
            m[i, j] += delta
            if j == 0:  # keep the similarity form [[a, -b], [b, a]]
                m[1, 1] += delta
            assert ((Similarity(m).apply(src) - noisy) ** 2).sum() > res
    with pytest.raises(ValueError, match="coincide"):
        estimate_similarity(torch.ones(5, 2), DEFAULT_TEMPLATE)


def test_shifted_transform_matches_a_crop() -> None:
    tf = Similarity(similarity(0.01, 0.3, 0.1, 0.2))
    crop_pts = torch.tensor([[3.0, 4.0], [50.0, 7.0]], dtype=torch.float64)
    shifted = tf.shifted(20, 30)
    torch.testing.assert_close(shifted.apply(crop_pts), tf.apply(crop_pts + torch.tensor([20, 30])))


def ramp_image(height: int, width: int) -> torch.Tensor:
    """Channel 0 = x, channel 1 = y of each pixel centre, channel 2 = a smooth mix."""
    ys = torch.arange(height, dtype=torch.float64) + 0.5
    xs = torch.arange(width, dtype=torch.float64) + 0.5
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx, yy, torch.sin(xx / 17) + torch.cos(yy / 23)])[None]


def test_warp_samples_the_frame_exactly_on_linear_images() -> None:
    """Bilinear sampling is exact on a linear ramp: each frame pixel holds the source position
    the inverse transform gives for its centre."""
    image = ramp_image(240, 320)
    landmarks = DEFAULT_TEMPLATE * 90 + torch.tensor([120.0, 60.0], dtype=torch.float64)
    rot = similarity(1.0, 0.25, 0, 0)[:, :2]
    landmarks = (landmarks - landmarks.mean(0)) @ rot.T + landmarks.mean(0)
    aligned, tf = align(image, landmarks, size=64)
    assert aligned.shape == (1, 3, 64, 64)
    centres = (
        torch.stack(torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="xy"), -1) + 0.5
    ) / 64
    expect = tf.inverse().apply(centres.reshape(-1, 2).double()).reshape(64, 64, 2)
    torch.testing.assert_close(aligned[0, 0], expect[..., 0], atol=1e-6, rtol=0)
    torch.testing.assert_close(aligned[0, 1], expect[..., 1], atol=1e-6, rtol=0)
    # the landmarks land on the template
    torch.testing.assert_close(tf.apply(landmarks), DEFAULT_TEMPLATE, atol=1e-9, rtol=0)


def test_align_then_paste_back_round_trips() -> None:
    """Warping into the frame (oversampled) and back reproduces the source where the weight is 1,
    leaves weight 0 and content 0 outside the frame, and the weight ramps in between."""
    gen = torch.Generator().manual_seed(0)
    image = torch.nn.functional.interpolate(
        torch.rand(1, 3, 24, 32, generator=gen), (192, 256), mode="bicubic", align_corners=False
    )
    face = Face(
        (90.0, 40.0, 190.0, 140.0),
        (DEFAULT_TEMPLATE * 100 + torch.tensor([90.0, 40.0])).float(),
        1.0,
    )
    template = DEFAULT_TEMPLATE * 0.8 + 0.1  # a looser frame
    aligned, tf = align(image, face, template, size=256)
    content, weight = paste_back(aligned, tf, (192, 256), feather=0.1)
    assert content.shape == (1, 3, 192, 256) and weight.shape == (1, 1, 192, 256)
    inside = weight[0, 0] == 1
    outside = weight[0, 0] == 0
    assert 0.15 < inside.float().mean() < 0.9 and outside.any()
    err = (content - image).abs()[0][:, inside]
    assert err.max() < 0.03 and err.mean() < 0.003
    assert content[0][:, outside].abs().max() == 0
    ramp = (weight > 0) & (weight < 1)
    assert ramp.any() and ((weight >= 0) & (weight <= 1)).all()
    # composite of the untouched frame gives back the image everywhere
    composite = image * (1 - weight) + weight * content
    assert (composite - image).abs().max() < 0.03


def test_paste_back_is_differentiable_and_bounded() -> None:
    tf = transform_for(DEFAULT_TEMPLATE * 50 + 30)
    change = torch.zeros(1, 3, 32, 32, requires_grad=True)
    content, weight = paste_back(change, tf, (120, 140), feather=0.2)
    (content * weight).sum().backward()
    assert change.grad is not None and change.grad.abs().sum() > 0
    x0, y0, x1, y1 = frame_bounds(tf, 120, 140)
    assert 0 <= x0 < x1 <= 140 and 0 <= y0 < y1 <= 120
    assert weight[..., :y0, :].sum() == 0 and weight[..., y1:, :].sum() == 0
    part, part_weight, box = paste_back_region(change, tf, (120, 140), feather=0.2)
    assert box == (x0, y0, x1, y1)
    torch.testing.assert_close(part, content[..., y0:y1, x0:x1], rtol=0, atol=0)
    torch.testing.assert_close(part_weight, weight[..., y0:y1, x0:x1], rtol=0, atol=0)
    torch.testing.assert_close(frame_mask(tf, (120, 140), feather=0.2), weight)
    far = Similarity(similarity(0.01, 0, -50, -50))  # the frame lies outside the image
    content, weight = paste_back(change, far, (60, 60))
    assert weight.sum() == 0 and content.sum() == 0


def test_frame_weight_profile() -> None:
    pts = torch.tensor([[0.5, 0.5], [0.05, 0.5], [0.5, 0.999], [-0.1, 0.5], [0.1, 0.1]])
    w = frame_weight(pts.double(), 0.1)
    assert w[0] == 1 and w[4] == 1 and w[3] == 0
    assert w[1] == pytest.approx(0.5) and 0 < w[2] < 0.01
    assert frame_weight(pts.double(), 0.0).tolist() == [1, 1, 1, 0, 1]


def test_warp_to_frame_padding_and_template_api() -> None:
    image = torch.ones(1, 3, 50, 50)
    tf = transform_for(DEFAULT_TEMPLATE * 100 + 25)  # frame larger than the image
    assert warp_to_frame(image, tf, 32, padding_mode="zeros").min() == 0
    assert warp_to_frame(image, tf, 32).min() == pytest.approx(1.0)
    faces = torch.stack([DEFAULT_TEMPLATE + 0.01, DEFAULT_TEMPLATE - 0.01])
    torch.testing.assert_close(mean_template(faces), DEFAULT_TEMPLATE)
    with pytest.raises(ValueError):
        mean_template(torch.zeros(0, 5, 2))
    # the default template is a plausible face: eyes level above nose above mouth, symmetric
    t = DEFAULT_TEMPLATE
    assert t[0, 0] < t[2, 0] < t[1, 0] and t[0, 1] == t[1, 1] < t[2, 1] < t[3, 1] == t[4, 1]
    assert (t[0, 0] + t[1, 0]) / 2 == pytest.approx(0.5)


def test_mtcnn_state_dict_names_match_the_wheel_layout() -> None:
    """Our module names are the wheel's (the conversion only adds pnet./rnet./onet.)."""
    keys = set(MTCNN().state_dict())
    assert {"pnet.conv4_1.weight", "rnet.dense5_2.bias", "onet.dense6_3.weight"} <= keys
    assert len(keys) == 13 + 16 + 21


def test_centred_fake_finder_frames_the_centre() -> None:
    """tests/fakes.FakeFaceFinder (grid 1): one face whose frame is the central square; none on
    a flat picture; usable through Context like the real finder."""
    ctx = Context(face_finder_factory=FakeFaceFinder)
    (face,) = ctx.face_finder().find(torch.rand(1, 3, 100, 200))
    assert face.box == (70.0, 20.0, 130.0, 80.0)
    tf = transform_for(face)
    corners = tf.inverse().apply(torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64))
    torch.testing.assert_close(
        corners, torch.tensor([[70.0, 20.0], [130.0, 80.0]], dtype=torch.float64), atol=1e-4, rtol=0
    )
    assert ctx.face_finder().find(torch.full((1, 3, 50, 50), 0.3)) == []
