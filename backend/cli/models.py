"""``python -m backend models list | import PATH --name NAME | fetch NAME | remove NAME``."""

from __future__ import annotations

import argparse
import sys

from backend.models import CYCLEGAN_PRETRAINED, CYCLEGAN_URL, ModelError, ModelStore

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
        description="Install a generator checkpoint. Kind cyclegan takes the official "
        "pytorch-CycleGAN-and-pix2pix generators: resnet_9blocks / resnet_6blocks and "
        "unet_128 / unet_256 (instance or batch norm; pix2pix's latest_net_G.pth too).",
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
    print(f"{'name':<28} {'kind':<9} {'parts':<16} {'arch':<48} sha256")
    for e in entries:
        net_g = [str(e.arch["netG"])] if "netG" in e.arch else []
        rest = [f"{k}={v}" for k, v in sorted(e.arch.items()) if k != "netG"]
        arch = " ".join(net_g + rest)[:48]
        sha = ",".join(rec["sha256"][:12] for rec in e.parts.values())
        print(f"{e.name:<28} {e.kind:<9} {','.join(e.parts):<16} {arch:<48} {sha}")
    return 0


def _import(args: argparse.Namespace) -> int:
    store = ModelStore(args.models_dir)
    try:
        entry = store.import_model(args.path, args.name, args.kind, replace=args.replace)
    except ModelError as exc:
        return _fail(exc)
    print(f"imported {entry.kind} model '{entry.name}' into {store.root}")
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
