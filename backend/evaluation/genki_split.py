"""The fixed three-way split of the GENKI-4K training crops (smile/ and non_smile/, 64x64).

Every file belongs to exactly one part, decided by the sha256 of its file name alone, so the
split is the same on every machine and does not depend on which other files are present:

- ``heldout`` (≈ 20 %): ``int(sha256(name)[:8], 16) % 5 == 0`` — evaluation only, never used to
  build a pack, train a judge or tune anything. (It is the "validation" split the project used
  before, so older figures stay comparable.)
- ``pack`` (≈ 27 %): of the rest, ``int(sha256(name)[8:16], 16) % 3 == 0`` — the images the
  built-in ``smiling`` attribute pack may be built from.
- ``judge`` (≈ 53 %): everything else — the independent smile judge's training images
  (``scripts/smile_judge.py``).

GENKI-4K: "http://mplab.ucsd.edu, The MPLab GENKI-4K Dataset."

Materialise a part as the ``--with``/``--without`` folders of ``attributes build`` (symlinks into
the data folder, nothing copied)::

    python -m backend.evaluation.genki_split link pack /tmp/genki-pack
    python -m backend attributes build smiling --with /tmp/genki-pack/with \\
        --without /tmp/genki-pack/without
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path

PARTS = ("pack", "judge", "heldout")
LABELS = ("smile", "non_smile")
"""GENKI-4K's two folders: smiling faces and faces that are not smiling."""
DEFAULT_ROOT = Path(__file__).resolve().parents[3] / "shared" / "data" / "genki4k-train"
"""``../shared/data/genki4k-train`` next to the checkout; ``$NLF_GENKI_DIR`` overrides it."""
SUFFIX = ".jpg"


def genki_root(root: str | Path | None = None) -> Path:
    """The GENKI-4K crops folder: ``root``, else ``$NLF_GENKI_DIR``, else :data:`DEFAULT_ROOT`."""
    return Path(root or os.environ.get("NLF_GENKI_DIR") or DEFAULT_ROOT)


def part_of(name: str) -> str:
    """The part (``"pack"``, ``"judge"`` or ``"heldout"``) a file name belongs to."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    if int(digest[:8], 16) % 5 == 0:
        return "heldout"
    return "pack" if int(digest[8:16], 16) % 3 == 0 else "judge"


def split_names(names: list[str]) -> dict[str, list[str]]:
    """``{part: sorted names}`` for the given file names (every part present, maybe empty)."""
    out: dict[str, list[str]] = {p: [] for p in PARTS}
    for name in sorted(names):
        out[part_of(name)].append(name)
    return out


def split_files(root: str | Path | None = None) -> dict[str, dict[str, list[Path]]]:
    """``{part: {"smile"|"non_smile": sorted paths}}`` of the GENKI-4K crops folder."""
    folder = genki_root(root)
    missing = [label for label in LABELS if not (folder / label).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"GENKI-4K crops not found at {folder} (no {', '.join(missing)}/ folder); "
            "set NLF_GENKI_DIR to the folder holding smile/ and non_smile/"
        )
    out: dict[str, dict[str, list[Path]]] = {p: {} for p in PARTS}
    for label in LABELS:
        names = [p.name for p in (folder / label).iterdir() if p.suffix.lower() == SUFFIX]
        for part, chosen in split_names(names).items():
            out[part][label] = [folder / label / n for n in chosen]
    return out


def link_part(part: str, dest: Path, root: str | Path | None = None) -> dict[str, int]:
    """Symlink one part's files into ``dest/with`` (smile) and ``dest/without`` (non_smile).

    ``dest`` must not exist yet or be empty, so a stale folder never mixes parts.
    Returns ``{"with": n, "without": m}``.
    """
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; one of {', '.join(PARTS)}")
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty; give a new folder")
    files = split_files(root)[part]
    counts = {}
    for label, sub in (("smile", "with"), ("non_smile", "without")):
        (dest / sub).mkdir(parents=True)
        for path in files[label]:
            (dest / sub / path.name).symlink_to(path.resolve())
        counts[sub] = len(files[label])
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="The fixed GENKI-4K split (pack / judge / heldout).")
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("sizes", help="print how many files each part holds")
    link = sub.add_parser("link", help="symlink a part into DEST/with and DEST/without")
    link.add_argument("part", choices=PARTS)
    link.add_argument("dest", type=Path)
    ap.add_argument("--root", help="GENKI-4K folder (default: $NLF_GENKI_DIR or ../shared/data)")
    args = ap.parse_args(argv)
    if args.command == "sizes":
        for part, by_label in split_files(args.root).items():
            print(f"{part:8} " + "  ".join(f"{k} {len(v)}" for k, v in by_label.items()))
    else:
        counts = link_part(args.part, args.dest, args.root)
        print(f"{args.dest}: with {counts['with']}, without {counts['without']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
