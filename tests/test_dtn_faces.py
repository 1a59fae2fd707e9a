"""DTN faces → emoji: the face domain and its labels, RGBA g, the tone term, the ``--f face``
training command, and the ``dtn`` filter's face stickers (in process, over gRPC, from ``apply``)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from backend.algorithms.nets.dtn import DomainTransfer, DtnConfig, infer_config, init_weights
from backend.assets.models import ModelStore
from backend.cli import main
from backend.evaluation.genki_split import part_of
from backend.filters.base import FilterInput
from backend.filters.dtn import DomainTransfer as DtnFilter
from backend.filters.dtn import DtnParams
from backend.training.dtn import DtnOptions, DtnTrainer, faces
from backend.training.dtn.cli import options_from_args
from backend.training.dtn.options import FACE_PRESET
from nlf_client import BackendError, Layer
from tests.conftest import tiny_context
from tests.fakes import as_array, make_layer, rect_mask

RGBA = DtnConfig(size=32, code_dim=8, width=0.0625, channels=4)


def _genki(root: Path, n: int = 40) -> Path:
    """A GENKI-like folder: smile/ and non_smile/ with ``n`` small JPEG "faces" each, lighter
    and darker ones, so both the split and the tertile labels have something to work on."""
    rng = np.random.default_rng(0)
    for label in ("smile", "non_smile"):
        (root / label).mkdir(parents=True)
        for i in range(n):
            level = 40 + 200 * i / n
            arr = np.clip(rng.normal(level, 12, (64, 64, 3)), 0, 255).astype(np.uint8)
            if label == "smile":
                arr[44:50, 20:44] = 250  # "teeth"
            Image.fromarray(arr).save(root / label / f"file{label}{i:04d}.jpg")
    return root


def _emoji(root: Path) -> Path:
    """An emoji-like folder: RGBA discs in six tones, smiling or not, with a manifest."""
    root.mkdir(parents=True)
    yy, xx = np.mgrid[:64, :64]
    disc = (yy - 32) ** 2 + (xx - 32) ** 2 < 26**2
    rows = []
    colours = [(255, 202, 40), (249, 221, 189), (224, 187, 149), (186, 141, 104), (165, 108, 67)]
    for tone, colour in enumerate(colours + [(112, 83, 74)]):
        for smiling in (0, 1):
            arr = np.zeros((64, 64, 4), np.uint8)
            arr[disc] = (*colour, 255)
            if smiling:
                arr[40:46, 20:44, :3] = 60
            name = f"e{tone}{smiling}_00.png"
            Image.fromarray(arr, "RGBA").save(root / name)
            expression = "smiling" if smiling else "not_smiling"
            rows.append((name, "", "X", "smiley", expression, tone, "default", "none", 0))
    with open(root / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            (
                "file",
                "codepoints",
                "name",
                "kind",
                "expression",
                "tone",
                "hair",
                "age",
                "recoloured",
            )
        )
        w.writerows(rows)
    return root


def tiny_face_run(tmp_path: Path, steps: int) -> tuple[list[str], Path, Path]:
    """``train dtn --f face`` with tiny nets for ``steps`` steps on a GENKI-like and an emoji-like
    folder, saved as model "fe" under the returned models folder; also returns the command's
    arguments (without name and run folder, for a second run) and the emoji folder."""
    genki, emoji = _genki(tmp_path / "genki"), _emoji(tmp_path / "emoji")
    models = tmp_path / "models"
    args = ["train", "dtn", "--source", str(genki), "--target", str(emoji)]
    args += ["--f", "face", "--width", "0.0625", "--code-dim", "8", "--batch", "4"]
    args += ["--iterations", str(steps), "--f-iterations", str(steps), "--ema-start", "1"]
    args += ["--models-dir", str(models), "--threads", "1"]
    assert main([*args, "--name", "fe", "--run-dir", str(tmp_path / "r1")]) == 0
    return args, models, emoji


def _sticker_net(seed: int = 0, alpha_bias: float = 4.0) -> DomainTransfer:
    """A random RGBA G whose alpha is pushed towards opaque (so the sticker shows)."""
    torch.manual_seed(seed)
    net = DomainTransfer(RGBA)
    init_weights(net)
    with torch.no_grad():
        net.g.net[-2].bias[3] = alpha_bias
    return net.eval()


def test_rgba_nets_round_trip_through_the_store(tmp_path: Path) -> None:
    """A 4-channel g is read back as such from its weights; D takes 4 channels."""
    net = _sticker_net()
    assert DtnConfig.from_dict(infer_config(net.state_dict())) == RGBA
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 4, 32, 32)
    torch.save(net.state_dict(), tmp_path / "m.pth")
    ModelStore(tmp_path).import_model(tmp_path / "m.pth", "emoji", "dtn")
    _, loaded = ModelStore(tmp_path).load("emoji")
    assert loaded.cfg.channels == 4


def test_faces_never_load_the_heldout_part_and_labels_follow_the_pixels(tmp_path: Path) -> None:
    root = _genki(tmp_path / "genki")
    x, smile, paths = faces.load_faces(root, 32)
    assert x.shape[1:] == (3, 32, 32) and len(paths) == len(smile) == len(x)
    assert all(part_of(p.name) != "heldout" for p in paths)
    n_held = sum(part_of(p.name) == "heldout" for p in root.rglob("*.jpg"))
    assert n_held > 0 and len(paths) + n_held == 80
    labels, info = faces.face_labels(x, smile)
    assert labels.max() < 18 and set(info["tone"].tolist()) == {0, 1, 2}
    lum = faces.skin_luminance(x.float() / 255)
    assert lum[info["tone"] == 2].min() >= lum[info["tone"] == 0].max()  # tertiles by luminance
    with pytest.raises(FileNotFoundError, match="NLF_GENKI_DIR"):
        faces.load_faces(tmp_path / "nowhere", 32)


def test_emoji_load_as_rgba_over_grey_and_skin_reads_only_opaque_pixels(tmp_path: Path) -> None:
    x, rows = faces.load_emoji(_emoji(tmp_path / "emoji"), 32)
    assert x.shape == (12, 4, 32, 32) and len(rows) == 12
    assert x[0, 3, 0, 0] == 0 and abs(int(x[0, 0, 0, 0]) - 128) <= 1  # clear corner over grey
    lum = faces.skin_luminance(x.float() / 255)
    by_tone = [float(lum[2 * t]) for t in range(1, 6)]
    assert by_tone == sorted(by_tone, reverse=True)  # the grey around never dilutes the tone
    with pytest.raises(ValueError, match="manifest"):
        faces.load_emoji(tmp_path, 32)


def test_tone_term_maps_face_order_onto_emoji_and_g_outputs_rgba() -> None:
    opts = DtnOptions(
        **{**FACE_PRESET, "width": 0.0625, "code_dim": 8, "batch": 4, "constancy": "code"}
    )
    f = DomainTransfer(opts.config(18)).f
    trainer = DtnTrainer(f, opts, torch.device("cpu"))
    dark = torch.full((4, 3, 32, 32), 60, dtype=torch.uint8)
    light = torch.full((4, 3, 32, 32), 200, dtype=torch.uint8)
    target = torch.randint(0, 256, (8, 4, 32, 32), dtype=torch.uint8)
    trainer.fit_tone(torch.cat([dark, light]), target)
    a = trainer.tone_map[0]
    assert a > 0  # a monotone map: lighter faces ask for lighter emoji
    xs = torch.rand(4, 3, 32, 32) * 2 - 1
    xt = torch.rand(4, 4, 32, 32) * 2 - 1
    losses = trainer.step(xs, xt)
    assert "tone" in losses and np.isfinite(losses["tone"])
    assert trainer.translate(xs).shape == (4, 4, 32, 32)
    restored = DtnTrainer(f, opts, torch.device("cpu"))
    restored.load_state_dict(trainer.state_dict())
    assert torch.equal(restored.tone_map, trainer.tone_map)


def test_f_face_preset_fills_only_what_is_not_given() -> None:
    import argparse

    from backend.training.dtn import add_dtn_arguments

    p = argparse.ArgumentParser()
    add_dtn_arguments(p)
    base = ["--source", "s", "--target", "t", "--name", "n"]
    face = options_from_args(p.parse_args([*base, "--f", "face", "--iterations", "7"]))
    assert face.iterations == 7 and face.size == FACE_PRESET["size"] and face.tone > 0
    plain = options_from_args(p.parse_args(base))
    assert plain == DtnOptions()


def test_train_dtn_f_face_end_to_end_then_resume(tmp_path: Path) -> None:
    """``train dtn --f face`` on a GENKI-like folder and an emoji folder installs an RGBA model."""
    genki, emoji = _genki(tmp_path / "genki"), _emoji(tmp_path / "emoji")
    models, run = tmp_path / "models", tmp_path / "run"
    args = ["train", "dtn", "--source", str(genki), "--target", str(emoji), "--name", "fe"]
    args += ["--f", "face", "--width", "0.0625", "--code-dim", "8", "--batch", "4"]
    args += ["--iterations", "4", "--f-iterations", "4", "--ema-start", "2"]
    args += ["--checkpoint-every", "2", "--sample-every", "2", "--models-dir", str(models)]
    args += ["--run-dir", str(run), "--threads", "1"]
    assert main(args) == 0
    _, net = ModelStore(models).load("fe")
    assert net.cfg.channels == 4 and net.cfg.size == 32
    assert (run / "samples" / "step_000004.png").is_file()
    longer = [a if a != "4" else "6" for a in args]
    assert main([*longer, "--resume"]) == 0
    state = torch.load(run / "checkpoint.pth", weights_only=True)
    assert state["step"] == 6 and state["options"]["tone"] == FACE_PRESET["tone"]


def test_f_emoji_labels_emoji_like_faces_and_pretrains_f_on_both(tmp_path: Path) -> None:
    """``--f-emoji``: the emoji's smile comes from their names, tone and top from their own
    tertiles; f's pretraining set is the faces plus those emoji; without --f face it refuses."""
    emoji, rows = faces.load_emoji(_emoji(tmp_path / "emoji"), 32)
    images, labels = faces.emoji_labels(emoji, rows)
    assert images.shape == (12, 3, 32, 32) and images.dtype == torch.uint8
    smiling = torch.tensor([r["expression"] == "smiling" for r in rows])
    assert torch.equal(labels // 9 == 1, smiling)
    assert set((labels % 9 // 3).tolist()) == {0, 1, 2}  # tone tertiles of the emoji themselves
    genki = _genki(tmp_path / "genki")
    base = ["train", "dtn", "--source", str(genki), "--target", str(tmp_path / "emoji")]
    base += ["--width", "0.0625", "--code-dim", "8", "--batch", "4", "--iterations", "2"]
    base += ["--f-iterations", "2", "--threads", "1", "--models-dir", str(tmp_path / "m")]
    run = tmp_path / "run"
    assert main([*base, "--name", "fe", "--f", "face", "--f-emoji", "--run-dir", str(run)]) == 0
    state = torch.load(run / "checkpoint.pth", weights_only=True)
    assert state["options"]["f_emoji"] is True
    refused = [*base, "--name", "x", "--f-emoji", "--run-dir", str(tmp_path / "r2")]
    assert main(refused) == 2


def test_f_domain_pulls_face_and_emoji_codes_together_and_needs_f_emoji(tmp_path: Path) -> None:
    """``--f-domain``: the MMD is ~0 for one set and grows with the gap; every ``--f-align``
    pretrains (smile-wise MMD lowers the gap of f's codes on separable domains); the command
    records the options (the --f face preset turns --f-emoji on) and refuses --f-domain without
    --f-emoji."""
    from backend.training.dtn.pretrain import mmd, pretrain_classifier

    a = torch.randn(16, 8)
    assert float(mmd(a, a)) < 1e-6 and float(mmd(a, a + 3)) > 0.1
    with pytest.raises(ValueError, match="f_align"):
        DtnOptions(f_align="nope")
    gen = torch.Generator().manual_seed(0)
    face = torch.randint(0, 100, (32, 3, 32, 32), dtype=torch.uint8, generator=gen)
    emo = torch.randint(150, 256, (32, 3, 32, 32), dtype=torch.uint8, generator=gen)
    images, domains = torch.cat([face, emo]), torch.cat([torch.zeros(32), torch.ones(32)]).long()
    labels = torch.arange(64) % 2 * 9  # smile halves 0 / 9 in both domains
    gaps = {}
    for align, weight in (("smile", 0.0), ("smile", 3.0), ("mmd", 1.0), ("reverse", 1.0)):
        opts = DtnOptions(
            width=0.0625, code_dim=8, batch=16, f_iterations=40, f_domain=weight, f_align=align
        )
        model, _ = pretrain_classifier(images, labels, opts, domains=domains)
        with torch.no_grad():
            z = model.encoder(images.float() / 127.5 - 1).flatten(1)
        gaps[(align, weight)] = float(mmd(z[:32], z[32:]))
    assert gaps[("smile", 3.0)] < gaps[("smile", 0.0)]
    genki = _genki(tmp_path / "genki")
    base = ["train", "dtn", "--source", str(genki), "--target", str(_emoji(tmp_path / "emoji"))]
    base += ["--width", "0.0625", "--code-dim", "8", "--batch", "4", "--iterations", "2"]
    base += ["--f-iterations", "2", "--threads", "1", "--models-dir", str(tmp_path / "m")]
    base += ["--f", "face", "--f-domain", "1", "--robust-constancy"]
    run = tmp_path / "run"
    assert main([*base, "--name", "fd", "--f-emoji", "--run-dir", str(run)]) == 0
    state = torch.load(run / "checkpoint.pth", weights_only=True)
    assert state["options"]["f_domain"] == 1.0 and state["options"]["f_align"] == "smile"
    assert state["options"]["robust_constancy"] is True
    refused = [*base, "--name", "x", "--no-f-emoji", "--run-dir", str(tmp_path / "r2")]
    assert main(refused) == 2


def test_robust_constancy_blurs_what_f_reads_and_is_off_by_default() -> None:
    """``--robust-constancy``: f reads G(s) shifted and blurred, so pixel-fine texture (a
    one-pixel checkerboard) is gone while a shape's mean survives; off, f reads G(s) as is."""
    f = DomainTransfer(RGBA).f
    check = (torch.arange(32).view(1, 32) + torch.arange(32).view(32, 1)) % 2 * 2.0 - 1
    x = check.expand(2, 3, 32, 32).clone()
    plain = DtnTrainer(f, DtnOptions(width=0.0625, code_dim=8), torch.device("cpu"))
    assert torch.equal(plain._for_constancy(x), x)
    robust = DtnTrainer(
        f, DtnOptions(width=0.0625, code_dim=8, robust_constancy=True), torch.device("cpu")
    )
    seen = robust._for_constancy(x)
    assert seen.shape == x.shape and float(seen.std()) < 0.2 * float(x.std())
    assert abs(float(seen.mean()) - float(x.mean())) < 0.05


def _install(models: Path, name: str = "face-emoji") -> str:
    path = models / f"{name}.pth"
    models.mkdir(parents=True, exist_ok=True)
    torch.save(_sticker_net().state_dict(), path)
    ModelStore(models).import_model(path, name, "dtn")
    return name


def test_filter_makes_a_sticker_layer_and_says_when_there_is_no_face(tmp_path: Path) -> None:
    ctx = tiny_context(tmp_path)
    name = _install(ctx.models_dir)
    flt = DtnFilter(ctx)
    h, w = 48, 64
    image = torch.rand(1, 3, h, w)
    job = FilterInput(image, torch.ones(1, 1, h, w), torch.ones(1, 1, h, w), (0, 0, w, h))
    (out,) = flt.run(job, DtnParams(model=name), lambda s: None)
    assert out.alpha is not None and out.alpha.shape == (1, 1, h, w)
    assert (
        float(out.alpha[..., 20:28, 28:36].min()) > 0.5 and float(out.alpha[..., :2, :2].max()) == 0
    )
    flat = FilterInput(torch.full((1, 3, h, w), 0.5), job.alpha, job.mask, job.box)
    with pytest.raises(Exception, match="no face found"):
        flt.run(flat, DtnParams(model=name), lambda s: None)


def test_sticker_over_grpc_and_apply_over_a_folder(make_backend, tmp_path: Path) -> None:
    """Over gRPC the face → emoji result is a new RGBA layer, transparent outside the face;
    ``apply`` runs it over a folder of portraits; a faceless selection is FAILED_PRECONDITION."""
    backend = make_backend()
    name = _install(backend.registry.get("dtn").ctx.models_dir)
    w, h = 64, 48
    src = as_array(make_layer(w, h, seed=3)).copy()
    layer = Layer(src.tobytes(), w, h, "u8")
    with backend.client() as client:
        (out,) = client.run("dtn", layer, rect_mask(w, h, 4, 2, 60, 46), {"model": name}).layers
        dst = as_array(out)
        assert dst[..., 3][:2].max() == 0 and dst[..., 3][:, :4].max() == 0  # outside the selection
        assert dst[20:28, 28:36, 3].min() > 128  # the emoji over the face
        flat = src.copy()
        flat[..., :3] = 120
        with pytest.raises(BackendError) as info:
            client.run("dtn", Layer(flat.tobytes(), w, h, "u8"), None, {"model": name})
        assert info.value.code == "FAILED_PRECONDITION"
    folder = tmp_path / "portraits"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(as_array(make_layer(w, h, seed=10 + i)).copy(), "RGBA").save(
            folder / f"p{i}.png"
        )
    out_dir = str(tmp_path / "out")
    param = f"model={name}"
    rc = main(
        ["apply", "dtn", str(folder), "-o", out_dir, "--server", backend.address, "--param", param]
    )
    assert rc == 0
    for i in range(2):
        got = np.asarray(Image.open(tmp_path / "out" / f"p{i}.dtn.png"))
        assert got.shape == (h, w, 4) and got[..., 3].max() > 128 and got[0, 0, 3] == 0


def test_protocol_figures_on_tiny_data(tmp_path: Path) -> None:
    """The quality protocol's pieces: Spearman's ρ, the judges, the figures and the strip."""
    from backend.evaluation import faces_emoji_quality as q

    a = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert q.spearman(a, a * 10) == pytest.approx(1.0)
    assert q.spearman(a, -a) == pytest.approx(-1.0)
    emoji, rows = faces.load_emoji(_emoji(tmp_path / "emoji"), 32)
    photos, smile, _ = faces.load_faces(_genki(tmp_path / "genki"), 32)
    judges = q.build_judges(emoji, rows, photos, steps=20)
    q.save_judges(judges, str(tmp_path / "j.pth"))
    again = q.load_judges(str(tmp_path / "j.pth"))
    assert torch.equal(q.predict(again.domain, photos), q.predict(judges.domain, photos))
    fig = q.evaluate(_sticker_net(), judges, photos, smile)
    for key in ("expression_kept", "expression_kept_balanced", "emojiness"):
        assert 0.0 <= fig[key] <= 1.0
    assert -1.0 <= fig["skin_tone_rho"] <= 1.0 and fig["faces"] == len(photos)
    pick = q.strip_indices(smile, photos)
    assert len(pick) == 16 and len(set(pick)) == 16
    sheet = q.strip(photos[pick], q.translate_all(_sticker_net(), photos[pick]))
    assert sheet.size == (16 * 64, 128)


def test_a_face_that_fills_a_loose_selection_is_found_with_the_real_face_finder() -> None:
    """A GENKI face at 200 px with a selection 30 px around it: MTCNN alone misses a face that
    fills the picture it searches; the sticker's search (padded crop) finds it, in the crop's
    coordinates."""
    from backend import dirs
    from backend.assets import weights
    from backend.assets.nets import load_face_finder
    from backend.filters.dtn import find_faces
    from tests.conftest import SHARED_DATA, missing_weights

    genki = SHARED_DATA / "genki4k-train/non_smile/file2163.jpg"
    if not genki.is_file():
        pytest.skip(f"GENKI-4K crops not found at {genki.parent}")
    if weights.find("mtcnn", dirs.weights_dir()) is None:
        missing_weights("mtcnn", dirs.weights_dir())
    finder = load_face_finder(dirs.weights_dir())
    rng = np.random.default_rng(0)
    canvas = rng.integers(60, 200, (512, 512, 3)).astype(np.uint8)
    canvas[156:356, 156:356] = np.asarray(Image.open(genki).convert("RGB").resize((200, 200)))
    crop = torch.from_numpy(canvas[120:400, 130:390].copy()).permute(2, 0, 1)[None] / 255.0
    assert finder.find(crop) == []  # the control: why the search pads
    (face,) = find_faces(finder, crop, (0, 0, 260, 280))
    cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    assert abs(cx - 126) < 25 and abs(cy - 136) < 40, face.box


def test_builtin_faces_emoji_model_is_the_recorded_one_and_makes_stickers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The committed fp16 model (≤ 5 MB, recorded sha256) is the first model choice, loads as
    an RGBA G and makes a sticker; a changed file is refused with the repair command."""
    import hashlib
    import shutil

    from backend.errors import Broken
    from backend.filters.dtn import BUILTIN, BUILTIN_FILE, BUILTIN_SHA256, load_builtin

    assert BUILTIN_FILE.stat().st_size <= 5 << 20
    assert hashlib.sha256(BUILTIN_FILE.read_bytes()).hexdigest() == BUILTIN_SHA256
    ctx = tiny_context(tmp_path)
    flt = DtnFilter(ctx)
    assert flt.missing() == [] and flt.dynamic_choices()["models"][0] == BUILTIN
    h, w = 48, 64
    job = FilterInput(
        torch.rand(1, 3, h, w), torch.ones(1, 1, h, w), torch.ones(1, 1, h, w), (0, 0, w, h)
    )
    (out,) = flt.run(job, DtnParams(model=BUILTIN), lambda s: None)
    assert out.alpha is not None and float(out.alpha.max()) > 0.5
    assert float(out.alpha[..., :2, :2].max()) == 0  # clear around the face
    changed = tmp_path / "changed.pt"
    shutil.copy(BUILTIN_FILE, changed)
    with open(changed, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(Broken, match="git checkout"):
        load_builtin(changed)
