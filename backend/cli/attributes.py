"""``python -m backend attributes list | build NAME --with DIR --without DIR | build-lfw``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from backend import dirs

log = logging.getLogger(__name__)

BACKBONE_CHOICES = ("auto", "vgg19-imagenet", "vgg16-hed", "tiny")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``attributes`` command group."""
    parser = sub.add_parser("attributes", help="list and build DFI attribute packs")
    parser.add_argument(
        "--attributes-dir",
        default=None,
        help="attribute packs folder (default: $NLF_ATTRIBUTES_DIR or the XDG data folder)",
    )
    parser.add_argument(
        "--weights-dir",
        default=None,
        help="weights folder (default: $NLF_WEIGHTS_DIR or the XDG data folder)",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    p = actions.add_parser("list", help="installed and built-in packs")
    p.set_defaults(func=_list)

    p = actions.add_parser(
        "build", help="build a pack from two folders of face photos (with / without)"
    )
    p.add_argument("name", help="pack name, e.g. smiling (letters, digits, - and _)")
    p.add_argument("--with", dest="with_dir", type=Path, required=True, help="faces WITH it")
    p.add_argument("--without", dest="without_dir", type=Path, required=True, help="faces WITHOUT")
    p.add_argument(
        "--no-align",
        dest="align",
        action="store_false",
        help="use the images as they are (already aligned crops; the filter then needs align=off)",
    )
    _common(p)
    p.set_defaults(func=_build)

    p = actions.add_parser(
        "build-lfw", help="download LFW + its attribute scores and build the DFI paper's packs"
    )
    p.add_argument("--k", type=int, default=100, help="images per set (paper: 100)")
    p.add_argument("--cache-dir", type=Path, default=None, help="download folder")
    p.add_argument("--lfw-url", default=None, help="LFW deep-funneled .tgz address")
    p.add_argument("--attributes-url", default=None, help="lfw_attributes.txt address")
    _common(p)
    p.set_defaults(func=_build_lfw)


def _common(p: argparse.ArgumentParser) -> None:
    from backend.assets.attributes import DEFAULT_RESOLUTION

    p.add_argument(
        "--resolution",
        type=int,
        default=DEFAULT_RESOLUTION,
        help="square side faces are resized to",
    )
    p.add_argument(
        "--backbone",
        choices=BACKBONE_CHOICES,
        default="auto",
        help="feature network (auto = the server's default; tiny = random, for tests)",
    )


def _backbone(args: argparse.Namespace):
    import torch

    from backend.algorithms import features
    from backend.assets import nets

    torch.set_num_threads(min(torch.get_num_threads(), 4))
    root = dirs.weights_dir(args.weights_dir)
    if args.backbone == "tiny":
        return features.tiny_backbone()
    if args.backbone == "auto":
        return nets.default_backbone(root)
    return nets.load_backbone(args.backbone, root)


def _list(args: argparse.Namespace) -> int:
    from backend.assets import attributes

    root = dirs.attributes_dir(args.attributes_dir)
    print(f"attributes folder: {root}")
    print(f"{'name':<16} {'backbone':<16} {'res':>4}  {'with':>5} {'w/o':>5}  {'where':<8}  path")
    for info in attributes.list_packs(root):
        try:
            pack = attributes.load_pack(info.path)
            res, n1, n0 = str(pack.resolution), str(pack.count_with), str(pack.count_without)
        except attributes.PackError as exc:
            log.warning("%s", exc)
            res, n1, n0 = "BAD", "-", "-"
        where = "built-in" if info.builtin else "user"
        row = f"{info.name:<16} {info.backbone:<16} {res:>4}  {n1:>5} {n0:>5}  {where:<8}"
        print(f"{row}  {info.path}")
    return 0


def _build(args: argparse.Namespace) -> int:
    from backend.assets import attributes

    backbone = _backbone(args)
    if not args.align:
        pack = attributes.build_pack_from_folders(
            args.name, args.with_dir, args.without_dir, backbone, args.resolution
        )
    else:
        from backend.assets import pack_faces
        from backend.assets.nets import load_face_finder

        finder = load_face_finder(dirs.weights_dir(args.weights_dir))
        with_files = attributes.image_files(args.with_dir)
        without_files = attributes.image_files(args.without_dir)
        source = f"with={Path(args.with_dir).name} without={Path(args.without_dir).name}"
        pack, counts = pack_faces.build_aligned_pack(
            args.name, with_files, without_files, backbone, finder, args.resolution, source
        )
        print(f"faces found: {counts['with']} of {len(with_files)} with, {counts['without']} of "
              f"{len(without_files)} without (images without a face skipped: "
              f"{counts['with_skipped'] + counts['without_skipped']})")  # fmt: skip
    path = attributes.save_pack(pack, dirs.attributes_dir(args.attributes_dir))
    aligned = "aligned" if pack.frame is not None else "not aligned"
    print(f"{pack.name} ({pack.backbone}, {pack.resolution}px, {aligned}, {pack.count_with} "
          f"with / {pack.count_without} without): {path}")  # fmt: skip
    return 0


def _build_lfw(args: argparse.Namespace) -> int:
    from backend.assets import lfw

    root = dirs.attributes_dir(args.attributes_dir)
    cache = args.cache_dir or root / "lfw-download"
    paths = lfw.fetch_and_build(
        _backbone(args),
        root,
        cache,
        lfw_url=args.lfw_url or lfw.LFW_URL,
        attributes_url=args.attributes_url or lfw.ATTRIBUTES_URL,
        k=args.k,
        resolution=args.resolution,
    )
    for path in paths:
        print(path)
    return 0
