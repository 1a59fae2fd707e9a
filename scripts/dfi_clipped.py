"""Count the pixels a DFI protocol run pushed to white or black (a sign of an overshooting edit).

Reads a work folder of ``scripts/dfi_protocol.py`` (``WORK/add``, ``WORK/remove``: each canvas
``N.png``, its mask ``N.mask.png`` and the output ``N.dfi.png``) and prints, per direction, how many
selected pixels have a channel at 255 (or 0) in the output that was not there in the input, in
total and per canvas.

    python scripts/dfi_clipped.py /tmp/nlf-dfi-protocol/inverter-v2 /tmp/nlf-dfi-protocol/run
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from backend.evaluation.face_canvas import newly_clipped  # noqa: E402


def clipped_in(canvas: Path) -> tuple[int, int]:
    """(pixels newly at 255, newly at 0) inside the selection of one protocol canvas."""
    before = np.asarray(Image.open(canvas).convert("RGB"))
    after = np.asarray(Image.open(canvas.with_suffix(".dfi.png")).convert("RGB"))
    mask = np.asarray(Image.open(canvas.with_suffix(".mask.png")).convert("L"))
    return newly_clipped(before, after, mask)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("work", nargs="+", type=Path, help="dfi_protocol.py work folders")
    args = ap.parse_args()
    print("| run | direction | canvases | pixels newly at 255 | per canvas | newly at 0 |")
    print("|---|---|---|---|---|---|")
    for work in args.work:
        for direction in ("add", "remove"):
            canvases = sorted(
                p
                for p in (work / direction).glob("*.png")
                if p.suffixes == [".png"] and p.with_suffix(".dfi.png").is_file()
            )
            if not canvases:
                continue
            counts = np.array([clipped_in(p) for p in canvases])
            white, black = counts.sum(0)
            n = len(canvases)
            print(f"| {work.name} | {direction} | {n} | {white} | {white / n:.0f} | {black} |")


if __name__ == "__main__":
    main()
