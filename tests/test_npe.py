"""The contextual paintbrush (``npe``): model, state, blend, and the filter over gRPC."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.algorithms import npe_state
from backend.algorithms.nets.npe import NpeConfig, NpeNet, infer_config
from backend.algorithms.npe_paint import (
    gaussian_blur,
    latent_steps,
    masked_blend,
    near_strokes,
    stroke_loss,
)
from backend.errors import BadState
from nlf_client import BackendError, Client, Layer, Progress
from tests.conftest import Backend
from tests.fakes import as_array, rect_mask

W, H = 72, 64
BOX = (12, 8, 60, 56)


class TestModel:
    @pytest.mark.parametrize("size", [16, 64, 128])
    def test_shapes_and_config_round_trip(self, size: int) -> None:
        cfg = NpeConfig(size=size, zdim=8, width=4)
        net = NpeNet(cfg).eval()
        x = torch.rand(2, 3, size, size) * 2 - 1
        assert net.encode(x).shape == (2, 8)
        assert net(x).shape == (2, 3, size, size)
        assert NpeConfig.from_dict(infer_config(net.state_dict())) == cfg

    def test_bad_size(self) -> None:
        with pytest.raises(ValueError):
            NpeConfig(size=48).levels  # noqa: B018

    def test_other_state_dicts_are_refused(self) -> None:
        with pytest.raises(ValueError):
            infer_config({"foo.weight": torch.zeros(3, 3)})


class TestState:
    def _state(self) -> npe_state.NpeState:
        z = torch.randn(1, 8)
        pts = torch.rand(5, 2, dtype=torch.float64) * 50
        return npe_state.NpeState(b"12345678", (70, 60), pts, True, 4, z)

    def test_round_trip(self) -> None:
        s = self._state()
        blob = s.encode()
        back = npe_state.decode(blob)
        assert back is not None
        assert back.model == s.model and back.crop == s.crop and back.found and back.steps == 4
        assert torch.allclose(back.z, s.z, atol=2e-3)
        assert torch.allclose(back.landmarks, s.landmarks, atol=1e-4)
        assert back.fits(b"12345678", (70, 60), 8)
        assert not back.fits(b"other123", (70, 60), 8)
        assert not back.fits(b"12345678", (71, 60), 8)

    def test_empty_is_none(self) -> None:
        assert npe_state.decode(b"") is None

    @pytest.mark.parametrize(
        "mutate",
        [
            lambda b: b"garbage",
            lambda b: b[:-1],
            lambda b: b + b"\x00\x00",
            lambda b: b[:3] + b"\x09" + b[4:],  # unknown version
            lambda b: b[:-2] + np.float16(np.inf).tobytes(),  # non-finite latent
        ],
    )
    def test_garbage_is_refused(self, mutate) -> None:
        with pytest.raises(BadState):
            npe_state.decode(mutate(self._state().encode()))


class TestPaint:
    def test_blend_is_the_photo_where_nothing_moved(self) -> None:
        x = torch.rand(1, 3, 16, 16) * 2 - 1
        recon = torch.rand(1, 3, 16, 16) * 2 - 1
        painted = recon.clone()
        painted[..., :4, :4] += 0.5
        y, m = masked_blend(x, recon, painted, smoothing=0.0, blend="paper")
        assert torch.equal(y[..., 8:, 8:], x[..., 8:, 8:])
        assert float(m[..., :4, :4].min()) == 1.0
        assert torch.allclose(y[..., :4, :4], painted[..., :4, :4])  # M = 1: the model's face
        d, m2 = masked_blend(x, recon, painted, smoothing=0.0, blend="detail")
        assert torch.equal(m2, m) and torch.equal(d[..., 8:, 8:], x[..., 8:, 8:])
        assert torch.allclose(d[..., :4, :4], x[..., :4, :4] + 0.5)  # the photo + the change
        with pytest.raises(ValueError):
            masked_blend(x, recon, painted, 0.0, blend="other")

    def test_near_strokes_limits_the_mask(self) -> None:
        alpha = torch.zeros(1, 1, 32, 32)
        alpha[..., 4:8, 4:10] = 1
        near = near_strokes(alpha, 0.25)  # full within 4 px of the stroke, 0 beyond ~12 px
        assert float(near[..., 2:10, 2:12].min()) == 1.0
        assert float(near[..., 20:, :].max()) == 0.0 and float(near[..., :, 24:].max()) == 0.0
        assert torch.equal(near_strokes(alpha, 0.0), torch.ones_like(alpha))
        x = torch.zeros(1, 3, 32, 32)
        painted = torch.full((1, 3, 32, 32), 0.5)  # the model moved everywhere
        for blend in ("detail", "paper"):
            y, m = masked_blend(x, x, painted, 1.0, blend, near)
            assert float(m[..., 4:8, 4:10].min()) > 0.999 and float(m[..., 20:, :].max()) == 0
            assert torch.equal(y[..., 20:, :], x[..., 20:, :])

    def test_blur_keeps_mass_and_range(self) -> None:
        m = torch.zeros(1, 1, 16, 16)
        m[..., 8, 8] = 1
        b = gaussian_blur(m, 1.5)
        assert abs(float(b.sum()) - 1.0) < 1e-5 and float(b.max()) < 1

    def test_latent_steps_reduce_the_stroke_error(self) -> None:
        torch.manual_seed(0)
        net = NpeNet(NpeConfig(16, 8, 4)).eval()
        z = torch.randn(1, 8)
        colour = torch.full((1, 3, 16, 16), 0.8)
        alpha = torch.zeros(1, 1, 16, 16)
        alpha[..., 4:12, 4:12] = 1
        before = float(stroke_loss(net.decode(z), colour, alpha).detach())
        moved = latent_steps(net, z, colour, alpha, steps=6, strength=0.5)
        assert float(stroke_loss(net.decode(moved), colour, alpha).detach()) < before
        assert torch.equal(latent_steps(net, z, colour, alpha * 0, 6, 1.0), z)


def _photo(flat: bool = False) -> Layer:
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:H, 0:W]
    base = np.stack([xx / W, yy / H, 0.5 + 0 * xx], -1) * 255
    noise = 0 if flat else rng.normal(0, 30, (H, W, 3))
    rgb = np.full((H, W, 3), 128.0) if flat else base + noise
    arr = np.concatenate([np.clip(rgb, 0, 255), np.full((H, W, 1), 255.0)], -1)
    return Layer(arr.astype(np.uint8).tobytes(), W, H)


def _paint(colour=(20, 20, 20), rect=(24, 14, 48, 26), x: int = 0, y: int = 0) -> Layer:
    """A transparent layer with one opaque stroke (a rectangle) of ``colour``."""
    arr = np.zeros((H, W, 4), np.uint8)
    x0, y0, x1, y1 = rect
    arr[y0:y1, x0:x1, :3] = colour
    arr[y0:y1, x0:x1, 3] = 255
    return Layer(arr.tobytes(), W, H, x=x, y=y)


def _run(client: Client, backend: Backend, state=None, paint=None, photo=None, **params):
    values = {**backend.overrides["npe"], **params}
    progress: list[Progress] = []
    result = client.run(
        "npe",
        photo or _photo(),
        rect_mask(W, H, *BOX),
        values,
        {"paint": paint or _paint()},
        on_progress=progress.append,
        state=state,
    )
    return result, " | ".join(p.message for p in progress)


def _under_stroke(result, rect=(24, 14, 48, 26)) -> np.ndarray:
    x0, y0, x1, y1 = rect
    return as_array(result.layers[0])[y0:y1, x0:x1, :3].astype(float)


class TestFilterOverGrpc:
    def test_one_layer_state_and_outside_identical(
        self, live_server: Backend, client: Client
    ) -> None:
        result, said = _run(client, live_server)
        assert len(result.layers) == 1 and result.layers[0].name == "Contextual paintbrush"
        src, out = as_array(_photo()), as_array(result.layers[0])
        inside = np.zeros((H, W), bool)
        inside[BOX[1] : BOX[3], BOX[0] : BOX[2]] = True
        assert np.array_equal(out[~inside], src[~inside])
        assert not np.array_equal(out[inside], src[inside])
        state = npe_state.decode(result.state)
        assert state is not None and state.steps == 2 and state.found
        assert "face found" in said

    def test_painting_twice_moves_further_and_reset_starts_over(
        self, live_server: Backend, client: Client
    ) -> None:
        src = as_array(_photo())[14:26, 24:48, :3].astype(float)
        first, _ = _run(client, live_server)
        second, said = _run(client, live_server, state=first.state)
        assert "continuing" in said
        moved1 = np.abs(_under_stroke(first) - src).mean()
        moved2 = np.abs(_under_stroke(second) - src).mean()
        assert moved2 > moved1 > 0
        assert npe_state.decode(second.state).steps == 4
        reset, _ = _run(client, live_server, state=None)
        assert reset.layers[0].pixels == first.layers[0].pixels
        assert reset.state == first.state

    def test_no_face_uses_the_selection_box(self, live_server: Backend, client: Client) -> None:
        result, said = _run(client, live_server, photo=_photo(flat=True))
        assert "the selection's box is the face" in said
        assert not npe_state.decode(result.state).found
        assert np.abs(_under_stroke(result) - 128).mean() > 0

    def test_align_off_uses_the_box(self, live_server: Backend, client: Client) -> None:
        _, said = _run(client, live_server, align=False)
        assert "face finding is off" in said

    def test_bad_state_is_invalid_argument(self, live_server: Backend, client: Client) -> None:
        with pytest.raises(BackendError) as err:
            _run(client, live_server, state=b"NPE\x01" + b"\x00" * 20)
        assert err.value.code == "INVALID_ARGUMENT" and "state" in err.value.message

    def test_state_of_another_selection_starts_from_the_photo(
        self, live_server: Backend, client: Client
    ) -> None:
        first, _ = _run(client, live_server)
        blob = npe_state.decode(first.state)
        other = npe_state.NpeState(blob.model, (7, 7), blob.landmarks, True, 2, blob.z).encode()
        again, said = _run(client, live_server, state=other)
        assert "another model or selection" in said
        assert again.layers[0].pixels == first.layers[0].pixels

    def test_paint_layer_placed_by_document_offset(
        self, live_server: Backend, client: Client
    ) -> None:
        """A paint layer offset by (5, 3) in the document paints 5 px right, 3 px lower."""
        here, _ = _run(client, live_server, paint=_paint(rect=(29, 17, 53, 29)))
        shifted, _ = _run(client, live_server, paint=_paint(x=5, y=3))
        assert here.layers[0].pixels == shifted.layers[0].pixels

    def test_the_change_stays_near_the_stroke(self, live_server: Backend, client: Client) -> None:
        """``reach`` keeps the change near the stroke; at 0 (the paper's mask) the tiny random
        model changes the whole face box, so this test can tell the two apart."""
        stroke = (30, 16, 38, 22)
        inside = np.zeros((H, W), bool)
        inside[BOX[1] : BOX[3], BOX[0] : BOX[2]] = True
        far = inside.copy()
        far[stroke[1] - 10 : stroke[3] + 10, stroke[0] - 10 : stroke[2] + 10] = False
        src = as_array(_photo())[..., :3].astype(float)
        share = {}
        for reach in (0.1, 0.0):  # the box (48 px) is the face: 0.1 of it is ~5 px
            paint = _paint(rect=stroke)
            result, _ = _run(client, live_server, paint=paint, reach=reach, align=False)
            change = np.abs(as_array(result.layers[0])[..., :3] - src).sum(-1)
            share[reach] = change[far].sum() / change.sum()
        assert share[0.1] == 0.0, share
        assert share[0.0] > 0.3, share

    def test_no_paint_changes_nothing(self, live_server: Backend, client: Client) -> None:
        empty = Layer(bytes(W * H * 4), W, H)
        result, _ = _run(client, live_server, paint=empty)
        assert result.layers[0].pixels == _photo().pixels
