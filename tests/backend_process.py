"""A backend with the test filters in its own process (tests kill it): prints its port.

python -m tests.backend_process    # serves 127.0.0.1:0 until stdin closes or it is killed
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch

from backend.serving.registry import Registry
from backend.serving.server import create_server
from tests.conftest import tiny_context
from tests.fakes import TEST_FILTERS

if __name__ == "__main__":
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="nlf-backend-") as tmp:
        registry = Registry(tiny_context(Path(tmp)), list(TEST_FILTERS))
        server, port, worker = create_server("127.0.0.1:0", registry)
        server.start()
        print(port, flush=True)
        sys.stdin.read()
        worker.close()
        server.stop(0).wait()
