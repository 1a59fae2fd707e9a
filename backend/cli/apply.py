"""``python -m backend apply``: run a filter on image files (artists' batch actions).

Runs in this process without ``--server``, over gRPC with it. Carries on past a failing file,
prints a summary, and never overwrites an input.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from backend.errors import NlfError
from backend.params import ParamError, ParamSpec, check_value, parse_text
from backend.serving import context
from backend.serving.files import SUFFIXES, read_image, read_mask, write_image
from backend.serving.imaging import WireImage
from backend.serving.secrets import add_token_arguments
from nlf_client.session.naming import file_names


class _Bar:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()

    def __call__(self, fraction: float, stage: str = "") -> None:
        if self.tty:
            n = int(fraction * 30)
            bar = "#" * n + "-" * (30 - n)
            sys.stderr.write(f"\r{self.label} [{bar}] {fraction:4.0%} {stage[:30]:30}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


def _kv(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"{what} '{item}' must look like NAME=VALUE")
        out[name] = value
    return out


def _typed(specs: list[ParamSpec], raw: dict[str, str]) -> dict[str, Any]:
    by_name = {s.name: s for s in specs}
    values = {}
    for name, text in raw.items():
        if name not in by_name:
            raise ParamError(f"unknown parameter '{name}'; takes: {', '.join(sorted(by_name))}")
        values[name] = check_value(by_name[name], parse_text(by_name[name], text))
    return values


def _inputs(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.suffix.lower() in SUFFIXES)
        else:
            files.append(p)
    return files


def _outputs(inputs: list[Path], out: Path, filter_id: str, n_layers: int, src: Path) -> list[Path]:
    """The session core's names in a folder; a named output file gets ``.<k>`` for several."""
    if len(inputs) > 1 or out.is_dir() or not out.suffix:
        return [out / name for name in file_names(src.stem, filter_id, n_layers)]
    if n_layers == 1:
        return [out]
    return [out.with_name(f"{out.stem}.{i + 1}{out.suffix}") for i in range(n_layers)]


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of an existing file, None when there is none: a file read under one name
    and written under another (a hard link, a symlink, ``./x``) is still the same file."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _check_plan(inputs: list[Path], out: Path, filter_id: str, reads: list[Path]) -> None:
    """Refuse, before any work, outputs that two inputs share or that are a file read."""
    read = {key: p for p in reads if (key := _identity(p)) is not None}
    claimed: dict[Path, Path] = {}
    for src in inputs:
        (target,) = _outputs(inputs, out, filter_id, 1, src)
        other = claimed.setdefault(target.absolute(), src)
        if other != src:
            raise SystemExit(
                f"{other} and {src} would both be written to {target}; run them separately "
                "or give one another name (nothing was done)"
            )
        _check_target(target, read)


def _check_target(target: Path, read: dict[tuple[int, int], Path]) -> None:
    key = _identity(target)
    if key is not None and key in read:
        raise SystemExit(
            f"refusing to write {target}: it is {read[key]}, a file this command reads "
            "(nothing was done)"
        )


def _runner(args: argparse.Namespace) -> tuple[list[ParamSpec], Callable[..., list[WireImage]]]:
    if args.server:
        from backend.cli._remote import remote_runner

        return remote_runner(args)
    from backend.serving.jobs import Job, execute
    from backend.serving.registry import Registry

    registry = Registry(context.from_args(args))
    flt = registry.get(args.filter_id)

    def run(
        layer: WireImage,
        mask: WireImage | None,
        values: dict[str, Any],
        extras: dict[str, WireImage],
        bar: _Bar,
    ) -> list[WireImage]:
        job = Job(args.filter_id, layer, mask, values, extras)
        return execute(flt, job, lambda s: bar(s.fraction, s.stage))

    return registry.schema(args.filter_id), run


def _jobs(args: argparse.Namespace, run: Callable[..., Any]) -> int:
    """Files in flight at once: --jobs, else one per backend the --server address lists."""
    if not args.server:
        return 1  # in process: one device, one job at a time
    if args.jobs is not None:
        if args.jobs < 1:
            raise SystemExit("--jobs must be 1 or more")
        return args.jobs
    return getattr(run, "backend_count", 1)


def _retried_note(run: Callable[..., Any]) -> str:
    retried = getattr(run, "retried", 0)
    return f", {retried} retried after a backend became unavailable" if retried else ""


def apply(args: argparse.Namespace) -> int:
    specs, run = _runner(args)
    values = _typed(specs, _kv(args.param, "--param"))
    extras = {n: read_image(Path(f)) for n, f in _kv(args.layer, "--layer").items()}
    inputs = _inputs(args.inputs)
    if not inputs:
        raise SystemExit("no input images found")
    out = Path(args.output)
    reads = inputs + [Path(f) for f in _kv(args.layer, "--layer").values()]
    reads += [Path(args.mask)] if args.mask else []
    _check_plan(inputs, out, args.filter_id, reads)
    read = {key: p for p in reads if (key := _identity(p)) is not None}
    written_to: set[tuple[int, int]] = set()  # outputs of this run, by device and inode
    failed: list[tuple[Path, str]] = []
    written = 0
    t0 = time.perf_counter()

    def one(i: int, src: Path) -> tuple[int, str | None]:
        """Filter one file; (files written, why it failed or None)."""
        count = 0
        bar = _Bar(f"[{i}/{len(inputs)}] {src.name}")
        try:
            layer = read_image(src)
            mask = read_mask(Path(args.mask), layer.width, layer.height) if args.mask else None
            layers = run(layer, mask, values, extras, bar)
            targets = _outputs(inputs, out, args.filter_id, len(layers), src)
            for target, result in zip(targets, layers, strict=True):
                key = _identity(target)
                if key is not None and key in read:
                    raise NlfError(f"refusing to overwrite {target}: it is {read[key]}, an input")
                if key is not None and key in written_to:
                    raise NlfError(f"refusing to overwrite {target}, written for another input")
                write_image(target, result)
                written_to.add(_identity(target) or (0, 0))
                count += 1
        except (NlfError, OSError) as exc:
            return count, str(exc)
        except Exception as exc:  # keep going with the next file, report at the end
            return count, f"{type(exc).__name__}: {exc}"
        finally:
            bar.close()
        return count, None

    jobs = max(1, min(_jobs(args, run), len(inputs)))
    with ThreadPoolExecutor(jobs, thread_name_prefix="nlf-apply") as pool:
        # in flight at once: gRPC's round_robin spreads them over the --server backends
        results = pool.map(one, range(1, len(inputs) + 1), inputs)
        for src, (done, why) in zip(inputs, results, strict=True):
            written += done
            if why is not None:
                failed.append((src, why))
    seconds = time.perf_counter() - t0
    if hasattr(run, "close"):
        run.close()  # the remote client: its channel and shared-memory segments
    print(
        f"{len(inputs) - len(failed)} of {len(inputs)} files done, {written} written, "
        f"{len(failed)} failed, {seconds:.1f} s" + _retried_note(run)
    )
    for src, why in failed:
        print(f"  failed: {src}: {why}")
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("apply", help="run a filter on image files or folders")
    p.add_argument("filter_id", metavar="FILTER_ID")
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders")
    p.add_argument("-o", "--output", required=True, help="file, or folder for many inputs")
    p.add_argument("--mask", help="selection mask image: white = selected, grey = partial")
    p.add_argument(
        "--layer",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="an extra layer for a layer parameter (e.g. style=painting.jpg)",
    )
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument(
        "--server",
        metavar="HOST:PORT[,HOST:PORT...]",
        help="use running backends over gRPC: one address, several separated by commas, or a "
        "dns:///NAME:PORT target; jobs are spread over them (round robin)",
    )
    add_token_arguments(p, "token for --server")
    p.add_argument(
        "--tls-ca",
        metavar="PEM",
        help="the backend serves TLS: trust this CA file ('system' = the system's roots)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="files in flight at once with --server (default: one per listed backend)",
    )
    context.add_arguments(p)
    p.set_defaults(func=apply)
