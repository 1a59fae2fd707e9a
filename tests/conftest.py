"""Shared fixtures: a real backend on 127.0.0.1:0 with tiny random weights, and clients."""

from __future__ import annotations

import functools
import http.server
import importlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
import torch

from backend.algorithms.features import tiny_backbone
from backend.filters import load_all, registered
from backend.filters.base import Context
from backend.serving.registry import Registry
from backend.serving.server import create_server
from backend.serving.worker import Worker
from nlf_client import Client
from tests.fakes import TEST_FILTERS, FakeFaceFinder

torch.set_num_threads(2)
ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


def product_filter_ids() -> list[str]:
    load_all()
    return sorted(registered())


def tiny_context(tmp: Path) -> Context:
    for sub in ("weights", "attributes", "models"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    return Context(
        device=torch.device("cpu"),
        weights_dir=tmp / "weights",
        attributes_dir=tmp / "attributes",
        models_dir=tmp / "models",
        backbone_factory=lambda: tiny_backbone(seed=0),
        face_finder_factory=FakeFaceFinder,
    )


def prepare(ctx: Context, filter_id: str) -> dict[str, Any]:
    """Install tiny packs/models a filter needs (tests/prep/<id>.py); return fast param values."""
    try:
        module = importlib.import_module(f"tests.prep.{filter_id}")
    except ModuleNotFoundError:
        return {}
    return dict(module.prepare(ctx))


@dataclass
class Backend:
    """A running in-process server."""

    address: str
    port: int
    registry: Registry
    worker: Worker
    server: grpc.Server
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    token: str | None = None

    def client(self, **kw: Any) -> Client:
        kw.setdefault("token", self.token)
        return Client.connect(self.address, **kw)


def start_backend(tmp: Path, **server_kw: Any) -> Backend:
    ctx = tiny_context(tmp)
    overrides = {fid: prepare(ctx, fid) for fid in product_filter_ids()}
    registry = Registry(ctx, list(registered().values()) + list(TEST_FILTERS))
    server, port, worker = create_server("127.0.0.1:0", registry, **server_kw)
    server.start()
    return Backend(
        f"127.0.0.1:{port}", port, registry, worker, server, overrides, server_kw.get("token")
    )


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """A real gRPC backend with every product filter (tiny weights) plus the test filters."""
    backend = start_backend(tmp_path_factory.mktemp("live"))
    yield backend
    backend.worker.close()
    backend.server.stop(grace=1).wait()


@pytest.fixture
def make_backend(tmp_path: Path) -> Iterator[Any]:
    """Factory for a dedicated server (token, small queue...), stopped after the test."""
    started: list[Backend] = []

    def make(**kw: Any) -> Backend:
        b = start_backend(tmp_path / f"b{len(started)}", **kw)
        started.append(b)
        return b

    yield make
    for b in started:
        b.worker.close()
        b.server.stop(grace=0).wait()


@pytest.fixture
def client(live_server: Backend) -> Iterator[Client]:
    c = live_server.client()
    yield c
    c.close()


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server on 127.0.0.1 serving a temporary folder: (base url, folder)."""
    root = tmp_path / "served"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def missing_weights(name: str, root: Path) -> None:
    """A real-weights test lacks ``name``: fail under NLF_REQUIRE_WEIGHTS=1, else skip."""
    msg = f"{name} weights not in {root}; run: python -m backend weights fetch {name}"
    if os.environ.get("NLF_REQUIRE_WEIGHTS") == "1":
        pytest.fail(msg)
    pytest.skip(msg)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """GPU-marked tests run wherever CUDA exists; elsewhere they skip with a visible reason."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="gpu test: no CUDA device on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def require_editors() -> bool:
    """CI sets NLF_REQUIRE_EDITORS=1: a missing editor then fails instead of skipping."""
    return os.environ.get("NLF_REQUIRE_EDITORS") == "1"
