"""``python -m backend serve``: run the gRPC backend."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import threading

from backend.serving import context, imaging
from backend.serving.admission import Limits
from backend.serving.registry import Registry
from backend.serving.secrets import add_token_arguments, read_pem, token_from


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _tls(args: argparse.Namespace) -> object | None:
    """grpc.ssl_server_credentials from --tls-cert/--tls-key (both or neither)."""
    if not args.tls_cert and not args.tls_key:
        return None
    if not (args.tls_cert and args.tls_key):
        raise SystemExit("--tls-cert and --tls-key go together (the certificate and its key)")
    import grpc

    cert = read_pem(args.tls_cert, "--tls-cert", b"-----BEGIN CERTIFICATE-----")
    key = read_pem(args.tls_key, "--tls-key", b"PRIVATE KEY-----")
    return grpc.ssl_server_credentials([(key, cert)])


def _limits(args: argparse.Namespace) -> Limits:
    """The serve flags that bound requests, checked before anything starts (ValueError)."""
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be 0-65535, got {args.port}")
    return Limits(
        max_queue=args.max_queue,
        max_pixels=args.max_pixels,
        max_total_pixels=args.max_total_pixels or 2 * args.max_pixels,
        max_uploads=args.max_uploads,
        upload_idle=args.upload_idle_timeout,
    ).check()


def serve(args: argparse.Namespace) -> int:
    try:
        limits = _limits(args)
    except ValueError as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return 2
    args.token = token_from(args)
    credentials = _tls(args)
    if not _is_loopback(args.host) and not args.token:
        print(
            f"refusing to listen on {args.host} without --token: anyone on the network could "
            "use this machine's GPU and read the images sent to it. Pass --token SECRET (clients "
            "send it as 'authorization: Bearer SECRET') or bind 127.0.0.1.",
            file=sys.stderr,
        )
        return 2
    if not _is_loopback(args.host) and credentials is None:
        print(
            f"warning: serving {args.host} without TLS: the token and the images travel in "
            "cleartext, and clients refuse to send a token to it. Pass --tls-cert and --tls-key.",
            file=sys.stderr,
        )
    from backend.serving.server import create_server

    registry = Registry(context.from_args(args))
    host = f"[{args.host}]" if ":" in args.host and not args.host.startswith("[") else args.host
    server, port, worker = create_server(
        f"{host}:{args.port}",
        registry,
        token=args.token,
        max_queue=limits.max_queue,
        max_pixels=limits.max_pixels,
        max_total_pixels=limits.max_total_pixels,
        max_uploads=limits.max_uploads,
        upload_idle=limits.upload_idle,
        credentials=credentials,
    )
    if port == 0:
        print(f"could not bind {args.host}:{args.port} (in use?)", file=sys.stderr)
        return 1
    server.start()
    tls = " (TLS)" if credentials is not None else ""
    print(f"listening on {args.host}:{port}{tls}", flush=True)
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
    add_token_arguments(p, "require 'authorization: Bearer TOKEN' on every call")
    p.add_argument("--tls-cert", metavar="PEM", help="serve TLS with this certificate (chain)")
    p.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    p.add_argument("--max-queue", type=int, default=16, help="jobs that may wait (default 16)")
    p.add_argument(
        "--max-pixels",
        type=int,
        default=imaging.DEFAULT_MAX_PIXELS,
        help="largest layer accepted, in pixels (default 8192*8192)",
    )
    p.add_argument(
        "--max-total-pixels",
        type=int,
        help="all layers of one job together, in pixels (default twice --max-pixels)",
    )
    p.add_argument(
        "--max-uploads", type=int, default=16, help="jobs uploading at the same time (default 16)"
    )
    p.add_argument(
        "--upload-idle-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="drop an upload that sends nothing for this long (default 30)",
    )
    context.add_arguments(p)
    p.set_defaults(func=serve)
