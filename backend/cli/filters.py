"""``python -m backend filters`` and ``dump-schema``: the filter list and schemas as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from backend.serving import context
from backend.serving.registry import Registry
from backend.serving.schema import schema_json


def _filters(args: argparse.Namespace) -> int:
    data = schema_json(Registry(context.from_args(args)))
    print(json.dumps(data, indent=2))
    return 0


def _dump(args: argparse.Namespace) -> int:
    """The committed snapshot GIMP registers its procedures from: installed-state independent."""
    data = schema_json(Registry(context.from_args(args)))
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("filters", help="print every filter and its parameters as JSON")
    context.add_arguments(p)
    p.set_defaults(func=_filters)
    d = sub.add_parser("dump-schema", help="write the schema snapshot used by the GIMP plug-in")
    d.add_argument("-o", "--output", help="file to write (default: stdout)")
    context.add_arguments(d)
    d.set_defaults(func=_dump)
