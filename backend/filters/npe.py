"""Neural Photo Editor: the contextual paintbrush on faces (Brock et al., ICLR 2017).

The artist paints rough colour strokes on a transparent *paint layer* (alpha: where, colour:
what). The face in the selection is found and aligned by the face finder (or the selection's box
is taken as the face), encoded by the face model, and the latent is nudged so that the decoded
face agrees with the strokes; the change is blended in through the mask of how much the model's
output moved (:mod:`backend.algorithms.npe_paint`), upsampled and warped back. Outside the face's
frame and
the selection nothing changes.

Strokes accumulate through the state the client carries between runs
(:mod:`backend.algorithms.npe_state`):

    result = client.run("npe", photo, mask, {"paint": "paint", "steps": 4},
                        extra_layers={"paint": paint_layer}, state=previous.state)

``state=None`` (or b"") starts from the photo (reset); ``result.state`` continues, so the same
stroke sent twice moves further. A state from another model or another selection is not used
(the progress message says so) and garbage is refused with INVALID_ARGUMENT.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from backend.algorithms import npe_state
from backend.algorithms.faces import DEFAULT_TEMPLATE, in_selection
from backend.algorithms.nets.npe import NpeNet, build, infer_config
from backend.algorithms.npe_edit import edit_face
from backend.algorithms.npe_paint import BLENDS, REACH, SMOOTHING
from backend.assets.models import dir_flag, sha256_of, store_for
from backend.errors import Broken, Missing, ParamError
from backend.filters.base import (
    Filter,
    FilterInput,
    OutputLayer,
    Outputs,
    Step,
    StepCallback,
    register_filter,
)
from backend.params import LayerRef, param

BUILTIN = "genki64"
BUILTIN_FILE = Path(__file__).resolve().parents[1] / "assets" / "packs" / "npe" / "genki64.pt"
"""The default face model (64 px, trained on GENKI-4K; provenance in
backend/assets/packs/README.md)."""
BUILTIN_SHA256 = "4dc114f62043f7970dc9f9b5124863d1e02dc04a787643ff251c4027d7ccb8c3"
"""sha256 of :data:`BUILTIN_FILE`; loading refuses a file that does not match."""
TRAIN_COMMAND = "python -m backend train npe --images DIR --name NAME"
RESULT = "Contextual paintbrush"
PAD = 0.5
"""Edge padding (fraction of the crop's longer side) before detection: tight crops need context."""
PAD_BELOW = 512
"""Crops up to this side are padded before detection (larger ones have context enough)."""


@dataclass(frozen=True)
class _Points:
    """A found face's landmarks in crop pixels (what ``in_selection`` reads)."""

    landmarks: Tensor


@dataclass(frozen=True)
class NpeParams:
    paint: LayerRef | None = param(
        None,
        label="Paint layer",
        required=True,
        help="your strokes on a transparent layer: alpha is where, colour is what you want",
    )
    strength: float = param(
        1.0,
        label="Strength",
        min=0.0,
        max=5.0,
        step=0.1,
        help="how far each latent step moves the face toward your strokes",
    )
    steps: int = param(
        4,
        label="Steps",
        min=1,
        max=50,
        step=1,
        help="latent steps per run; strokes accumulate between runs (painting again moves further)",
    )
    smoothing: float = param(
        SMOOTHING,
        label="Smoothing",
        min=0.0,
        max=8.0,
        step=0.25,
        help="blur of the change mask (and, with the detail blend, of the change itself), in "
        "model pixels",
    )
    reach: float = param(
        REACH,
        label="Reach",
        min=0.0,
        max=1.0,
        step=0.05,
        help="how far from your strokes the face may change, as a share of the face's width "
        "(0: anywhere the model's output moved, as in the paper)",
    )
    blend: str = param(
        BLENDS[0],
        label="Blend",
        choices=BLENDS,
        help="detail: add the model's smoothed change to the photo (Y = X + M·blur(Δ), keeps "
        "the photo's detail); paper: Brock et al.'s Y = X̂ + M·Δ + (1 − M)·E",
    )
    align: bool = param(
        True,
        label="Find the face",
        help="find and align the face in the selection; off (or no face found): the "
        "selection's box is the face",
    )
    model: str = param(
        BUILTIN,
        label="Face model",
        dynamic="npe_models",
        help="the face model the brush edits through",
    )


def load_builtin(path: Path = BUILTIN_FILE) -> NpeNet:
    """The committed fp16 model as a float32 :class:`NpeNet` in eval mode."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = build(infer_config(state))
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return net.eval().requires_grad_(False)


def box_landmarks(box: tuple[int, int, int, int]) -> Tensor:
    """The template's five points in the square centred on ``box`` (the face when none is
    found): that square is then warped to the model's frame whole."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0, 1)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    corner = torch.tensor([cx - side / 2, cy - side / 2], dtype=torch.float64)
    return DEFAULT_TEMPLATE * side + corner


@register_filter
class ContextualPaintbrush(Filter):
    """Paint rough colour on a face; a face model turns the strokes into a plausible edit."""

    id, label, params = "npe", "Contextual paintbrush", NpeParams
    description = (
        "Neural Photo Editor (Brock et al. 2017): strokes on a paint layer nudge a face model's "
        "latent; the change is blended in where the model's output moved"
    )
    category = "Faces"
    margin = 32

    def __init__(self, ctx) -> None:  # type: ignore[no-untyped-def]
        super().__init__(ctx)
        self._builtin: tuple[NpeNet, bytes] | None = None
        self._lock = threading.Lock()

    def _installed(self) -> list[str]:
        return [e.name for e in store_for(self.ctx.models_dir).entries("npe")]

    def _names(self) -> list[str]:
        names = [BUILTIN] if BUILTIN_FILE.is_file() else []
        return names + [n for n in self._installed() if n not in names]

    def missing(self) -> list[Missing]:
        if self._names():
            return []
        return [Missing("an NPE face model", TRAIN_COMMAND + dir_flag(self.ctx.models_dir))]

    def dynamic_choices(self) -> Mapping[str, Sequence[str]]:
        return {"npe_models": self._names()}

    def network(self, name: str) -> tuple[NpeNet, bytes]:
        """(net on the device, 8-byte model tag for the state)."""
        if name == BUILTIN and BUILTIN_FILE.is_file():
            with self._lock:
                if self._builtin is None:
                    repair = "git checkout -- backend/assets/packs/npe"
                    digest = sha256_of(BUILTIN_FILE)
                    if digest != BUILTIN_SHA256:
                        raise Broken(f"the built-in face model {BUILTIN_FILE} has changed", repair)
                    try:
                        net = load_builtin()
                    except Exception as exc:
                        raise Broken(
                            f"the built-in face model {BUILTIN_FILE} is unreadable ({exc})", repair
                        ) from None
                    self._builtin = net, npe_state.model_tag(digest)
                net, tag = self._builtin
            return net.to(self.ctx.device), tag
        if name not in self._installed():
            raise ParamError(f"parameter 'model' = '{name}' is not an installed NPE face model")
        store = store_for(self.ctx.models_dir)
        _, net = store.load(name)
        assert isinstance(net, NpeNet)
        digest = store.entry(name).parts["main"]["sha256"]
        return net.to(self.ctx.device).eval().requires_grad_(False), npe_state.model_tag(digest)

    def _find_face(self, job: FilterInput, p: NpeParams) -> tuple[Tensor, bool, str]:
        """(landmarks (5, 2) in crop pixels, found, what was used) for a fresh start."""
        why = "face finding is off"
        if p.align:
            if self.ctx.face_finder_missing():
                why = "the face finder's weights are not installed (weights fetch mtcnn)"
            else:
                h, w = job.height, job.width
                pad = round(PAD * max(h, w)) if max(h, w) <= PAD_BELOW else 0
                image = F.pad(job.image, (pad,) * 4, mode="replicate") if pad else job.image
                shift = torch.tensor([pad, pad], dtype=torch.float64)
                found = self.ctx.face_finder().find(image)
                points = [f.landmarks.double() - shift for f in found]
                inside = in_selection([_Points(q) for q in points], job.mask)
                if inside:
                    return inside[0].landmarks, True, "face found and aligned"
                why = "no face found in the selection"
        return box_landmarks(job.box), False, f"{why}: the selection's box is the face"

    def run(self, job: FilterInput, p: NpeParams, on_step: StepCallback) -> Outputs:
        net, tag = self.network(p.model)
        zdim = net.cfg.zdim
        crop = (job.width, job.height)
        state = npe_state.decode(job.state)
        note = ""
        if state is not None and not state.fits(tag, crop, zdim):
            state, note = None, "the state is from another model or selection; "
        if state is None:
            landmarks, found, what = self._find_face(job, p)
            what = note + what + ", starting from the photo"
        else:
            landmarks, found = state.landmarks, state.found
            what = "continuing the strokes" + (" on the found face" if found else " in the box")
        on_step(Step(0, p.steps, "paint", what))
        paint = job.extra_in_crop(p.paint.name if p.paint else "paint")
        paint = torch.cat([paint[:, :3], paint[:, 3:] * job.mask], 1)

        def report(i: int, loss: float) -> None:
            on_step(Step(i, p.steps, "paint", f"{what}; stroke error {loss:.4f}"))

        z = state.z if state is not None else None
        edit = edit_face(
            net,
            job.image,
            paint,
            landmarks,
            z,
            p.steps,
            p.strength,
            p.smoothing,
            report,
            p.blend,
            p.reach,
        )
        out, z = edit.image, edit.z
        total = (state.steps if state is not None else 0) + p.steps
        new = npe_state.NpeState(tag, crop, landmarks, found, total, z.cpu())
        return Outputs([OutputLayer(RESULT, out)], new.encode())
