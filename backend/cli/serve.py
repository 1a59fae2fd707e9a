"""``python -m backend serve``: run the gRPC backend."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import threading

from backend import context, imaging
from backend.registry import Registry


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(args: argparse.Namespace) -> int:
    if not _is_loopback(args.host) and not args.token:
        print(
            f"refusing to listen on {args.host} without --token: anyone on the network could "
            "use this machine's GPU and read the images sent to it. Pass --token SECRET (clients "
            "send it as 'authorization: Bearer SECRET') or bind 127.0.0.1.",
            file=sys.stderr,
        )
        return 2
    from backend.server import create_server

    registry = Registry(context.from_args(args))
    host = f"[{args.host}]" if ":" in args.host and not args.host.startswith("[") else args.host
    server, port, worker = create_server(
        f"{host}:{args.port}",
        registry,
        token=args.token,
        max_queue=args.max_queue,
        max_pixels=args.max_pixels,
    )
    if port == 0:
        print(f"could not bind {args.host}:{args.port} (in use?)", file=sys.stderr)
        return 1
    server.start()
    print(f"listening on {args.host}:{port}", flush=True)
    stopped = threading.Event()

    def stop(*_: object) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopped.wait()
    worker.close()
    server.stop(grace=2).wait()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the gRPC backend", description=serve.__doc__)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=50051, help="0 picks a free port (printed)")
    p.add_argument("--token", help="require 'authorization: Bearer TOKEN' on every call")
    p.add_argument("--max-queue", type=int, default=16, help="jobs that may wait (default 16)")
    p.add_argument(
        "--max-pixels",
        type=int,
        default=imaging.DEFAULT_MAX_PIXELS,
        help="largest layer accepted, in pixels (default 8192*8192)",
    )
    context.add_arguments(p)
    p.set_defaults(func=serve)
