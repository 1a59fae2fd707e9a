"""Build the emoji target domain for DTN faces → emoji (issue: DTN faces → emoji).

    python scripts/build_emoji.py --out ~/.cache/nlf/data/emoji [--size 64] [--variants 8]

Draws every entry of ``backend.training.emoji.catalogue()`` (smileys with expressions; woman, man,
person,
girl, boy, older adults, beards, red / curly / white / bald / blond hair, each in the default yellow
and the five skin tones) from Debian's Noto Color Emoji font, ``--variants`` times each at a random
scale and shift, as RGBA PNGs (transparent around the emoji), plus ``manifest.csv``: file, code
points, Unicode names and the labels read off those names (kind, expression, tone, hair, age).
The same font, arguments and seed give the same files.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.training import emoji


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder to write (created)")
    ap.add_argument("--size", type=int, default=64, help="square side in pixels (default 64)")
    ap.add_argument("--variants", type=int, default=8, help="augmented copies per emoji")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--toned-smileys",
        action="store_true",
        help="also draw every smiley in the five skin tones (the faces → emoji DTN needs them)",
    )
    args = ap.parse_args(argv)
    font = emoji.font_path()
    if font is None:
        print(f"Noto Color Emoji not found; {emoji.INSTALL_HINT}", file=sys.stderr)
        return 2
    written, skipped = Counter(), []
    for entry, n in emoji.build(
        args.out, font, args.size, args.variants, args.seed, toned=args.toned_smileys
    ):
        if n:
            written[(entry.kind, entry.expression)] += n
        else:
            skipped.append(entry.name)
    for (kind, expression), n in sorted(written.items()):
        print(f"{kind:8s} {expression:12s} {n:6d} images")
    print(f"{sum(written.values())} images in {args.out} (manifest.csv); font {font}")
    if skipped:
        print(f"the font lacks {len(skipped)} sequences: {', '.join(skipped)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
