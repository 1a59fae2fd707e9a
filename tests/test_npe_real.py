"""The built-in ``genki64`` face model through the ``npe`` filter on held-out GENKI faces."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from backend.evaluation import genki_split, npe_protocol
from backend.filters.base import Context
from backend.filters.npe import BUILTIN_FILE, BUILTIN_SHA256, ContextualPaintbrush
from tests.fakes import FakeFaceFinder

GENKI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "genki4k-train"


def test_builtin_model_is_the_recorded_one() -> None:
    """The committed fp16 file is small and is exactly the one the docs record."""
    assert BUILTIN_FILE.stat().st_size <= 5 << 20
    assert hashlib.sha256(BUILTIN_FILE.read_bytes()).hexdigest() == BUILTIN_SHA256


@pytest.fixture(autouse=True)
def one_thread():
    """A 64² model's convs are too small for a second thread to help on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def faces():
    if not GENKI.is_dir():
        pytest.skip(f"GENKI-4K crops not found at {GENKI} (../shared/data is absent)")
    held = genki_split.split_files(GENKI)["heldout"]
    return npe_protocol.load_faces(held["non_smile"][:3] + held["smile"][:3], 128)


@pytest.mark.parametrize("stroke", ["hair", "skin"])
def test_strokes_move_the_face_toward_their_colour(tmp_path: Path, faces, stroke: str) -> None:
    """Default settings, the selection's box as the face (no weights needed), six held-out
    faces: on average the colour under the stroke moves toward the stroke's, further when
    painted twice, the photo's detail there is kept (no pasted blob: an alpha blend reaching
    the colour keeps none), and outside the dilated stroke the picture barely changes: most
    of the change lies near the stroke."""
    ctx = Context(models_dir=tmp_path, face_finder_factory=FakeFaceFinder)
    flt = ContextualPaintbrush(ctx)
    params = {"align": False}
    once, twice = [], []
    for name, photo in faces:
        case = npe_protocol.stroke_case(name, photo, stroke)
        first, state, said = npe_protocol.run_case(flt, case, params)
        second, _, _ = npe_protocol.run_case(flt, case, params, state)
        assert "box is the face" in said
        once.append(npe_protocol.measure(case, first))
        twice.append(npe_protocol.measure(case, second))

    def mean(rows: list[dict[str, float]], key: str) -> float:
        return sum(r[key] for r in rows) / len(rows)

    figures = {k: (mean(once, k), mean(twice, k)) for k in once[0]}
    assert 0.05 < figures["moved"][0] < figures["moved"][1], figures
    assert figures["texture"][0] > 0.8, figures
    assert figures["psnr_out"][0] > 25, figures
    assert figures["spread"][0] < 0.5, figures  # the paper's whole-face mask (reach 0): ≈ 0.6
