"""The faces → emoji sticker on a photo (docs/dtn-faces-emoji-photo.png).

    python scripts/dtn_faces_photo.py --photo astronaut.png --out docs/dtn-faces-emoji-photo.png \
        [--model PATH]

scikit-image's astronaut (``skimage/data/astronaut.png``; NASA, public domain) at 256 px,
a loose rectangle around the head as the selection, the real MTCNN face finder
(``python -m backend weights fetch mtcnn``) and the ``dtn`` filter's sticker path
(``find_faces``, ``face_stickers``, clipped to the selection): the photo left, the photo with
the sticker composited right. ``--model``: a run's ``model.pth`` instead of the built-in.
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

from backend.algorithms import nets
from backend.assets.nets import load_face_finder
from backend.dirs import weights_dir
from backend.filters.dtn import face_stickers, find_faces, load_builtin

BOX = (60, 0, 200, 130)
"""(x0, y0, x1, y1) of the loose selection around the astronaut's head at 256 px."""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photo", required=True, help="scikit-image's data/astronaut.png")
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", help="a DTN model.pth (default: the built-in faces-emoji)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rgb = np.asarray(Image.open(args.photo).convert("RGB"))
    photo = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255
    photo = F.interpolate(photo, size=(256, 256), mode="bilinear", antialias=True)
    if args.model:
        state = torch.load(args.model, map_location="cpu", weights_only=True)
        net = nets.build_transfer(nets.infer_config(state))
        net.load_state_dict({k: v.float() for k, v in state.items()})
        net = net.eval()
    else:
        net = load_builtin()
    found = find_faces(load_face_finder(weights_dir(), torch.device("cpu")), photo, BOX)
    if not found:
        print("error: no face found", file=sys.stderr)
        return 2
    with torch.inference_mode():
        colour, alpha = face_stickers(net, photo, [f.landmarks for f in found])
    x0, y0, x1, y1 = BOX
    inside = torch.zeros_like(alpha)
    inside[..., y0:y1, x0:x1] = 1.0
    alpha = alpha * inside
    out = photo * (1 - alpha) + colour * alpha
    sheet = torch.cat([photo, out], 3)[0].permute(1, 2, 0).clamp(0, 1).mul(255).round()
    Image.fromarray(sheet.byte().numpy().astype(np.uint8)).save(args.out)
    print(f"{len(found)} face(s); sheet written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
