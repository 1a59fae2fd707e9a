"""A backend offering only a pass-through filter (benchmark use; not part of the product)."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass

from backend.filters.base import Context, Filter, FilterInput, OutputLayer, StepCallback
from backend.serving.registry import Registry
from backend.serving.server import create_server


@dataclass(frozen=True)
class NoParams:
    pass


class PassThrough(Filter):
    id, label, params, margin = "passthrough", "Pass-through", NoParams, 0

    def run(self, job: FilterInput, p: NoParams, on_step: StepCallback) -> list[OutputLayer]:
        return [OutputLayer("copy", job.image)]


if __name__ == "__main__":
    server, port, _ = create_server("127.0.0.1:0", Registry(Context(), [PassThrough]))
    server.start()
    print(port, flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    threading.Thread(target=server.stop, args=(0,)).start()
