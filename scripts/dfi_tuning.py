"""The DFI tuning slice: PACK-part GENKI faces kept out of the built-in pack, for choosing settings.

The built-in ``smiling`` pack is built from the PACK part of ``backend/evaluation/genki_split.py``
minus
this slice (one file in eight of the PACK part, by another slice of the name's sha256), so
settings are chosen on faces that are neither in the pack, nor the judge's training images, nor
held-out::

    python scripts/dfi_tuning.py link /tmp/genki-pack      # PACK minus the tuning slice
    python -m backend attributes build smiling --with /tmp/genki-pack/with \\
        --without /tmp/genki-pack/without --resolution 128

GENKI-4K: "http://mplab.ucsd.edu, The MPLab GENKI-4K Dataset."
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from backend.evaluation import genki_split  # noqa: E402


def is_tuning(name: str) -> bool:
    """One PACK-part file in eight (by ``sha256(name)[24:32]``) is kept for tuning."""
    return (
        genki_split.part_of(name) == "pack"
        and int(hashlib.sha256(name.encode()).hexdigest()[24:32], 16) % 8 == 0
    )


def tuning_files(root: str | Path | None = None) -> dict[str, list[Path]]:
    """``{"smile"|"non_smile": paths}`` of the tuning slice."""
    pack = genki_split.split_files(root)["pack"]
    return {label: [p for p in files if is_tuning(p.name)] for label, files in pack.items()}


def link_pack(dest: Path, root: str | Path | None = None) -> dict[str, int]:
    """Symlink the PACK part minus the tuning slice into ``dest/with`` and ``dest/without``."""
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty; give a new folder")
    pack = genki_split.split_files(root)["pack"]
    counts = {}
    for label, sub in (("smile", "with"), ("non_smile", "without")):
        (dest / sub).mkdir(parents=True)
        chosen = [p for p in pack[label] if not is_tuning(p.name)]
        for path in chosen:
            (dest / sub / path.name).symlink_to(path.resolve())
        counts[sub] = len(chosen)
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    link = sub.add_parser("link", help="symlink PACK minus the tuning slice into DEST")
    link.add_argument("dest", type=Path)
    sub.add_parser("sizes", help="how many tuning faces there are")
    ap.add_argument("--root", help="GENKI-4K folder (default: $NLF_GENKI_DIR or ../shared/data)")
    args = ap.parse_args()
    if args.command == "link":
        counts = link_pack(args.dest, args.root)
        print(f"{args.dest}: with {counts['with']}, without {counts['without']}")
    else:
        print({k: len(v) for k, v in tuning_files(args.root).items()})


if __name__ == "__main__":
    main()
