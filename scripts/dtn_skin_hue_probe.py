"""The built-in faces → emoji model as the filter draws it, with and without ``skin_hue``, on
the tuning split of scripts/dtn_faces_probe.py (the held-out faces are never loaded).

    python scripts/dtn_skin_hue_probe.py --judges /tmp/judges32.pth --strip strip-{on}.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from dtn_faces_probe import split

from backend.evaluation import faces_emoji_quality as q
from backend.filters import dtn
from backend.training.dtn import faces


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--judges", required=True, help="the protocol's judges file")
    ap.add_argument("--genki", help="GENKI-4K crops (default: $NLF_GENKI_DIR or ../shared/data)")
    ap.add_argument("--strip", help="PNG path of the tuning strip ({on}: 0 or 1)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    net, judges = dtn.load_builtin(), q.load_judges(args.judges)
    _, smile, _ = faces.load_faces(args.genki, 32)
    val, _ = split(len(smile))
    photos, smile = faces.load_faces(args.genki, 64)[0][val], smile[val]
    sticker = q.AsSticker(net).eval()
    for on in (False, True):
        dtn.SKIN_FIX = on
        with torch.no_grad():
            fig = q.evaluate(sticker, judges, photos, smile)
            print(json.dumps({"skin_hue": on} | {k: round(v, 4) for k, v in fig.items()}))
            if args.strip:
                pick = q.strip_indices(smile, photos)
                out = q.translate_all(sticker, photos[pick])
                q.strip(photos[pick], out).save(args.strip.format(on=int(on)))


if __name__ == "__main__":
    main()
