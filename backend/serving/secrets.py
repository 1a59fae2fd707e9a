"""Where the serve and apply commands get a token and TLS files from (never only argv)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

TOKEN_ENV = "NLF_TOKEN"


def add_token_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--token",
        help=f"{what} (visible in the process list: prefer --token-file or ${TOKEN_ENV})",
    )
    parser.add_argument(
        "--token-file", metavar="FILE", help="read the token from the first line of FILE"
    )


def token_from(args: argparse.Namespace) -> str | None:
    """--token, else --token-file, else $NLF_TOKEN; None when none is given."""
    if getattr(args, "token", None):
        return args.token
    path = getattr(args, "token_file", None)
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SystemExit(f"--token-file {path}: cannot read it ({exc})") from None
        token = text.strip().splitlines()[0].strip() if text.strip() else ""
        if not token:
            raise SystemExit(f"--token-file {path} is empty")
        return token
    return os.environ.get(TOKEN_ENV) or None


def read_pem(path: str, flag: str, marker: bytes) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SystemExit(f"{flag} {path}: cannot read it ({exc.strerror})") from None
    if marker not in data:
        raise SystemExit(f"{flag} {path}: not a PEM file (no '{marker.decode()}' line)")
    return data
