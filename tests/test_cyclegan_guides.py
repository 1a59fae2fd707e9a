"""``train cyclegan`` guided: keep masks (folders or faces) and class labels (class-aware Ds)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from backend.algorithms.nets.discriminator import ClassAwareDiscriminator
from backend.assets.models import ModelStore
from backend.cli import main
from backend.training.cyclegan import (
    CycleGanConfig,
    CycleGanTrainer,
    class_loss,
    keep_factor,
    keep_loss,
)
from backend.training.cyclegan_data import Domain, face_mask_maker, read_labels
from tests.conftest import SHARED_DATA

RED, GREEN, DARK = (220, 40, 40), (40, 220, 40), (20, 20, 20)
BADGE = (2, 2, 14, 14)
"""Where the A images carry a blue / yellow checker badge that their masks keep."""


@pytest.fixture
def one_thread() -> Iterator[None]:
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _picture(rng: random.Random, colour, shape: str, badge: bool) -> Image.Image:
    im = Image.new("RGB", (32, 32), DARK)
    draw = ImageDraw.Draw(im)
    r = rng.randint(6, 9)
    cx, cy = rng.randint(16, 32 - r), rng.randint(16, 32 - r)
    (draw.ellipse if shape == "circle" else draw.rectangle)(
        (cx - r, cy - r, cx + r, cy + r), colour
    )
    if badge:
        x0, y0, x1, y1 = BADGE
        for y in range(y0, y1, 3):
            for x in range(x0, x1, 3):
                c = (40, 60, 230) if (x + y) // 3 % 2 else (240, 220, 30)
                draw.rectangle((x, y, x + 2, y + 2), c)
    return im


def _folders(tmp: Path, n: int = 16) -> dict[str, Path]:
    """A: red shapes with a badge, masks keeping the badge, labels by shape; B: green shapes."""
    out = {k: tmp / k for k in ("a", "b", "masks")}
    for p in out.values():
        p.mkdir(parents=True)
    rng = random.Random(0)
    rows_a, rows_b = ["file,class"], []
    for i in range(n):
        shape = ("circle", "square")[i % 2]
        _picture(rng, RED, shape, True).save(out["a"] / f"{i:03d}.png")
        _picture(rng, GREEN, shape, False).save(out["b"] / f"{i:03d}.png")
        mask = Image.new("L", (32, 32), 0)
        ImageDraw.Draw(mask).rectangle((BADGE[0], BADGE[1], BADGE[2] - 1, BADGE[3] - 1), 255)
        mask.save(out["masks"] / f"{i:03d}.png")
        if i < n // 2:  # half of A labelled, with a header; B labelled by stem, no header
            rows_a.append(f"{i:03d}.png,{shape}")
        rows_b.append(f"{i:03d},{shape}")
    (tmp / "labels_a.csv").write_text("\n".join(rows_a) + "\n")
    (tmp / "labels_b.csv").write_text("\n".join(rows_b) + "\n")
    return out


def _args(tmp: Path, f: dict[str, Path], name: str, *extra: str) -> list[str]:
    args = ["train", "cyclegan", "--domain-a", str(f["a"]), "--domain-b", str(f["b"])]
    args += ["--name", name, "--size", "32", "--epochs", "4", "--batch-size", "4", "--ngf", "8"]
    args += ["--n-blocks", "2", "--ndf", "8", "--lr", "1e-3", "--device", "cpu"]
    args += ["--run-dir", str(tmp / f"run-{name}"), "--models-dir", str(tmp / "models")]
    return [*args, "--checkpoint-every", "0", *extra]


def _kept_psnr(g: torch.nn.Module, folder: Path) -> float:
    """PSNR of the badge region between G(A) and A over all of A's images."""
    x = torch.stack(
        [
            torch.from_numpy(np.asarray(Image.open(p).convert("RGB")).copy())
            for p in sorted(folder.iterdir())
        ]
    )
    x = x.permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        y = g.eval()(x)
    x0, y0, x1, y1 = BADGE
    diff = ((y - x)[..., y0:y1, x0:x1] / 2) ** 2
    return 10 * math.log10(1 / float(diff.mean()))


def test_masks_crop_and_flip_with_their_images(tmp_path: Path) -> None:
    """The mask channel is cropped and flipped exactly as its image; missing masks keep nothing."""
    f = _folders(tmp_path, 4)
    (f["masks"] / "003.png").unlink()
    dom = Domain(f["a"], 28, f["masks"])
    batch = dom.sample([0, 1, 2, 3] * 4, random.Random(3))
    assert batch.shape == (16, 4, 28, 28)
    for x in batch:
        if float(x[3].sum()) == 0:
            continue
        badge = (x[2] > 0.0) & (x[0] < 0.0) | (x[0] > 0.8) & (x[1] > 0.6)  # blue or yellow
        assert bool((x[3].bool() | ~badge).all())  # every badge pixel is kept
    assert float(dom.sample([3], random.Random(0))[0, 3].sum()) == 0
    other = tmp_path / "other"
    other.mkdir()
    Image.new("L", (32, 32)).save(other / "zzz.png")
    with pytest.raises(ValueError, match=r"no mask in .* has the file stem of an image"):
        Domain(f["a"], 28, other)


def test_losses_and_labels_files(tmp_path: Path) -> None:
    """keep_loss is the mean change over kept pixels; class_loss ignores unlabelled items;
    label CSVs name files by name or stem and reject unknown files."""
    a, b = torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    b[0, :, 0, 0] = 1.0
    mask = torch.zeros(2, 1, 4, 4)
    mask[0, :, 0, :2] = 1
    assert float(keep_loss(b, a, mask)) == pytest.approx(3 / 6)
    assert float(keep_loss(b, a, torch.zeros_like(mask))) == 0
    logits = torch.tensor([[5.0, -5.0], [0.0, 0.0]])
    assert class_loss(logits, torch.tensor([-1, -1])) is None
    assert float(class_loss(logits, torch.tensor([0, -1]))) < 1e-3  # type: ignore[arg-type]
    f = _folders(tmp_path, 4)
    files = sorted(f["a"].iterdir())
    assert read_labels(tmp_path / "labels_a.csv", files) == {0: "circle", 1: "square"}
    assert read_labels(tmp_path / "labels_b.csv", files)[3] == "square"
    (tmp_path / "bad.csv").write_text("nothere.png,x\n")
    with pytest.raises(ValueError, match=r"no image 'nothere\.png'"):
        read_labels(tmp_path / "bad.csv", files)


def test_keep_masks_keep_the_region_through_the_cli(tmp_path: Path, one_thread: None) -> None:
    """Same run with and without --keep-masks: the badge survives G_A far better with them."""
    f = _folders(tmp_path)
    assert main(_args(tmp_path, f, "plain")) == 0
    assert (
        main(_args(tmp_path, f, "kept", "--keep-masks", f"{f['masks']},", "--keep-weight", "30"))
        == 0
    )
    store = ModelStore(tmp_path / "models")
    plain = _kept_psnr(store.load("plain", "a_to_b")[1], f["a"])
    kept = _kept_psnr(store.load("kept", "a_to_b")[1], f["a"])
    print(f"badge PSNR: plain {plain:.1f} dB, --keep-masks {kept:.1f} dB")
    assert kept > plain + 5
    assert store.entry("kept").meta["trained"]["keep_masks"] == f"{f['masks']},"


def test_labels_train_class_heads_through_the_cli(tmp_path: Path, one_thread: None, capsys) -> None:
    """--labels-a/-b: class-aware Ds whose heads learn the labelled reals, G class losses, and
    the classes in the model's metadata, `models list` and the schema's model help."""
    f = _folders(tmp_path)
    args = _args(tmp_path, f, "classy", "--labels-a", str(tmp_path / "labels_a.csv"))
    assert main([*args, "--labels-b", str(tmp_path / "labels_b.csv"), "--class-weight", "2"]) == 0
    store = ModelStore(tmp_path / "models")
    assert store.entry("classy").classes == ["circle", "square"]
    capsys.readouterr()
    assert main(["models", "list", "--models-dir", str(tmp_path / "models")]) == 0
    assert "classes: circle, square" in capsys.readouterr().out
    state = torch.load(tmp_path / "run-classy" / "checkpoint.pth", weights_only=True)
    d_a = ClassAwareDiscriminator(2, ndf=8)
    d_a.load_state_dict(state["d_a"])
    real_b = Domain(f["b"], 32).sample(range(16), random.Random(0), augment=False)
    want = torch.tensor([i % 2 for i in range(16)])
    with torch.no_grad():
        acc = float((d_a.classify(real_b).argmax(1) == want).float().mean())
    print(f"D_A's head on real B: {acc:.2f}")
    assert acc >= 0.75
    one = tmp_path / "one.csv"
    one.write_text("000.png,circle\n")
    assert main([*_args(tmp_path, f, "bad"), "--labels-a", str(one)]) == 2
    assert "one class" in capsys.readouterr().err


def test_trainer_records_class_losses_only_for_labelled(tmp_path: Path, one_thread: None) -> None:
    """A step with all inputs unlabelled has no class losses; labelled ones add all four."""
    f = _folders(tmp_path, 4)
    cfg = CycleGanConfig(
        str(f["a"]), str(f["b"]), "t", size=32, epochs=1, batch_size=2, ngf=4, n_blocks=1,
        ndf=4, labels_a=str(tmp_path / "labels_a.csv"), labels_b=str(tmp_path / "labels_b.csv"),
        run_dir=str(tmp_path / "run"), models_dir=str(tmp_path / "models"),
    )  # fmt: skip
    t = CycleGanTrainer(cfg)
    x = torch.zeros(2, 3, 32, 32)
    none = torch.tensor([-1, -1])
    assert not [k for k in t.step(x, x, none, none) if k.startswith("cls")]
    got = t.step(x, x, torch.tensor([0, -1]), torch.tensor([1, 0]))
    assert sorted(k for k in got if k.startswith("cls")) == [
        "cls_D_A", "cls_D_B", "cls_G_A", "cls_G_B"
    ]  # fmt: skip


def test_generator_class_loss_reads_its_output_with_the_judging_head(
    tmp_path: Path, one_thread: None
) -> None:
    """cls_G_A is D_A's head (D_A judges B) on G_A(A) against A's labels, cls_G_B D_B's head on
    G_B(B) against B's labels; the class weight scales them."""
    f = _folders(tmp_path, 4)
    cfg = CycleGanConfig(
        str(f["a"]), str(f["b"]), "t", size=32, epochs=1, batch_size=2, ngf=4, n_blocks=1,
        ndf=4, labels_a=str(tmp_path / "labels_a.csv"), labels_b=str(tmp_path / "labels_b.csv"),
        class_weight=3.0, run_dir=str(tmp_path / "run"), models_dir=str(tmp_path / "models"),
    )  # fmt: skip
    t = CycleGanTrainer(cfg)
    real_a = t.a.sample([0, 1], random.Random(0), augment=False)
    real_b = t.b.sample([2, 3], random.Random(0), augment=False)
    la, lb = torch.tensor([0, 1]), torch.tensor([1, -1])
    with torch.no_grad():
        want_a = F.cross_entropy(t.d_a.classify(t.g_a(real_a)), la) * 3
        want_b = F.cross_entropy(t.d_b.classify(t.g_b(real_b))[:1], lb[:1]) * 3
        swapped = F.cross_entropy(t.d_b.classify(t.g_a(real_a)), la) * 3
    got = t.step(real_a, real_b, la, lb)
    assert got["cls_G_A"] == pytest.approx(float(want_a), rel=1e-4)
    assert got["cls_G_B"] == pytest.approx(float(want_b), rel=1e-4)
    assert abs(got["cls_G_A"] - float(swapped)) > 1e-6


def test_unet_generator_trains_and_keeps_the_region_through_the_cli(
    tmp_path: Path, one_thread: None, capsys
) -> None:
    """--netG unet_32 trains upstream's U-Net (imported and listed as one) with the keep masks;
    a --netG that is no generator, or a crop it cannot divide, is refused."""
    f = _folders(tmp_path)
    keep = ["--keep-masks", f"{f['masks']},", "--keep-weight", "30", "--netG", "unet_32"]
    assert main(_args(tmp_path, f, "unet", *keep)) == 0
    store = ModelStore(tmp_path / "models")
    assert store.entry("unet").summary().startswith("U-Net")
    g = store.load("unet", "a_to_b")[1]
    assert type(g).__name__ == "UnetGenerator" and g.arch["num_downs"] == 5
    assert store.entry("unet").meta["trained"]["net_g"] == "unet_32"
    for bad, words in (("unet_48", "expected resnet or unet_N"), ("unet_64", "multiple of 64")):
        assert main([*_args(tmp_path, f, "bad"), "--netG", bad]) == 2
        assert words in capsys.readouterr().err


GENKI = SHARED_DATA / "genki4k-train" / "smile"


def test_keep_faces_masks_the_faces(tmp_path: Path, one_thread: None) -> None:
    """--keep faces: the face finder's masks cover the pasted faces; a CLI run trains with them."""
    from backend.assets import weights
    from backend.dirs import weights_dir

    if not weights.find("mtcnn", weights_dir()):
        pytest.skip("mtcnn weights absent: python -m backend weights fetch mtcnn")
    if not GENKI.is_dir():
        pytest.skip(f"shared data not found at {GENKI}")
    faces = sorted(GENKI.iterdir())[:4]
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    for i, face in enumerate(faces):
        canvas = Image.new("RGB", (128, 128), (90 + 30 * i, 120, 160))
        canvas.paste(Image.open(face).convert("RGB"), (16, 8))
        canvas.save(tmp_path / "a" / f"{i}.png")
        canvas.save(tmp_path / "b" / f"{i}.png")
    maker = face_mask_maker()
    for i in range(len(faces)):
        rgb = Image.open(tmp_path / "a" / f"{i}.png").convert("RGB")
        m = np.asarray(maker(tmp_path / "a" / f"{i}.png", rgb)) > 127
        inside = m[8:72, 16:80].mean()
        outside = (m.sum() - m[8:72, 16:80].sum()) / (128 * 128 - 64 * 64)
        assert inside >= 0.9 and outside <= 0.25, (inside, outside)  # box + a tenth per side
    args = ["train", "cyclegan", "--domain-a", str(tmp_path / "a"), "--domain-b"]
    args += [str(tmp_path / "b"), "--name", "faces", "--size", "96", "--epochs", "1"]
    args += ["--batch-size", "2", "--ngf", "4", "--n-blocks", "1", "--ndf", "4", "--device", "cpu"]
    args += ["--run-dir", str(tmp_path / "run"), "--models-dir", str(tmp_path / "models")]
    assert main([*args, "--keep", "faces"]) == 0
    meta = ModelStore(tmp_path / "models").entry("faces").meta
    assert meta["trained"]["keep"] == "faces"


def test_keep_warmup_schedule() -> None:
    """--keep-warmup N: no keep term for N updates, a linear ramp over the next N, then full."""
    assert [keep_factor(d, 10) for d in (0, 5, 10, 12, 15, 20, 500)] == [0, 0, 0, 0.2, 0.5, 1, 1]
    assert keep_factor(0, 0) == keep_factor(7, 0) == 1.0


def test_trainer_applies_the_keep_warmup(tmp_path: Path, one_thread: None) -> None:
    """In fit() the first N updates carry no keep loss; update N+k (k <= N) carries k/N of λ_keep
    times the mean change of the kept pixels; the CLI records the warm-up in the metadata."""
    f = _folders(tmp_path, 4)
    cfg = CycleGanConfig(
        str(f["a"]), str(f["b"]), "t", size=32, epochs=3, batch_size=2, ngf=4, n_blocks=1,
        ndf=4, keep_masks=f"{f['masks']},", keep_weight=8.0, keep_warmup=2,
        run_dir=str(tmp_path / "run"), models_dir=str(tmp_path / "models"),
    )  # fmt: skip
    t = CycleGanTrainer(cfg)
    t.fit()
    keys = [("keep_A" in h, "keep_B" in h) for h in t.history]
    assert keys == [(False, False)] * 3 + [(True, False)] * 3  # 6 updates, masks of A only
    real_a = t.a.sample([0, 1], random.Random(0), augment=False)
    x = torch.zeros(2, 3, 32, 32)
    for done, share in ((3, 0.5), (4, 1.0)):
        t.step_count = done
        with torch.no_grad():
            want = keep_loss(t.g_a(real_a[:, :3]), real_a[:, :3], real_a[:, 3:]) * 8 * share
        assert t.step(real_a, x)["keep_A"] == pytest.approx(float(want), rel=1e-4)
    args = _args(tmp_path, f, "warm", "--keep-masks", f"{f['masks']},", "--keep-warmup", "3")
    assert main([*args, "--preprocess", "crop"]) == 0
    trained = ModelStore(tmp_path / "models").entry("warm").meta["trained"]
    assert trained["keep_warmup"] == 3 and trained["preprocess"] == "crop"


def test_preprocess_crop_keeps_the_pictures_as_they_are(tmp_path: Path) -> None:
    """--preprocess crop: a picture of the crop size comes out unscaled (mask with it), a smaller
    one is scaled up to the crop; resize_and_crop rescales; another name is refused."""
    f = _folders(tmp_path, 2)
    raw = torch.from_numpy(np.asarray(Image.open(f["a"] / "000.png").convert("RGB")).copy())
    raw = raw.permute(2, 0, 1).float() / 127.5 - 1
    as_is = Domain(f["a"], 32, f["masks"], resize=False).sample([0], random.Random(0))[0]
    assert torch.equal(as_is[:3], raw) or torch.equal(as_is[:3], raw.flip(-1))
    assert as_is[3].sum() == (BADGE[2] - BADGE[0]) * (BADGE[3] - BADGE[1])
    scaled = Domain(f["a"], 32, resize=True).sample([0], random.Random(0), augment=False)[0]
    assert scaled.shape == raw.shape and not torch.equal(scaled, raw)
    assert Domain(f["a"], 48, resize=False).sample([0], random.Random(0))[0].shape[-1] == 48
    with pytest.raises(ValueError, match="resize_and_crop or crop"):
        CycleGanTrainer(CycleGanConfig(str(f["a"]), str(f["b"]), "t", size=32, preprocess="none"))
