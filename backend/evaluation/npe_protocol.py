"""The contextual paintbrush's quality protocol on held-out GENKI-4K faces (docs/quality-npe.md).

Each held-out 64 px crop (``backend.evaluation.genki_split``: never used for training) is enlarged
to a
``side``² layer, the whole layer is selected (a loose selection: the face finder must find the
face) and one stroke of a given colour is painted over a region, as fractions of the side:

- ``hair``: darker, a dark-brown band across the top of the head;
- ``skin``: lighter, two patches on the cheeks, each face's own cheek colour + 50;
- ``background``: a blue band down the left edge.

The ``npe`` filter runs through the real job path (``backend.serving.jobs.execute_job``) once, and
once
more with the returned state (the same stroke painted twice). Measured per stroke:

- ``moved``: 1 − d_after / d_before, d = distance (RGB, 0–255) between the mean colour under the
  stroke and the stroke colour: 0 = no change, 1 = the stroke colour reached;
- ``psnr_out``: PSNR (dB) against the input outside the stroke dilated by ``dilate`` of the side
  (over many faces: the PSNR of their mean squared error, so one unchanged face is not ∞);
- ``spread``: the share of the change (Σ |result − input| over pixels and channels) that lies
  outside that dilated stroke: 0 = all of it near the stroke; a change spread evenly over a
  face frame covering the layer is ≈ 0.8 for the hair band;
- ``texture``: how much of the photo's own detail (its high-pass) is still under the stroke: the
  projection <hp(result), hp(input)> / <hp(input), hp(input)> (1 = kept, 0 = gone; noise a model
  adds does not count).

The naive alternative alpha-blends the stroke onto the photo: at alpha 1 it reaches the colour
(moved 1) and keeps no texture; blended at the alpha that moves the mean colour as far as the
model did, its texture ratio is exactly 1 − moved (a flat colour scales the detail by 1 − α).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from backend.assets.attributes import read_image
from backend.filters.base import Filter
from backend.serving.imaging import WireImage
from backend.serving.jobs import Job, execute_job

STROKES = ("hair", "skin", "background")


@dataclass(frozen=True)
class Case:
    """One face with one stroke: the layer (H, W, 3) u8, the stroke's alpha (H, W) and colour."""

    name: str
    stroke: str
    photo: np.ndarray
    alpha: np.ndarray
    colour: tuple[int, int, int]


def _ellipse(side: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    yy, xx = (np.mgrid[0:side, 0:side] + 0.5) / side
    return ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1


def _band(side: int, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    out = np.zeros((side, side), bool)
    out[round(y0 * side) : round(y1 * side), round(x0 * side) : round(x1 * side)] = True
    return out


def stroke_case(name: str, photo: np.ndarray, stroke: str) -> Case:
    """The stroke ``stroke`` on ``photo`` (side × side × 3 u8)."""
    side = photo.shape[0]
    if stroke == "hair":
        where, colour = _band(side, 0.30, 0.02, 0.70, 0.12), (35, 25, 20)
    elif stroke == "skin":
        where = _ellipse(side, 0.32, 0.60, 0.07, 0.05) | _ellipse(side, 0.68, 0.60, 0.07, 0.05)
        mean = photo[where].reshape(-1, 3).mean(0)
        colour = tuple(int(v) for v in np.clip(mean + 50, 0, 255))
    elif stroke == "background":
        where, colour = _band(side, 0.0, 0.25, 0.09, 0.75), (70, 100, 190)
    else:
        raise ValueError(f"unknown stroke {stroke!r}")
    return Case(name, stroke, photo, where.astype(np.float32), colour)  # type: ignore[arg-type]


def load_faces(paths: Sequence[Path], side: int) -> list[tuple[str, np.ndarray]]:
    """Each crop enlarged (bicubic) to side × side, as u8 RGB."""
    out = []
    for path in paths:
        img = read_image(path)
        big = F.interpolate(img, size=(side, side), mode="bicubic", align_corners=False)
        arr = (big.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        out.append((path.name, arr))
    return out


def _wire(rgb: np.ndarray, alpha: np.ndarray | None = None, name: str = "") -> WireImage:
    a = np.full(rgb.shape[:2], 255, np.uint8) if alpha is None else alpha
    rgba = np.concatenate([rgb, a[..., None]], -1).astype(np.uint8)
    return WireImage(rgb.shape[1], rgb.shape[0], "u8", rgba.tobytes(), name=name)


def run_case(
    flt: Filter, case: Case, params: dict, state: bytes = b""
) -> tuple[np.ndarray, bytes, str]:
    """The filter on one case: (result RGB u8, state, progress messages joined)."""
    paint_rgb = np.broadcast_to(np.array(case.colour, np.uint8), case.photo.shape).copy()
    paint = _wire(paint_rgb, (case.alpha * 255).astype(np.uint8), "paint")
    job = Job("npe", _wire(case.photo), None, params, {"paint": paint}, state=state)
    said: list[str] = []
    done = execute_job(flt, job, lambda s: said.append(s.message))
    out = np.frombuffer(done.layers[0].pixels, np.uint8).reshape(case.photo.shape[:2] + (4,))
    return out[..., :3].copy(), done.state, " | ".join(m for m in said if m)


def naive(case: Case, alpha: float = 1.0) -> np.ndarray:
    """The stroke alpha-blended onto the photo (its alpha × ``alpha``)."""
    a = case.alpha[..., None] * alpha
    return (case.photo * (1 - a) + np.array(case.colour) * a).round().astype(np.uint8)


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    t = torch.from_numpy(mask.astype(np.float32))[None, None]
    return F.max_pool2d(t, 2 * radius + 1, 1, radius)[0, 0].numpy() > 0


def _highpass(rgb: np.ndarray) -> np.ndarray:
    t = torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)[None]
    blur = F.avg_pool2d(F.pad(t, (2, 2, 2, 2), mode="replicate"), 5, 1)
    return (t - blur)[0].permute(1, 2, 0).numpy()


def measure(case: Case, result: np.ndarray, dilate: float = 0.1) -> dict[str, float]:
    """``moved``, ``psnr_out`` and ``texture`` of ``result`` for ``case`` (module docstring)."""
    where = case.alpha > 0.5
    target = np.array(case.colour, np.float64)
    before = np.linalg.norm(case.photo[where].mean(0) - target)
    after = np.linalg.norm(result[where].mean(0) - target)
    outside = ~_dilate(where, max(1, round(dilate * case.photo.shape[0])))
    diff = result[outside].astype(np.float64) - case.photo[outside]
    mse = float((diff**2).mean()) if diff.size else 0.0
    change = np.abs(result.astype(np.float64) - case.photo).sum(-1)
    spread = float(change[outside].sum() / max(float(change.sum()), 1e-9))
    hp_in, hp_out = _highpass(case.photo)[where], _highpass(result)[where]
    texture = float((hp_in * hp_out).sum() / max(float((hp_in**2).sum()), 1e-6))
    return {
        "moved": float(1 - after / max(before, 1e-6)),
        "psnr_out": psnr(mse),
        "mse_out": mse,
        "spread": spread,
        "texture": texture,
    }


def psnr(mse: float) -> float:
    """PSNR (dB) of a mean squared error in u8 units."""
    return math.inf if mse <= 0 else 10 * math.log10(255.0**2 / mse)


def protocol(
    flt: Filter,
    faces: Sequence[tuple[str, np.ndarray]],
    params: dict,
    on_case: Callable[[Case, dict], None] | None = None,
) -> dict[str, dict[str, float]]:
    """Every face × every stroke, once and painted twice; mean figures per stroke and run."""
    rows: dict[str, list[dict[str, float]]] = {}
    for name, photo in faces:
        for stroke in STROKES:
            case = stroke_case(name, photo, stroke)
            once, state, said = run_case(flt, case, params)
            twice, _, _ = run_case(flt, case, params, state)
            found = 1.0 if "face found" in said else 0.0
            m1, m2 = measure(case, once), measure(case, twice)
            rec = {
                **{f"{k}_1": v for k, v in m1.items()},
                **{f"{k}_2": v for k, v in m2.items()},
                "found": found,
                "naive_texture_at_same_move": 1 - m1["moved"],
            }
            rows.setdefault(stroke, []).append(rec)
            if on_case is not None:
                on_case(case, {"once": once, "twice": twice, "state": state, **rec})
    out = {s: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} for s, rs in rows.items()}
    for figures in out.values():
        for run in ("1", "2"):
            figures[f"psnr_out_{run}"] = psnr(figures[f"mse_out_{run}"])
    return out


def blend_mask(flt, case: Case, params: dict, state: bytes) -> np.ndarray:
    """The blend mask M of the first run of ``case`` laid over the picture, (H, W) in [0, 1]
    (the edit is redone outside the job path with the frame that run's ``state`` recorded)."""
    from backend.algorithms import npe_state
    from backend.algorithms.faces import DEFAULT_TEMPLATE, estimate_similarity
    from backend.algorithms.faces.frame import change_back
    from backend.algorithms.npe_edit import edit_face
    from backend.algorithms.npe_paint import REACH, SMOOTHING

    net, _ = flt.network(params.get("model", "genki64"))
    decoded = npe_state.decode(state)
    assert decoded is not None
    image = torch.from_numpy(case.photo).permute(2, 0, 1)[None].float() / 255
    colour = torch.tensor(case.colour, dtype=torch.float32).view(1, 3, 1, 1) / 255
    alpha = torch.from_numpy(case.alpha)[None, None]
    paint = torch.cat([colour.expand_as(image), alpha], 1)
    steps, strength = int(params.get("steps", 4)), float(params.get("strength", 1.0))
    smoothing, blend = params.get("smoothing", SMOOTHING), params.get("blend", "detail")
    reach = float(params.get("reach", REACH))
    edit = edit_face(
        net, image, paint, decoded.landmarks, None, steps, strength, smoothing, None, blend, reach
    )
    tf = estimate_similarity(decoded.landmarks.double(), DEFAULT_TEMPLATE)
    back = change_back(edit.mask, tf, case.photo.shape[:2], feather=0.0)
    return back[0, 0].clamp(0, 1).numpy()


def strip(rows: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
    """Rows of equal-size RGB (or grey (H, W) in [0, 1]) tiles as one image, 2 px gaps."""

    def rgb(t: np.ndarray) -> np.ndarray:
        return t if t.ndim == 3 else np.repeat((t[..., None] * 255).astype(np.uint8), 3, -1)

    tiles = [[rgb(t) for t in r] for r in rows]
    h, w = tiles[0][0].shape[:2]
    gap = 2
    out = np.full((len(tiles) * (h + gap) - gap, len(tiles[0]) * (w + gap) - gap, 3), 255, np.uint8)
    for i, r in enumerate(tiles):
        for j, t in enumerate(r):
            out[i * (h + gap) : i * (h + gap) + h, j * (w + gap) : j * (w + gap) + w] = t
    return out
