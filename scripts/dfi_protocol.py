"""The DFI quality protocol: held-out GENKI faces on textured 512² canvases, loose selections.

For each direction — "add" (held-out NON-smiling faces, the filter's default strength unless
``--add-strength``) and "remove" (held-out SMILING faces, ``--remove-strength`` −1) — each face is
pasted at a random size (140–260 px) and place on a synthetic textured canvas
(``backend/evaluation/face_canvas.py``), a loose box with 15–50 % margins on each side
(independently) is
written as a mask PNG, and the filter runs the way
``python -m backend apply dfi IN --mask M -o OUT`` runs it: the same file readers, the same
parameter parsing, the same registry and job runner, in this process. The independent judge
(``scripts/smile_judge.py``) then scores the known face square cut from the input and from the
output.

    python scripts/dfi_protocol.py                       # 40 faces per direction, seed 0
    python scripts/dfi_protocol.py --n 4 --multi 0       # a quick look
    python scripts/dfi_protocol.py --add-strength 1 --directions add
    python scripts/dfi_protocol.py --param resolution=128 --tag res128
    python scripts/dfi_protocol.py --strip docs/dfi-strip   # publish the strips in docs/

Canvases, masks, outputs, per-face figures (``results.json``) and the strips go to
``--work`` (default ``/tmp/nlf-dfi-protocol/<tag>``). The held-out part is never used to train
or tune anything (``backend/evaluation/genki_split.py``).
GENKI-4K: "http://mplab.ucsd.edu, The MPLab GENKI-4K Dataset."
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from backend.evaluation import genki_split  # noqa: E402
from backend.evaluation.face_canvas import change_by_region, crop, make_scene  # noqa: E402
from backend.params import check_value, parse_text  # noqa: E402
from backend.serving import context  # noqa: E402
from backend.serving.files import read_image, read_mask  # noqa: E402
from backend.serving.jobs import Job, execute  # noqa: E402
from backend.serving.registry import Registry  # noqa: E402
from scripts.smile_judge import DEFAULT_PATH, SmileJudge, load_judge, read_rgb  # noqa: E402

FILTER = "dfi"
DIRECTIONS = {"add": "non_smile", "remove": "smile"}
"""Direction -> the held-out folder its faces come from."""
STRIP_FACES = 8
TILE = 160


@dataclass
class FaceResult:
    """One face's figures: P(smile) before/after and mean |change| (0–255) by region."""

    canvas: str
    face: str
    side: int
    margins: list[float]
    p_before: float
    p_after: float
    upper: float
    lower: float
    rest_of_selection: float
    changed_outside: int
    seconds: float


@dataclass
class Run:
    direction: str
    strength: float | None
    faces: list[FaceResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def parse_params(specs: list[Any], items: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` strings -> typed, checked values, as ``apply --param`` does."""
    by_name = {s.name: s for s in specs}
    values = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or name not in by_name:
            raise SystemExit(f"--param {item!r}: takes NAME=VALUE with NAME in {sorted(by_name)}")
        values[name] = check_value(by_name[name], parse_text(by_name[name], text))
    return values


def run_direction(
    direction: str,
    faces: list[Path],
    groups: list[list[int]],
    run_one: Any,
    judge: SmileJudge,
    work: Path,
    seed: int,
    strength: float | None,
) -> tuple[Run, list[tuple[np.ndarray, np.ndarray, float, float]]]:
    """Edit every canvas of one direction; ``groups`` lists the face indices on each canvas."""
    run = Run(direction, strength)
    tiles: list[tuple[np.ndarray, np.ndarray, float, float]] = []
    folder = work / direction
    folder.mkdir(parents=True, exist_ok=True)
    for c, group in enumerate(groups):
        rng = np.random.default_rng([seed, list(DIRECTIONS).index(direction), c, len(group)])
        scene = make_scene([read_rgb(faces[i]) for i in group], rng)
        stem = f"{c:03d}" if len(group) == 1 else f"multi{c:03d}"
        src, msk = folder / f"{stem}.png", folder / f"{stem}.mask.png"
        Image.fromarray(scene.image).save(src)
        Image.fromarray(scene.mask).save(msk)
        layer = read_image(src)
        mask = read_mask(msk, layer.width, layer.height)
        t = time.perf_counter()
        try:
            (out,) = run_one(layer, mask)
        except Exception as exc:  # a failing canvas is reported, not fatal
            run.failures.append(f"{src.name}: {type(exc).__name__}: {exc}")
            continue
        seconds = time.perf_counter() - t
        in_rgba = np.frombuffer(layer.pixels, np.uint8).reshape(layer.height, layer.width, 4)
        out_rgba = np.frombuffer(out.pixels, np.uint8).reshape(out.height, out.width, 4)
        Image.fromarray(out_rgba).save(folder / f"{stem}.{FILTER}.png")
        region = change_by_region(scene, in_rgba, out_rgba)
        before = [crop(in_rgba[..., :3], f) for f in scene.faces]
        after = [crop(out_rgba[..., :3], f) for f in scene.faces]
        p0, p1 = judge.p_smile(before), judge.p_smile(after)
        for k, i in enumerate(group):
            run.faces.append(
                FaceResult(
                    src.name,
                    faces[i].name,
                    scene.faces[k].side,
                    [round(m, 3) for m in scene.margins(k)],
                    float(p0[k]),
                    float(p1[k]),
                    seconds=seconds / len(group),
                    **region,  # type: ignore[arg-type]
                )
            )
            if len(group) == 1 and len(tiles) < STRIP_FACES:
                tiles.append((before[k], after[k], float(p0[k]), float(p1[k])))
        print(
            f"  {direction} {src.name}: P(smile) "
            + ", ".join(f"{a:.2f}→{b:.2f}" for a, b in zip(p0, p1, strict=True))
            + f"  |Δ| upper {region['upper']:.1f} lower {region['lower']:.1f}"
            f"  outside {region['changed_outside']} px  {seconds:.1f} s",
            flush=True,
        )
    return run, tiles


def strip_image(
    tiles: list[tuple[np.ndarray, np.ndarray, float, float]], title: str
) -> Image.Image:
    """Columns of faces; rows: input crop, output crop, |output − input| × 4; P(smile) on top."""
    n = len(tiles)
    head, label_w = 18, 70
    img = Image.new("RGB", (label_w + n * TILE, 20 + head + 3 * TILE), "white")
    draw = ImageDraw.Draw(img)
    draw.text((4, 4), title, fill="black")
    for r, name in enumerate(("input", "output", "|diff| x4")):
        draw.text((4, 20 + head + r * TILE + TILE // 2), name, fill="black")
    for c, (before, after, p0, p1) in enumerate(tiles):
        x = label_w + c * TILE
        draw.text((x + 4, 22), f"P {p0:.2f} -> {p1:.2f}", fill="black")
        diff = np.clip(np.abs(after.astype(np.int16) - before.astype(np.int16)) * 4, 0, 255)
        for r, arr in enumerate((before, after, diff.astype(np.uint8))):
            tile = Image.fromarray(arr).resize((TILE, TILE), Image.Resampling.BICUBIC)
            img.paste(tile, (x, 20 + head + r * TILE))
    return img


def summarise(run: Run, label: str) -> str:
    f = run.faces
    if not f:
        return f"| {label} | 0 | – | – | – | – | – | – | – | – |"
    p0 = np.array([x.p_before for x in f])
    p1 = np.array([x.p_after for x in f])
    goal = (p1 > 0.5) if run.direction == "add" else (p1 <= 0.5)
    start = (p0 > 0.5) if run.direction == "add" else (p0 <= 0.5)
    return (
        f"| {label} | {len(f)} | {start.mean():.0%} → **{goal.mean():.0%}** | "
        f"{p0.mean():.3f} → {p1.mean():.3f} | {np.mean([x.upper for x in f]):.2f} | "
        f"{np.mean([x.lower for x in f]):.2f} | {np.mean([x.rest_of_selection for x in f]):.2f} | "
        f"{sum(x.changed_outside for x in f)} | {np.mean([x.seconds for x in f]):.1f} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=40, help="single-face canvases per direction")
    ap.add_argument("--multi", type=int, default=4, help="two-face canvases (add direction)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--directions", nargs="+", choices=list(DIRECTIONS), default=list(DIRECTIONS))
    ap.add_argument("--add-strength", type=float, help="default: the filter's default strength")
    ap.add_argument("--remove-strength", type=float, default=-1.0)
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--judge", type=Path, default=DEFAULT_PATH)
    ap.add_argument("--tag", default="run", help="names the work folder")
    ap.add_argument("--work", type=Path, help="default /tmp/nlf-dfi-protocol/TAG")
    ap.add_argument(
        "--strip", help="strip path prefix (default WORK/strip): PREFIX.png, PREFIX-remove.png"
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--root", help="GENKI-4K folder (default: $NLF_GENKI_DIR or ../shared/data)")
    ap.add_argument(
        "--part",
        choices=("heldout", "tuning"),
        default="heldout",
        help="faces: held-out (report) or the tuning slice (scripts/dfi_tuning.py)",
    )
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="CONST=VALUE",
        help="tuning runs only: override a constant of backend.filters.dfi, dfi_inverter or "
        "dfi_mouth (the first that has it)",
    )
    context.add_arguments(ap)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from backend.filters import dfi, dfi_inverter, dfi_mouth

    for item in args.set:
        name, _, value = item.partition("=")
        module = next((m for m in (dfi, dfi_inverter, dfi_mouth) if hasattr(m, name)), None)
        if module is None:
            raise SystemExit(f"--set {item!r}: no such constant")
        kind = type(getattr(module, name))
        setattr(module, name, value.lower() in ("1", "true") if kind is bool else kind(value))
    work = args.work or Path("/tmp/nlf-dfi-protocol") / args.tag
    strip_prefix = Path(args.strip) if args.strip else work / "strip"
    judge = load_judge(args.judge)
    registry = Registry(context.from_args(args))
    flt = registry.get(FILTER)
    specs = registry.schema(FILTER)
    base = parse_params(specs, args.param)
    default_strength = next(s.default for s in specs if s.name == "strength")
    if args.part == "tuning":
        from scripts.dfi_tuning import tuning_files

        held = tuning_files(args.root)
    else:
        held = genki_split.split_files(args.root)["heldout"]
    print(f"judge sha256 {judge.sha256}; params {base}; set {args.set}; work {work}")
    rows = []
    for direction in args.directions:
        strength = args.add_strength if direction == "add" else args.remove_strength
        values = dict(base) if strength is None else {**base, "strength": strength}
        rng = np.random.default_rng([args.seed, list(DIRECTIONS).index(direction)])
        faces = list(held[DIRECTIONS[direction]])
        rng.shuffle(faces)
        n_multi = args.multi if direction == "add" else 0
        if args.n + 2 * n_multi > len(faces):
            raise SystemExit(f"only {len(faces)} {args.part} faces for {direction}")
        groups = [[i] for i in range(args.n)]
        groups += [[args.n + 2 * k, args.n + 2 * k + 1] for k in range(n_multi)]

        def run_one(layer: Any, mask: Any, values: dict[str, Any] = values) -> list[Any]:
            return execute(flt, Job(FILTER, layer, mask, values), lambda step: None)

        run, tiles = run_direction(
            direction, faces, groups, run_one, judge, work, args.seed, strength
        )
        shown = f"{default_strength:g} (default)" if strength is None else f"{strength:g}"
        singles = Run(direction, strength, [f for f in run.faces if not f.canvas.startswith("m")])
        multis = Run(direction, strength, [f for f in run.faces if f.canvas.startswith("m")])
        rows.append(summarise(singles, f"{direction}, strength {shown}"))
        if multis.faces:
            rows.append(summarise(multis, f"{direction}, strength {shown}, two faces per canvas"))
        for failure in run.failures:
            print(f"  FAILED {failure}")
        (work / f"results-{direction}.json").write_text(
            json.dumps({**asdict(run), "params": values}, indent=1, default=str)
        )
        if tiles:
            path = Path(
                f"{strip_prefix}.png" if direction == "add" else f"{strip_prefix}-remove.png"
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            title = f"dfi {direction} smile, strength {shown}, {args.param or 'default params'}"
            strip_image(tiles, title).save(path)
            print(f"wrote {path}")
    print(
        "\n| direction | faces | judged as the goal (smiling / not smiling), before → after | "
        "mean P(smile) before → after | mean abs change, upper half of face | lower half | "
        "rest of selection | pixels changed outside the selection | s/face |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
