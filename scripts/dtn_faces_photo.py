"""The faces → emoji sticker on photos (docs/dtn-faces-emoji-photo.png).

    python scripts/dtn_faces_photo.py --photo astronaut.png --out docs/dtn-faces-emoji-photo.png \\
        [--model PATH] [--genki DIR] [--diagnose EMOJI_DIR]

Row 1: scikit-image's astronaut (``skimage/data/astronaut.png``; NASA, public domain) at 256 px
with a loose rectangle around the head as the selection. Rows 2–3: a smiling and a non-smiling
held-out GENKI-4K face pasted at 140–260 px on a textured 512² canvas with a loose selection, as
the DFI protocol builds them (``backend.evaluation.face_canvas.make_scene``, seed 0). Each row:
the selection, the sticker over it from G as trained (one aligned view, g's colour as it comes)
and the sticker as the ``dtn`` filter draws it (mean code over its views, chroma smoothed), all
through the real MTCNN face finder
(``python -m backend weights fetch mtcnn``), ``find_faces`` and ``face_stickers``, clipped to the
selection. ``--model``: a run's ``model.pth`` instead of the built-in.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from backend.algorithms.nets import dtn as nets
from backend.assets.nets import load_face_finder
from backend.dirs import weights_dir
from backend.evaluation.face_canvas import make_scene
from backend.evaluation.genki_split import split_files
from backend.filters.dtn import face_stickers, find_faces, load_builtin

BOX = (60, 0, 200, 130)
"""(x0, y0, x1, y1) of the loose selection around the astronaut's head at 256 px."""
PANEL = 256
AS_TRAINED = {"views": ((1.0, 0.0, 0.0, False),), "chroma_sigma": 0.0}
"""face_stickers' settings for G as trained: one aligned view, g's colour as it comes."""


def _mahalanobis(z: Tensor, ref: Tensor) -> Tensor:
    """Mahalanobis distance of codes ``z`` (N, C) to the codes ``ref`` (their mean and covariance,
    ridge 1e-3)."""
    cov = torch.cov(ref.T) + 1e-3 * torch.eye(ref.shape[1])
    d = z - ref.mean(0)
    return (d @ torch.linalg.inv(cov) * d).sum(1).sqrt()


@torch.inference_mode()
def diagnose(
    net, finder, photo: Tensor, emoji_dir: str, genki: str | None, strip: str | None = None
) -> None:
    """Print how far the astronaut's f code lies from the training faces' and the emoji's
    (nearest Euclidean distance), alone and averaged over the filter's views, beside the
    held-out GENKI faces' distances to their nearest training face, how many code dimensions lie
    outside the training faces' 1-99 % range and the Mahalanobis distance. ``strip``: a PNG of the
    filter's emoji (caricature, chroma smoothed) of the astronaut's 54-view mean code, the same
    code clamped to that range, and its six nearest training faces' own codes."""
    from backend.algorithms.faces import DEFAULT_TEMPLATE
    from backend.algorithms.faces.frame import to_frame
    from backend.filters.dtn import VIEWS, smooth_chroma, straight
    from backend.training.dtn.faces import load_emoji, load_faces

    size = net.cfg.size
    train, _, _ = load_faces(genki, size)
    held, _, _ = load_faces(genki, size, ("heldout",))
    emoji, _ = load_emoji(emoji_dir, size)

    def codes(x: Tensor) -> Tensor:
        return net.f(x * 2 - 1).flatten(1)

    z_train, z_emoji = codes(train.float() / 255), codes(emoji[:, :3].float() / 255)
    near = torch.cdist(codes(held.float() / 255), z_train).min(1).values
    pct = [round(float(v), 2) for v in torch.quantile(near, torch.tensor([0.5, 0.9, 0.99]))]
    print(f"held-out faces → nearest training face: median / 90 % / 99 % {pct}")
    lo, hi = torch.quantile(z_train, 0.01, dim=0), torch.quantile(z_train, 0.99, dim=0)
    per_face = ((z_train < lo) | (z_train > hi)).sum(1).float().mean()
    q = torch.tensor([0.5, 0.9, 0.99])
    m_train = _mahalanobis(z_train, z_train)
    (face,) = find_faces(finder, photo, BOX)
    for name, views in (("one view", AS_TRAINED["views"]), (f"{len(VIEWS)} views", VIEWS)):
        frames = []
        for zoom, dx, dy, mirror in views:
            template = (DEFAULT_TEMPLATE - 0.5) * zoom + 0.5 + torch.tensor([dx, dy])
            frame = to_frame(photo, face.landmarks, template, size)[0]
            frames.append(frame.flip(-1) if mirror else frame)
        z = codes(torch.cat(frames)).mean(0, keepdim=True)
        d_face = float(torch.cdist(z, z_train).min())
        d_emoji = float(torch.cdist(z, z_emoji).min())
        print(f"astronaut, {name}: nearest training face {d_face:.2f}, nearest emoji {d_emoji:.2f}")
        out = ((z < lo) | (z > hi)).sum()
        print(f"  code dims outside the training faces' 1-99 % range: {int(out)} of {z.shape[1]}")
        print(f"  Mahalanobis distance to the training faces {float(_mahalanobis(z, z_train)):.1f}")
    if strip:
        near = torch.cdist(z, z_train)[0].topk(6, largest=False).indices
        drawn = torch.cat([z, torch.maximum(torch.minimum(z, hi), lo), z_train[near]])
        rgb, a = straight(((net.g(net.express(drawn[..., None, None])) + 1) / 2).float())
        tiles = smooth_chroma(rgb, a) * a + (1 - a)
        tiles = F.interpolate(tiles, scale_factor=3, mode="nearest")
        row = torch.cat(list(tiles), 2).permute(1, 2, 0).mul(255).round().byte().numpy()
        Image.fromarray(row).save(strip)
    print(
        f"training faces: dims outside that range, mean {float(per_face):.2f}; Mahalanobis "
        f"median / 90 % / 99 % {[round(float(v), 1) for v in torch.quantile(m_train, q)]}"
    )


def _tensor(rgb: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255


def _row(net, finder, image: Tensor, box: tuple[int, int, int, int]) -> Tensor:
    """(3, PANEL, 3 * PANEL): the selection, the raw sticker over it, the filter's sticker."""
    found = find_faces(finder, image, box)
    if not found:
        raise SystemExit(f"error: no face found in the selection {box}")
    x0, y0, x1, y1 = box
    panels = [image[..., y0:y1, x0:x1]]
    for kw in (AS_TRAINED, {}):
        with torch.inference_mode():
            colour, alpha = face_stickers(net, image, [f.landmarks for f in found], **kw)
        out = image * (1 - alpha) + colour * alpha
        panels.append(out[..., y0:y1, x0:x1])
    side = max(y1 - y0, x1 - x0)
    size = (round(PANEL * (y1 - y0) / side), round(PANEL * (x1 - x0) / side))
    row = torch.ones(3, PANEL, 3 * PANEL)
    for i, p in enumerate(panels):
        p = F.interpolate(p, size=size, mode="bilinear", antialias=True)[0]
        row[:, : size[0], i * PANEL : i * PANEL + size[1]] = p
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photo", required=True, help="scikit-image's data/astronaut.png")
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", help="a DTN model.pth (default: the built-in faces-emoji)")
    ap.add_argument("--genki", help="GENKI-4K crops (default: $NLF_GENKI_DIR or ../shared/data)")
    ap.add_argument("--diagnose", metavar="EMOJI", help="also print code distances (emoji folder)")
    ap.add_argument("--neighbours", metavar="PNG", help="with --diagnose: the code-space strip")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    photo = _tensor(np.asarray(Image.open(args.photo).convert("RGB")))
    photo = F.interpolate(photo, size=(256, 256), mode="bilinear", antialias=True)
    if args.model:
        state = torch.load(args.model, map_location="cpu", weights_only=True)
        net = nets.build_transfer(nets.infer_config(state))
        net.load_state_dict({k: v.float() for k, v in state.items()})
        net = net.eval()
    else:
        net = load_builtin()
    finder = load_face_finder(weights_dir(), torch.device("cpu"))
    if args.diagnose:
        diagnose(net, finder, photo, args.diagnose, args.genki, args.neighbours)
    rows = [_row(net, finder, photo, BOX)]
    held = split_files(args.genki)["heldout"]
    rng = np.random.default_rng(0)
    for path in (held["smile"][0], held["non_smile"][0]):
        with Image.open(path) as img:
            scene = make_scene([np.asarray(img.convert("RGB"))], rng)
        rows.append(_row(net, finder, _tensor(scene.image), scene.selection))
    sheet = torch.cat(rows, 1).permute(1, 2, 0).clamp(0, 1).mul(255).round()
    Image.fromarray(sheet.byte().numpy().astype(np.uint8)).save(args.out)
    print(f"{len(rows)} rows written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
