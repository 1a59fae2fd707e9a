"""A backend for benchmarks/scale.py: a filter that waits (a device-bound job's stand-in).

Not part of the product. ``wait`` sleeps ``seconds`` per job and returns the image unchanged:
like a GPU job it keeps the backend's single worker busy while the CPU is free, which is the
case several backends on several GPUs speed up. Prints its port, serves until stdin closes.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass

from backend.filters.base import Context, Filter, FilterInput, OutputLayer, Step, StepCallback
from backend.params import param
from backend.serving.registry import Registry
from backend.serving.server import create_server


@dataclass(frozen=True)
class WaitParams:
    seconds: float = param(0.5, label="Seconds", min=0.0, max=60.0)


class Wait(Filter):
    id, label, params, margin = "wait", "Wait", WaitParams, 0

    def run(self, job: FilterInput, p: WaitParams, on_step: StepCallback) -> list[OutputLayer]:
        end = time.monotonic() + p.seconds
        while (left := end - time.monotonic()) > 0:
            on_step(Step(0, 1, "waiting"))
            time.sleep(min(left, 0.1))
        return [OutputLayer("waited", job.image)]


if __name__ == "__main__":
    server, port, worker = create_server("127.0.0.1:0", Registry(Context(), [Wait]))
    server.start()
    print(port, flush=True)
    sys.stdin.read()
    worker.close()
    threading.Thread(target=server.stop, args=(0,)).start()
