"""``python -m backend models list | import PATH --name NAME | fetch NAME | remove NAME``."""

from __future__ import annotations

import argparse
import sys

from backend.assets.models import CYCLEGAN_PRETRAINED, CYCLEGAN_URL, ModelError, ModelStore

KINDS = ("cyclegan", "dtn")


def register(sub: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--models-dir", help="models folder (default: $NLF_MODELS_DIR or the XDG data folder)"
    )
    parser = sub.add_parser("models", help="list, import and fetch CycleGAN / DTN models")
    cmds = parser.add_subparsers(dest="models_command", required=True, metavar="ACTION")

    p = cmds.add_parser("list", parents=[common], help="list installed models")
    p.add_argument("--kind", choices=KINDS, help="only models of this kind")
    p.set_defaults(func=_list)

    p = cmds.add_parser(
        "import",
        parents=[common],
        help="install a checkpoint (file or folder)",
        description="Install a generator checkpoint. Kind cyclegan takes ResnetGenerator and "
        "U-Net generators (pytorch-CycleGAN-and-pix2pix, pix2pix's latest_net_G.pth, and "
        "re-implementations): the architecture is read off the tensors in their stored order "
        "(any key names, module. prefixes, InstanceNorm with or without affine parameters, "
        "BatchNorm, ConvTranspose or Upsample+Conv decoders, any number of blocks and ngf), "
        "then proven with a forward pass on a test image. A file that does not fit is refused "
        "with its first mismatching tensor, and nothing is installed.",
    )
    p.add_argument("path", help="a state-dict .pth, or a training folder with latest_net_G_A/B")
    p.add_argument("--name", required=True, help="name the model is listed under")
    p.add_argument("--kind", choices=KINDS, default="cyclegan")
    p.add_argument("--replace", action="store_true", help="overwrite a model of the same name")
    p.set_defaults(func=_import)

    p = cmds.add_parser("fetch", parents=[common], help="download an official CycleGAN model")
    p.add_argument("name", nargs="?", help=f"one of: {', '.join(CYCLEGAN_PRETRAINED)}")
    p.add_argument("--url", help=f"address template of a mirror (default {CYCLEGAN_URL})")
    p.set_defaults(func=_fetch)

    p = cmds.add_parser("remove", parents=[common], help="delete an installed model")
    p.add_argument("name")
    p.set_defaults(func=_remove)


def _fail(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 1


def _list(args: argparse.Namespace) -> int:
    store = ModelStore(args.models_dir)
    try:
        entries = store.entries(args.kind)
    except ModelError as exc:
        return _fail(exc)
    if not entries:
        print(f"no models in {store.root}; try: python -m backend models fetch horse2zebra")
        return 0
    print(f"{'name':<28} {'kind':<9} {'parts':<16} {'sha256':<25} architecture")
    for e in entries:
        sha = ",".join(rec["sha256"][:12] for rec in e.parts.values())
        print(f"{e.name:<28} {e.kind:<9} {','.join(e.parts):<16} {sha:<25} {e.summary()}")
    return 0


def _import(args: argparse.Namespace) -> int:
    store = ModelStore(args.models_dir)
    try:
        entry = store.import_model(args.path, args.name, args.kind, replace=args.replace)
    except ModelError as exc:
        return _fail(exc)
    print(f"imported {entry.kind} model '{entry.name}' ({entry.summary()}) into {store.root}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    if not args.name:
        print("official CycleGAN models:", ", ".join(CYCLEGAN_PRETRAINED))
        return 0
    store = ModelStore(args.models_dir)

    def progress(done: int, total: int) -> None:
        if total:
            print(
                f"\r{args.name}: {done / total:6.1%} of {total / 1e6:.1f} MB",
                end="",
                file=sys.stderr,
            )

    try:
        entry = store.fetch(args.name, args.url, progress=progress)
    except ModelError as exc:
        print(file=sys.stderr)
        return _fail(exc)
    print(file=sys.stderr)
    print(f"fetched '{entry.name}' ({entry.parts['main']['sha256']}) into {store.root}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    try:
        ModelStore(args.models_dir).remove(args.name)
    except ModelError as exc:
        return _fail(exc)
    print(f"removed '{args.name}'")
    return 0
