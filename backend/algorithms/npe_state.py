"""The ``npe`` filter's state between brush strokes: a small, versioned, validated blob.

The client carries it opaquely (``RunHeader.state`` → ``Done.state``; ``nlf_client``:
``Client.run(..., state=result.state)``), so the filter stays pure: state in, state out.

Layout (little-endian, version 1, 4 + 8 + 8 + 40 + 4 + 2 + 2·zdim bytes; 196 for zdim 64)::

    b"NPE" version:u8                       magic and version
    model:8 bytes                           first 8 bytes of the model's sha256
    crop_w:u32 crop_h:u32                   the crop it was made on (the selection + margin)
    landmarks: 10 × f32                     the face frame's five points in crop pixels
    found:u8 pad:u8 steps:u16               face found (1) or selection box (0); steps so far
    zdim:u16, z: zdim × f16                 the latent

Unreadable bytes raise :class:`~backend.errors.BadState` (INVALID_ARGUMENT). A well-formed
state made for another model or another selection is *stale*: :func:`decode` returns it and
:meth:`NpeState.fits` says whether it may be used (the filter then starts from the photo).
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass

import torch
from torch import Tensor

from backend.errors import BadState

MAGIC = b"NPE"
VERSION = 1
_HEAD = struct.Struct("<3sB8sII10fBBHH")
MAX_ZDIM = 1024


def model_tag(digest_hex: str) -> bytes:
    """The 8-byte model tag of a sha256 hex digest (or of any text naming the model)."""
    try:
        raw = bytes.fromhex(digest_hex)
    except ValueError:
        raw = b""
    if len(raw) < 8:
        raw = hashlib.sha256(digest_hex.encode()).digest()
    return raw[:8]


@dataclass(frozen=True)
class NpeState:
    """A decoded state: the latent ``z`` (1, zdim) float32 and the face frame it belongs to."""

    model: bytes
    crop: tuple[int, int]
    landmarks: Tensor
    """(5, 2) float64 in crop pixels."""
    found: bool
    steps: int
    z: Tensor

    def fits(self, model: bytes, crop: tuple[int, int], zdim: int) -> bool:
        """True when this state was made by ``model`` on a crop of this size."""
        return self.model == model and self.crop == crop and self.z.shape[-1] == zdim

    def encode(self) -> bytes:
        pts = [float(v) for v in self.landmarks.reshape(-1).tolist()]
        zdim = int(self.z.shape[-1])
        head = _HEAD.pack(
            MAGIC,
            VERSION,
            self.model,
            self.crop[0],
            self.crop[1],
            *pts,
            int(self.found),
            0,
            min(self.steps, 0xFFFF),
            zdim,
        )
        z = self.z.detach().reshape(-1).to(torch.float16).cpu().numpy().tobytes()
        return head + z


def decode(blob: bytes) -> NpeState | None:
    """The state in ``blob`` (None when empty); raises BadState when it is not one."""
    if not blob:
        return None
    hint = "; send the state of the last npe result, or none to start from the photo"
    if len(blob) < _HEAD.size or blob[:3] != MAGIC:
        raise BadState("the request's state is not an npe state" + hint)
    fields = _HEAD.unpack_from(blob)
    version, model, cw, ch = fields[1:5]
    if version != VERSION:
        raise BadState(f"the request's state has version {version}, this server reads {VERSION}")
    pts = fields[5:15]
    found, _, steps, zdim = fields[15:19]
    if not 0 < zdim <= MAX_ZDIM or len(blob) != _HEAD.size + 2 * zdim:
        raise BadState(f"the request's state is {len(blob)} bytes, which does not fit" + hint)
    if not all(math.isfinite(v) for v in pts) or found > 1 or not (cw > 0 and ch > 0):
        raise BadState("the request's state holds an impossible face frame" + hint)
    z = torch.frombuffer(bytearray(blob[_HEAD.size :]), dtype=torch.float16).float()[None]
    if not torch.isfinite(z).all():
        raise BadState("the request's state holds a non-finite latent" + hint)
    landmarks = torch.tensor(pts, dtype=torch.float64).reshape(5, 2)
    return NpeState(model, (cw, ch), landmarks, bool(found), steps, z)
