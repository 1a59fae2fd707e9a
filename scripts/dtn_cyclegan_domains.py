"""The faces → emoji domains as plain RGB folders for ``python -m backend train cyclegan``.

    python scripts/dtn_cyclegan_domains.py --emoji ~/.cache/nlf/data/emoji --out DIR

Writes DIR/faces/ (the GENKI-4K training parts ``pack`` + ``judge`` at --size px; the ``heldout``
part is never written, so the protocol's faces stay unseen) and DIR/emoji/ (the DTN's target
set: every emoji face but the "other" smileys, colour composited over mid grey as the DTN sees
it, at --size px). The CycleGAN baseline of docs/quality-dtn.md trains on these.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image

from backend.training.dtn import faces


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--emoji", required=True, help="folder of scripts/build_emoji.py")
    ap.add_argument("--genki", help="GENKI-4K crops (default: $NLF_GENKI_DIR or ../shared/data)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=32)
    args = ap.parse_args(argv)
    out = Path(args.out)
    for name, images in (
        ("faces", faces.load_faces(args.genki, args.size)[0]),
        ("emoji", faces.load_emoji(args.emoji, args.size)[0][:, :3]),
    ):
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, x in enumerate(images):
            Image.fromarray(x.permute(1, 2, 0).numpy()).save(folder / f"{i:05d}.png")
        print(f"{folder}: {len(images)} images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
