"""Cancel in GIMP: GIMP ends the plug-in process; the backend must then drop the job."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from nlf_client import Layer
from tests.conftest import ROOT

CLIENT = """
import sys
sys.path[:0] = [{root!r}]
from nlf_client import Client, Layer
client = Client.connect({address!r})
client.run("test_slow", Layer(bytes(4 * 8 * 8), 8, 8), None, {{"steps": 200, "delay": 0.05}},
           on_progress=lambda p: print("PROGRESS", p.fraction, flush=True))
"""


def test_killed_plugin_process_frees_the_backend(live_server: Any) -> None:
    """A client killed mid-run (what GIMP's Cancel does to a plug-in) stops its job at once."""
    code = CLIENT.format(root=str(ROOT), address=live_server.address)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline and not line.startswith("PROGRESS"):
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert line.startswith("PROGRESS"), "the slow job never reported progress"
    finally:
        proc.kill()  # SIGKILL, as GIMP does when the person presses Cancel
        proc.wait(timeout=10)
    t0 = time.monotonic()
    with live_server.client() as client:
        result = client.run("test_invert", Layer(bytes(4 * 4 * 4), 4, 4), None, {})
    took = time.monotonic() - t0
    assert result.layers
    assert took < 5, f"next job waited {took:.1f}s: the killed client's 10 s job kept running"
