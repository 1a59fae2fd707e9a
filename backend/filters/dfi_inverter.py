"""DFI by decoding: ``change = D(φ(x) + α·w) − D(φ(x))`` with a feed-forward inverter D.

The inverter (``backend.algorithms.nets.dfi_inverter``, trained by ``python -m backend train
dfi-inverter``) maps the backbone's maps of an aligned face back to the face. Instead of
optimising pixels until their features reach ``φ(x) + α·w`` (``dfi.reconstruct``), the edited maps
are decoded once; subtracting the decoding of the unedited maps cancels what the decoder cannot
reproduce (its blur), so only the attribute's change is added to the photo; where that change is
large, :func:`transfer` lets the result follow the decoder's target rather than overshoot it. The
change is then confined to the pack's attribute region and warped back, feathered, like the
optimiser's.

Inverter files: ``<attributes dir>/<backbone>/inverter.pth`` (a user's own, e.g. ``--out`` of the
train command) wins over the built-in ``backend/assets/packs/<backbone>/inverter.pth``, whose
sha256 must be :data:`BUILTIN_SHA256`. Loaded with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.nn import functional as F

from backend.algorithms.faces import frame as face_frame
from backend.algorithms.features import VGGFeatures
from backend.algorithms.nets.dfi_inverter import DfiInverter, load_inverter
from backend.assets import attributes
from backend.filters import dfi_mouth
from backend.filters.dfi_direction import luma_only, scaled_direction

FILE = "inverter.pth"
BUILTIN_DIR = attributes.BUILTIN_DIR
BUILTIN_SHA256 = {"vgg16-hed": "c9c5d7441160ae486c1d2c3ed1c0761c64713f333e31ece72671a4744028165b"}
"""sha256 of each committed ``packs/<backbone>/inverter.pth``; a file that differs is refused."""
TRAIN_COMMAND = (
    "python -m backend train dfi-inverter --images FACES_DIR "
    "--out ~/.local/share/neural-layer-filters/attributes/{backbone}/inverter.pth"
)


class InverterError(ValueError):
    """An inverter file that is unreadable, changed, or made for other maps."""


@dataclass(frozen=True)
class Inverter:
    net: DfiInverter
    path: Path
    sha256: str
    builtin: bool


def inverter_path(backbone: str, attributes_dir: Path | None) -> tuple[Path, bool] | None:
    """Where the inverter for ``backbone`` is (user folder first) and whether it is built in."""
    if attributes_dir is not None:
        user = Path(attributes_dir) / backbone / FILE
        if user.is_file():
            return user, False
    builtin = Path(BUILTIN_DIR) / backbone / FILE
    return (builtin, True) if builtin.is_file() else None


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load(path: Path, builtin: bool, backbone: str) -> Inverter:
    """Read, check and build an inverter (raises InverterError)."""
    digest = sha256_of(path)
    expected = BUILTIN_SHA256.get(backbone, "") if builtin else ""
    if builtin and digest != expected:
        raise InverterError(f"built-in inverter {path} changed (sha256 {digest} != {expected})")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(data, Mapping) or data.get("backbone") != backbone:
            raise InverterError(f"{path} is not an inverter for '{backbone}'")
        net = load_inverter(data["state"], data["config"])
    except InverterError:
        raise
    except Exception as exc:  # a truncated or foreign file
        raise InverterError(f"inverter {path} is unreadable: {exc}") from exc
    return Inverter(net, Path(path), digest, builtin)


def cached(store: dict[str, Inverter], backbone: str, attributes_dir: Path | None) -> Inverter:
    """The inverter for ``backbone`` from ``store`` (reloaded when its file changed); raises
    Missing when there is none and Broken when it cannot be used."""
    from backend.errors import Broken, Missing

    command = TRAIN_COMMAND.format(backbone=backbone)
    found = inverter_path(backbone, attributes_dir)
    if found is None:
        raise Missing(f"the DFI face inverter for '{backbone}' (or set method=optimise)", command)
    path, builtin = found
    hit = store.get(backbone)
    if hit is None or hit.path != path or hit.sha256 != sha256_of(path):
        try:
            hit = load(path, builtin, backbone)
        except InverterError as exc:
            raise Broken(str(exc), command) from None
        store[backbone] = hit
    return hit


def edited_maps(
    feats: Mapping[str, Tensor],
    pack: attributes.AttributePack,
    strength: float,
    layers: tuple[str, ...],
) -> dict[str, Tensor]:
    """``φ_l + α·w_l`` (chainer-dfi's scaling) on ``layers``, the other maps unchanged; clamped
    at 0, as post-ReLU maps are."""
    out = {}
    for k, f in feats.items():
        if k in layers:
            f = (f + strength * scaled_direction(pack.direction(k), f)).clamp_min(0.0)
        out[k] = f
    return out


@torch.no_grad()
def decode_pair(
    backbone: VGGFeatures,
    inverter: DfiInverter,
    pack: attributes.AttributePack,
    x: Tensor,
    strength: float,
    layers: tuple[str, ...] | None = None,
    feats: Mapping[str, Tensor] | None = None,
) -> tuple[Tensor, Tensor]:
    """(D(φ(x)), D(φ(x) + α·w)) for the aligned face ``x`` (1, 3, R, R); ``layers``: which maps
    are edited (default: every map the inverter reads); ``feats``: φ(x), if already computed."""
    names = list(inverter.cfg.layers)
    missing = [k for k in names if k not in pack.layers]
    if missing:
        raise InverterError(f"the '{pack.name}' pack has no {', '.join(missing)} direction")
    if feats is None:
        feats = backbone(x, names)
    edit = tuple(names) if layers is None else layers
    return inverter(feats), inverter(edited_maps(feats, pack, strength, edit))


def change_in_frame(
    backbone: VGGFeatures,
    inverter: DfiInverter,
    pack: attributes.AttributePack,
    x: Tensor,
    strength: float,
    layers: tuple[str, ...] | None = None,
) -> Tensor:
    """D(φ(x) + α·w) − D(φ(x)) for the aligned face ``x`` (1, 3, R, R)."""
    before, after = decode_pair(backbone, inverter, pack, x, strength, layers)
    return after - before


TRANSFERS = ("add", "damped")
DAMP_AT = 0.15
"""transfer=damped: where the decoder's brightness change reaches this, the photo's residual
x − D(φ(x)) is mostly replaced by the decoder's target."""


def _grey_mix(per_channel: Tensor, colour: float) -> Tensor:
    """``colour`` of a per-channel quantity plus the rest as its luma (0: grey, 1: as is)."""
    grey = luma_only(per_channel)
    return grey + colour * (per_channel - grey)


def transfer(x: Tensor, before: Tensor, after: Tensor, mode: str, colour: float) -> Tensor:
    """The edited face in the frame from the photo ``x`` and the decodings ``before`` = D(φ(x)),
    ``after`` = D(φ(x) + α·w); ``colour`` ∈ [0, 1]: how much of the change's colour is kept.

    add: x + (after − before), clipped (the first round's). damped: where the decoder's
    brightness change is large (|Δ| around :data:`DAMP_AT` and above) the photo's residual
    x − before — what the decoder did not reproduce there, e.g. the teeth being removed, or the
    photo being brighter than its decoding — fades out, so the result follows the decoder's
    target tone instead of overshooting it (clipped lips under new teeth, grey tooth remnants).
    """
    if mode == "add":  # the brightness of the clipped change (the final composite clips again)
        return x + _grey_mix((x + after - before).clamp(0.0, 1.0) - x, colour)
    if mode != "damped":
        raise ValueError(f"unknown transfer {mode!r} (one of {', '.join(TRANSFERS)})")
    size = (luma_only(after - before)[:, :1] / DAMP_AT) ** 2
    delta = after - before - (1.0 - torch.exp(-size)) * (x - before)
    return (x + _grey_mix(delta, colour)).clamp(0.0, 1.0)


NEUTRAL_SHARE = 0.5
"""How much of the decoder's overall tone change over the lower face is taken out of its
change (:func:`neutral_tone`; 0: none; docs/quality-dfi.md, round 3)."""
NEUTRAL_INSIDE = 0.5
"""The pixels whose attribute-region weight exceeds this are where tone and chroma are measured."""
NEUTRAL_EPS = 0.02
"""Keeps the brightness ratios of :func:`neutral_tone` finite in black pixels."""
CHROMA_FULL = 0.1
"""With keep colours on, the colour share is scaled by min(1, the photo's median chroma in the
attribute region / this) so a grey or faded photo gets (nearly) no colour; 0: off."""


def photo_chroma(x: Tensor, region: Tensor | None) -> float:
    """Median chroma |x − luma(x)| of the face ``x`` (1, 3, R, R) in the attribute region."""
    inside = (region if region is not None else torch.ones_like(x[:, :1])) > NEUTRAL_INSIDE
    if not bool(inside.any()):
        return 1.0
    return float((x - luma_only(x)).norm(dim=1, keepdim=True)[inside].median())


def neutral_tone(before: Tensor, after: Tensor, region: Tensor | None, share: float) -> Tensor:
    """``after`` divided by ``share`` (as an exponent) of the decoder's overall tone change: the
    per-channel median of ``after / before`` over the attribute region.

    The pack's direction also carries what else differs on average between its two folders, so
    D(φ + α·w) lightens and tints the whole lower face when adding a smile (a glow on dark faces,
    glaring teeth; the median change there was +0.04 to +0.30 on tuning faces) and darkens it a
    little when removing one; the median ignores the mouth, a minority of the region's pixels.
    A gain, not an offset: subtracting the median shift pushed dark mouth corners to black.
    """
    inside = (region if region is not None else torch.ones_like(before[:, :1])) > NEUTRAL_INSIDE
    if share == 0 or not bool(inside.any()):
        return after
    eps = NEUTRAL_EPS
    ratio = ((after + eps) / (before + eps)).flatten(2)[..., inside.flatten()]
    return (after + eps) / ratio.median(dim=-1).values[..., None, None] ** share - eps


def edit_aligned(
    backbone: VGGFeatures,
    inverter: DfiInverter,
    pack: attributes.AttributePack,
    image: Tensor,
    landmarks: Tensor,
    strength: float,
    resolution: int,
    keep_colours: bool,
    region: Tensor | None,
    layers: tuple[str, ...] | None = None,
    mode: str = "add",
    colour_kept: float = 0.0,
) -> Tensor:
    """The change (1, 3, H, W) in ``image``'s pixels for the face with ``landmarks`` (5, 2);
    ``mode``: see :func:`transfer`; ``colour_kept``: the share of the change's colour applied
    with keep colours on (off: all of it)."""
    if pack.frame is None:
        raise ValueError("the pack has no face frame")
    x, to_frame = face_frame.to_frame(image, landmarks, pack.frame, resolution)
    with torch.no_grad():
        feats = backbone(x, list(inverter.cfg.layers))
    before, after = decode_pair(backbone, inverter, pack, x, strength, layers, feats)
    if NEUTRAL_SHARE:
        reg = region if region is None else F.interpolate(region, size=after.shape[-2:])
        after = neutral_tone(before, after, reg, NEUTRAL_SHARE)
    if after.shape[-2:] != x.shape[-2:]:
        size = x.shape[-2:]
        before = F.interpolate(before, size=size, mode="bilinear", align_corners=False)
        after = F.interpolate(after, size=size, mode="bilinear", align_corners=False)
    colour = colour_kept if keep_colours else 1.0
    grey_factor = 1.0
    if keep_colours and CHROMA_FULL > 0:
        grey_factor = min(1.0, photo_chroma(x, region) / CHROMA_FULL)
    delta = transfer(x, before, after, mode, colour * grey_factor) - x
    share = dfi_mouth.fill_share(strength)
    fine = None
    if share > 0:
        corners = dfi_mouth.corners_in_frame(landmarks, to_frame.matrix, x.shape[-1])
        ellipse = dfi_mouth.mouth_mask(corners, x.shape[-1]).to(x)
        if strength < 0:  # as much as the face's maps say there is a smile to take out
            share *= dfi_mouth.evidence_share(dfi_mouth.smile_evidence(feats, pack, ellipse))
    if share > 0:
        mouth_colour = (dfi_mouth.COLOUR if keep_colours else 1.0) * grey_factor
        delta = dfi_mouth.fill(x, before, after, delta, ellipse, share, mouth_colour)
        if dfi_mouth.FINE > 0:
            mask = dfi_mouth.teeth_weight(x, before, ellipse) * share * dfi_mouth.FINE
            mask = mask * (1.0 if region is None else region)
            fine = dfi_mouth.fine_detail_out(image, x, mask, to_frame)
    delta = delta * (1.0 if region is None else region)
    change = face_frame.change_back(delta, to_frame, (image.shape[-2], image.shape[-1]))
    return change if fine is None else change + fine
