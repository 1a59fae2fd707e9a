"""Build the filters' Context from command-line options (shared by serve and apply)."""

from __future__ import annotations

import argparse

from backend import dirs
from backend.device import device_choice, pick_device
from backend.filters.base import Context


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        default="auto",
        type=device_choice,
        metavar="auto|cpu|cuda|cuda:N|mps",
        help="cuda:N pins this backend to GPU N (run one backend per GPU)",
    )
    parser.add_argument("--weights-dir", help="default: $NLF_WEIGHTS_DIR or XDG data dir")
    parser.add_argument("--attributes-dir", help="default: $NLF_ATTRIBUTES_DIR or XDG data dir")
    parser.add_argument("--models-dir", help="default: $NLF_MODELS_DIR or XDG data dir")


def from_args(args: argparse.Namespace) -> Context:
    return Context(
        device=pick_device(args.device),
        weights_dir=dirs.weights_dir(args.weights_dir),
        attributes_dir=dirs.attributes_dir(args.attributes_dir),
        models_dir=dirs.models_dir(args.models_dir),
    )
