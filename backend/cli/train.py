"""``python -m backend train cyclegan ...`` and ``python -m backend train dtn ...``.

Each trainer module provides two functions, imported only when its command runs:

- ``backend.training.cyclegan``: ``add_arguments(parser)`` and ``run(args) -> int``.
- ``backend.training.dtn``: ``add_dtn_arguments(parser)`` (adds ``--source DIR --target DIR --name
  NAME`` and its options) and ``run_dtn(args) -> int`` (exit status; the result is imported into
  the models folder as kind ``dtn``).

Argument definitions are imported when the parser is built, so a trainer that fails to import
only disables its own sub-command (it then explains the error when invoked).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

_TRAINERS = {
    "cyclegan": (
        "backend.training.cyclegan",
        "add_arguments",
        "run",
        "train a CycleGAN pair on two folders of unpaired images",
    ),
    "dtn": (
        "backend.training.dtn",
        "add_dtn_arguments",
        "run_dtn",
        "train a Domain Transfer Network (source -> target) with a fixed encoder f",
    ),
    "npe": (
        "backend.training.npe",
        "add_arguments",
        "run",
        "train the Neural Photo Editor's face model on a folder of faces",
    ),
    "dfi-inverter": (
        "backend.training.dfi_inverter",
        "add_arguments",
        "run",
        "train DFI's feed-forward inverter (features -> aligned face) on a folder of faces",
    ),
}


def _unavailable(name: str, error: str) -> Callable[[argparse.Namespace], int]:
    def fail(args: argparse.Namespace) -> int:
        print(f"error: 'train {name}' is not available: {error}", file=sys.stderr)
        return 2

    return fail


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "train", help="train CycleGAN / DTN / NPE models from folders of images"
    )
    kinds = parser.add_subparsers(dest="train_kind", required=True, metavar="KIND")
    for name, (module_name, add_name, run_name, help_text) in _TRAINERS.items():
        p = kinds.add_parser(name, help=help_text)
        try:
            module = importlib.import_module(module_name)
            getattr(module, add_name)(p)
            p.set_defaults(func=getattr(module, run_name))
        except (ImportError, AttributeError) as exc:
            p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
            p.set_defaults(func=_unavailable(name, f"{type(exc).__name__}: {exc}"))
