"""Models folder: import, manifest, hashing, caching, kinds, fetch over HTTP and the CLI."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from backend.algorithms.nets.resnet_generator import ResnetGenerator
from backend.assets.models import (
    CYCLEGAN_PRETRAINED,
    CYCLEGAN_URL,
    ModelError,
    ModelStore,
    load_model,
    register_kind,
    sha256_of,
)
from backend.cli import main
from tests.prep.cyclegan import RESNET_OFFICIAL, tiny_generator


@pytest.fixture
def tiny_file(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "tiny.pth"
    path.parent.mkdir()
    torch.save(tiny_generator().state_dict(), path)
    return path


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1 (port 0) and its base address."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_import_records_sha_and_arch(tmp_path: Path, tiny_file: Path) -> None:
    """Import copies the file unchanged and records kind, sha256 and the inferred architecture."""
    store = ModelStore(tmp_path / "models")
    store.import_model(tiny_file, "tiny", meta={"note": "x"})
    manifest = json.loads((tmp_path / "models" / "manifest.json").read_text())
    entry = manifest["models"]["tiny"]
    assert entry["kind"] == "cyclegan" and entry["meta"] == {"note": "x"}
    assert entry["arch"] == {
        "netG": "resnet_2blocks",
        "input_nc": 3,
        "output_nc": 3,
        "ngf": 4,
        "n_blocks": 2,
        **RESNET_OFFICIAL,
    }
    assert entry["parts"]["main"]["sha256"] == sha256_of(tiny_file)
    assert (tmp_path / "models" / "tiny.pth").read_bytes() == tiny_file.read_bytes()
    assert [e.name for e in store.entries("cyclegan")] == ["tiny"]
    assert store.entries("dtn") == []


def test_duplicate_and_bad_names_refused(tmp_path: Path, tiny_file: Path) -> None:
    """A taken name or one with path characters is refused; replace=True overwrites."""
    store = ModelStore(tmp_path / "models")
    store.import_model(tiny_file, "tiny")
    with pytest.raises(ModelError, match="exists already"):
        store.import_model(tiny_file, "tiny")
    store.import_model(tiny_file, "tiny", replace=True)
    with pytest.raises(ModelError, match="model name"):
        store.import_model(tiny_file, "../escape")


def test_load_is_cached_and_checks_hash(tmp_path: Path, tiny_file: Path) -> None:
    """Loading twice gives the same network; a file changed after import is refused."""
    store = ModelStore(tmp_path / "models")
    store.import_model(tiny_file, "tiny")
    kind, net = store.load("tiny")
    assert kind == "cyclegan" and isinstance(net, ResnetGenerator) and not net.training
    assert store.load("tiny")[1] is net
    assert load_model("tiny", tmp_path / "models")[0] == "cyclegan"
    other = ModelStore(tmp_path / "models")
    torch.save(tiny_generator(seed=9).state_dict(), tmp_path / "models" / "tiny.pth")
    with pytest.raises(ModelError, match="sha256 mismatch"):
        other.load("tiny")
    with pytest.raises(ModelError, match="no model named"):
        other.load("absent")


def test_registered_kind_plugs_in(tmp_path: Path) -> None:
    """A kind added with register_kind validates, imports and loads through the same store."""

    def validator(state: dict[str, torch.Tensor]) -> dict[str, int]:
        if "lin.weight" not in state:
            raise ValueError("no 'lin.weight'")
        return {"n": int(state["lin.weight"].shape[0])}

    def builder(arch) -> nn.Module:
        m = nn.Module()
        m.lin = nn.Linear(2, arch["n"])
        return m

    register_kind("toy_kind", builder, validator)
    m = nn.Module()
    m.lin = nn.Linear(2, 5)
    torch.save(m.state_dict(), tmp_path / "toy.pth")
    store = ModelStore(tmp_path / "models")
    assert store.import_model(tmp_path / "toy.pth", "toy", "toy_kind").arch == {"n": 5}
    kind, net = store.load("toy")
    assert kind == "toy_kind" and torch.equal(net.lin.weight, m.lin.weight)
    torch.save(tiny_generator().state_dict(), tmp_path / "gen.pth")
    with pytest.raises(ModelError, match=r"no 'lin\.weight'"):
        store.import_model(tmp_path / "gen.pth", "gen", "toy_kind")
    with pytest.raises(ModelError, match="unknown model kind"):
        store.import_model(tmp_path / "gen.pth", "gen", "no_such_kind")


def test_fetch_downloads_over_http(tmp_path: Path, http_root, tiny_file: Path) -> None:
    """fetch downloads NAME.pth from the address template, validates and imports it."""
    root, base = http_root
    (root / "horse2zebra.pth").write_bytes(tiny_file.read_bytes())
    (root / "zebra2horse.pth").write_bytes(b"<html>moved</html>")
    store = ModelStore(tmp_path / "models")
    seen: list[tuple[int, int]] = []
    entry = store.fetch(
        "horse2zebra", url=base + "/{name}.pth", progress=lambda d, t: seen.append((d, t))
    )
    assert entry.meta["source"] == f"{base}/horse2zebra.pth"
    assert entry.parts["main"]["sha256"] == sha256_of(tiny_file)
    assert seen[-1][0] == seen[-1][1] == tiny_file.stat().st_size
    with pytest.raises(ModelError, match="not a readable"):
        store.fetch("zebra2horse", url=base + "/{name}.pth")
    with pytest.raises(ModelError, match="cannot download"):
        store.fetch("apple2orange", url=base + "/{name}.pth")
    assert [e.name for e in store.entries()] == ["horse2zebra"]
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]


def test_official_names_and_address() -> None:
    """The 18 official pretrained names map onto the official Berkeley address."""
    assert len(set(CYCLEGAN_PRETRAINED)) == 18 and "horse2zebra" in CYCLEGAN_PRETRAINED
    assert CYCLEGAN_URL.format(name="horse2zebra") == (
        "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/horse2zebra.pth"
    )
    with pytest.raises(ModelError, match="unknown pretrained model"):
        ModelStore(Path("/nonexistent")).fetch("cat2dog")


def test_cli_import_list_fetch_remove(tmp_path: Path, http_root, tiny_file: Path, capsys) -> None:
    """The models CLI imports, lists, fetches and removes, and fails cleanly on bad input."""
    root, base = http_root
    (root / "style_monet.pth").write_bytes(tiny_file.read_bytes())
    d = str(tmp_path / "models")
    assert main(["models", "import", str(tiny_file), "--name", "mine", "--models-dir", d]) == 0
    assert (
        main(["models", "fetch", "style_monet", "--url", base + "/{name}.pth", "--models-dir", d])
        == 0
    )
    capsys.readouterr()
    assert main(["models", "list", "--models-dir", d]) == 0
    out = capsys.readouterr().out
    assert "mine" in out and "style_monet" in out
    assert "ResnetGenerator 2 blocks, ngf 4, InstanceNorm, ConvTranspose decoder" in out
    (tmp_path / "junk.pth").write_bytes(b"junk")
    assert (
        main(["models", "import", str(tmp_path / "junk.pth"), "--name", "j", "--models-dir", d])
        == 1
    )
    assert "not a readable PyTorch checkpoint" in capsys.readouterr().err
    assert main(["models", "remove", "mine", "--models-dir", d]) == 0
    assert not (tmp_path / "models" / "mine.pth").exists()
    assert [e.name for e in ModelStore(d).entries()] == ["style_monet"]


def test_names_never_collide_with_another_models_files(
    tmp_path: Path, tiny_file: Path, capsys
) -> None:
    """``--name p.a_to_b`` beside a pair model ``p`` once overwrote half of p (and removing it
    deleted p's file); names are now letters, digits, - and _ only, and remove spares files
    another model uses."""
    pair = tmp_path / "run"
    pair.mkdir()
    for g in ("G_A", "G_B"):
        (pair / f"latest_net_{g}.pth").write_bytes(tiny_file.read_bytes())
    d = str(tmp_path / "models")
    assert main(["models", "import", str(pair), "--name", "p", "--models-dir", d]) == 0
    files = {p.name: p.read_bytes() for p in Path(d).glob("*.pth")}
    assert set(files) == {"p.a_to_b.pth", "p.b_to_a.pth"}
    capsys.readouterr()
    for name in ("p.a_to_b", "p\n", "bad\x1bname", "é", "-x", "a" * 65):
        assert main(["models", "import", str(tiny_file), f"--name={name}", "--models-dir", d]) == 1
        assert "letters, digits" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in Path(d).glob("*.pth")} == files
    # a name from before the rule, whose entry points at p's file: removing it keeps the file
    manifest = Path(d) / "manifest.json"
    data = json.loads(manifest.read_text())
    data["models"]["p.a_to_b"] = {**data["models"]["p"], "name": "p.a_to_b"}
    data["models"]["p.a_to_b"]["parts"] = {"main": data["models"]["p"]["parts"]["a_to_b"]}
    manifest.write_text(json.dumps(data))
    assert main(["models", "remove", "p.a_to_b", "--models-dir", d]) == 0
    assert {p.name: p.read_bytes() for p in Path(d).glob("*.pth")} == files
    store = ModelStore(d)
    assert store.load("p", "a_to_b")[0] == "cyclegan"


def test_pack_names_are_ascii_without_control_characters() -> None:
    from backend.assets.attributes import check_name

    check_name("smiling_2-b")
    for bad in ("smi\nling", "smiling\n", "é", "٣", "a.b", "", "x" * 65):
        with pytest.raises(ValueError, match="letters, digits"):
            check_name(bad)
