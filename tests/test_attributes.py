"""Attribute packs: build, save/load round trip, integrity checks, discovery and the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from backend.algorithms.features import tiny_backbone
from backend.assets import attributes
from backend.cli import main as cli_main

RES = 32


def _images(n: int, seed: int, size: int = 40) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.rand(1, 3, size, size, generator=gen) for _ in range(n)]


def _pack(name: str = "smiling") -> attributes.AttributePack:
    return attributes.build_pack(name, _images(3, 1), _images(2, 2), tiny_backbone(), RES)


def _write_pngs(folder: Path, n: int, seed: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        arr = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
        Image.fromarray(arr).save(folder / f"img{i:02d}.png")


def test_build_records_means_counts_and_backbone() -> None:
    """A built pack holds fp16 per-layer means of the right shapes, counts and the backbone name."""
    pack = _pack()
    assert pack.backbone == "tiny" and pack.resolution == RES
    assert (pack.count_with, pack.count_without) == (3, 2)
    bb = tiny_backbone()
    for layer in attributes.DFI_LAYERS:
        shape = (bb.channels(layer), RES // bb.stride(layer), RES // bb.stride(layer))
        assert pack.mean_with[layer].shape == shape
        assert pack.mean_with[layer].dtype == torch.float16
    assert len(pack.sha256) == 64


def test_mean_is_the_mean_of_the_features() -> None:
    """The stored "with" mean equals the average of the individual feature maps (fp16 rounding)."""
    bb, images = tiny_backbone(), _images(3, 5)
    pack = attributes.build_pack("a", images, _images(1, 6), bb, RES)
    with torch.no_grad():
        feats = [bb(attributes.resize_square(x, RES), ["relu4_1"])["relu4_1"] for x in images]
    expected = torch.cat(feats).mean(0)
    assert torch.allclose(pack.mean_with["relu4_1"].float(), expected, rtol=1e-2, atol=1e-3)


def test_save_load_round_trip(tmp_path: Path) -> None:
    """A saved pack loads back equal, with its sha256 verified and its path recorded."""
    pack = _pack()
    path = attributes.save_pack(pack, tmp_path)
    assert path == tmp_path / "tiny" / "smiling.pt"
    loaded = attributes.load_pack(path)
    assert loaded.sha256 == pack.sha256 and loaded.path == path
    for layer in pack.layers:
        assert torch.equal(loaded.mean_with[layer], pack.mean_with[layer])
        assert torch.equal(loaded.mean_without[layer], pack.mean_without[layer])
        assert torch.equal(loaded.direction(layer), pack.direction(layer))


def test_tampered_pack_fails_sha256(tmp_path: Path) -> None:
    """Changing one value of a saved pack makes loading fail with PackError (sha256 mismatch)."""
    path = attributes.save_pack(_pack(), tmp_path)
    data = torch.load(path, weights_only=True)
    data["mean_with"]["relu5_1"].view(-1)[0] += 1.0
    torch.save(data, path)
    with pytest.raises(attributes.PackError, match="sha256"):
        attributes.load_pack(path)


def test_foreign_file_is_not_a_pack(tmp_path: Path) -> None:
    """A torch file of another format and a garbage file are both rejected with PackError."""
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(attributes.PackError, match="not an attribute pack"):
        attributes.load_pack(other)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a zip")
    with pytest.raises(attributes.PackError, match="unreadable"):
        attributes.load_pack(junk)


def test_user_pack_shadows_builtin_and_backbone_filters(tmp_path: Path) -> None:
    """list_packs merges user and built-in folders (user first) and filters by backbone."""
    user, builtin = tmp_path / "user", tmp_path / "builtin"
    attributes.save_pack(_pack("smiling"), user)
    attributes.save_pack(_pack("smiling"), builtin)
    attributes.save_pack(_pack("senior"), builtin)
    (builtin / "vgg16-hed").mkdir()
    (builtin / "vgg16-hed" / "bald.pt").write_bytes(b"x")
    infos = attributes.list_packs(user, "tiny", builtin)
    assert [(i.name, i.builtin) for i in infos] == [("senior", True), ("smiling", False)]
    assert attributes.find_pack("bald", "tiny", user, builtin) is None
    assert attributes.find_pack("bald", "vgg16-hed", user, builtin) is not None


def test_bad_name_and_resolution_rejected() -> None:
    """Pack names must be plain identifiers and the resolution must reach relu5_1."""
    with pytest.raises(ValueError, match="pack name"):
        attributes.build_pack("../evil", _images(1, 0), _images(1, 1), tiny_backbone(), RES)
    with pytest.raises(ValueError, match="resolution"):
        attributes.build_pack("ok", _images(1, 0), _images(1, 1), tiny_backbone(), 8)


def test_build_from_folders(tmp_path: Path) -> None:
    """Two folders of example images become a pack with the folders' image counts."""
    _write_pngs(tmp_path / "yes", 3, 0)
    _write_pngs(tmp_path / "no", 4, 1)
    pack = attributes.build_pack_from_folders(
        "glasses", tmp_path / "yes", tmp_path / "no", tiny_backbone(), RES
    )
    assert (pack.count_with, pack.count_without) == (3, 4)
    with pytest.raises(FileNotFoundError):
        attributes.image_files(tmp_path / "missing")


def test_cli_build_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`attributes build` writes a loadable pack into --attributes-dir and `list` shows it."""
    _write_pngs(tmp_path / "yes", 2, 0)
    _write_pngs(tmp_path / "no", 2, 1)
    out = tmp_path / "packs"
    rc = cli_main(
        ["attributes", "--attributes-dir", str(out), "build", "freckles",
         "--with", str(tmp_path / "yes"), "--without", str(tmp_path / "no"),
         "--resolution", str(RES), "--backbone", "tiny", "--no-align"]
    )  # fmt: skip
    assert rc == 0
    pack = attributes.load_pack(out / "tiny" / "freckles.pt")
    assert pack.frame is None
    assert pack.count_with == 2
    capsys.readouterr()
    assert cli_main(["attributes", "--attributes-dir", str(out), "list"]) == 0
    listing = capsys.readouterr().out
    assert "freckles" in listing and "tiny" in listing


# -- LFW ------------------------------------------------------------------------------------------
LFW_PEOPLE = ("Ann_A", "Bob_B", "Cat_C", "Dan_D")


def _lfw_fixture(root: Path) -> tuple[Path, Path]:
    """A tiny LFW-shaped .tgz (4 people x 2 images, 50x50) and a matching attribute file."""
    import io
    import tarfile

    from backend.assets import lfw

    rng = np.random.default_rng(0)
    archive = root / "lfw-deepfunneled.tgz"
    columns = ["Male", *lfw.PACKS.values()]
    lines = ["# LFW attributes (test fixture)", "#\tperson\timagenum\t" + "\t".join(columns)]
    with tarfile.open(archive, "w:gz") as tar:
        for person in LFW_PEOPLE:
            for n in (1, 2):
                buf = io.BytesIO()
                arr = rng.integers(0, 256, (50, 50, 3), dtype=np.uint8)
                Image.fromarray(arr).save(buf, format="JPEG")
                info = tarfile.TarInfo(f"lfw-deepfunneled/{person}/{person}_{n:04d}.jpg")
                info.size = buf.tell()
                buf.seek(0)
                tar.addfile(info, buf)
                scores = rng.normal(size=len(columns))
                name = person.replace("_", " ")
                lines.append(f"{name}\t{n}\t" + "\t".join(f"{s:.5f}" for s in scores))
    lines.append("Nobody Here\t1\t" + "\t".join("0.0" for _ in columns))  # no image: skipped
    text = root / "lfw_attributes.txt"
    text.write_text("\n".join(lines) + "\n")
    return archive, text


@pytest.fixture
def lfw_server(tmp_path: Path):
    """A local HTTP server (127.0.0.1, port 0) serving the LFW fixture files."""
    import functools
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    _lfw_fixture(served)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_parse_lfw_attributes_keys_and_ranking() -> None:
    """The attribute file maps 'First Last' + number to LFW file names and ranks by score."""
    from backend.assets import lfw

    text = "# x\n#\tperson\timagenum\tSmiling\tBald\nA B\t1\t0.5\t-1\nC D\t12\t2.0\t0.1\n"
    table = lfw.parse_attributes(text)
    assert table.ranked("Smiling") == ["C_D/C_D_0012.jpg", "A_B/A_B_0001.jpg"]
    with pytest.raises(KeyError):
        table.ranked("Senior")
    with pytest.raises(ValueError, match="header"):
        lfw.parse_attributes("A B\t1\t0.5\n")


def test_build_lfw_downloads_and_builds_paper_packs(lfw_server: str, tmp_path: Path) -> None:
    """build-lfw fetches archive + attributes over HTTP and writes one pack per paper attribute."""
    from backend.assets import lfw

    out, cache = tmp_path / "packs", tmp_path / "cache"
    paths = lfw.fetch_and_build(
        tiny_backbone(),
        out,
        cache,
        lfw_url=f"{lfw_server}/lfw-deepfunneled.tgz",
        attributes_url=f"{lfw_server}/lfw_attributes.txt",
        k=2,
        resolution=RES,
    )
    assert sorted(p.stem for p in paths) == sorted(lfw.PACKS)
    pack = attributes.load_pack(out / "tiny" / "smiling.pt")
    assert (pack.count_with, pack.count_without) == (2, 2)
    assert "Smiling" in pack.source
    assert (cache / "lfw-deepfunneled" / "Ann_A" / "Ann_A_0002.jpg").is_file()


def test_cli_build_lfw(lfw_server: str, tmp_path: Path) -> None:
    """`attributes build-lfw --lfw-url ... --attributes-url ...` installs the packs it built."""
    out = tmp_path / "packs"
    rc = cli_main(
        ["attributes", "--attributes-dir", str(out), "build-lfw", "--k", "1",
         "--lfw-url", f"{lfw_server}/lfw-deepfunneled.tgz",
         "--attributes-url", f"{lfw_server}/lfw_attributes.txt",
         "--resolution", str(RES), "--backbone", "tiny"]
    )  # fmt: skip
    assert rc == 0
    names = [i.name for i in attributes.list_packs(out, "tiny", builtin_dir=None)]
    assert names == sorted(["bald", "eyeglasses", "mouth-open", "mustache", "senior", "smiling"])
