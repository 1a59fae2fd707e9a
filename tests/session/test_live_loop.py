"""Live painting's polling flow (session.live.LiveLoop) against a fake editor: one run at a
time, stale answers dropped, undo restores, failures stop the session with why."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, List

from nlf_client import Layer
from nlf_client.errors import BackendError
from nlf_client.session import live


def _layer(v: int) -> Layer:
    return Layer(bytes([v, v, v, 255]), 1, 1)


class FakeEditor(live.LiveLoop):
    """Paint is 4 bytes; runs wait in ``jobs`` until the test answers them."""

    def __init__(self) -> None:
        super().__init__("NPE")
        self.paint = b"\0\0\0\0"
        self.gone = ""
        self.jobs: List[Any] = []
        self.written: List[Layer] = []
        self.events: List[tuple] = []
        self.halted = False

    def check(self) -> None:
        if self.gone:
            raise live.LiveError(self.gone)

    def read_paint(self):
        return live.paint_digest(self.paint, (0, 0, 1, 1))

    def launch(self, seen: bytes, state: Any, generation: int) -> Any:
        job = SimpleNamespace(seen=seen, state=state, generation=generation, cancelled=False)
        job.cancel = lambda: setattr(job, "cancelled", True)
        self.jobs.append(job)
        return job

    def write(self, layer: Layer) -> None:
        self.written.append(layer)

    def halt(self) -> None:
        self.halted = True

    def notify(self, event: str, *args: Any) -> None:
        self.events.append((event,) + args)

    def paint_and_settle(self, paint: bytes) -> None:
        self.paint = paint
        self.poll()
        self.poll()

    def answer(self, job: Any, value: int) -> None:
        self.answered(job, job.generation, job.seen, (_layer(value), value))


def test_runs_one_at_a_time_and_strokes_accumulate():
    ed = FakeEditor()
    ed.begin(*ed.read_paint())
    ed.poll()
    assert ed.jobs == []  # nothing painted: no run
    ed.paint_and_settle(b"\1\1\1\1")
    (first,) = ed.jobs
    assert first.state is None and ed.job is first and ("busy_changed", True) in ed.events
    ed.paint_and_settle(b"\2\2\2\2")
    assert len(ed.jobs) == 1  # busy: coalesced into the next run
    ed.answer(first, 1)
    assert ed.written == [_layer(1)] and ed.job is None and ed.state == 1
    assert ed.events[-1] == ("refreshed", "Updated [NLF] NPE (live) (run 1)")
    ed.poll()
    assert [j.state for j in ed.jobs] == [None, 1]  # the stroke made meanwhile, on the state


def test_undo_restores_the_remembered_result_without_a_run():
    ed = FakeEditor()
    ed.begin(*ed.read_paint())
    ed.paint_and_settle(b"\1\1\1\1")
    ed.answer(ed.jobs[-1], 1)
    ed.paint_and_settle(b"\2\2\2\2")
    ed.answer(ed.jobs[-1], 2)
    ed.paint_and_settle(b"\1\1\1\1")  # Ctrl+Z
    assert len(ed.jobs) == 2 and ed.written[-1] == _layer(1) and ed.state == 1
    assert ed.events[-1] == ("refreshed", "Restored the result for this paint layer")


def test_a_reset_drops_the_answer_in_flight_and_starts_from_the_photo():
    ed = FakeEditor()
    ed.begin(*ed.read_paint())
    ed.paint_and_settle(b"\1\1\1\1")
    job = ed.jobs[-1]
    ed.reset()
    assert job.cancelled
    ed.answer(job, 1)
    assert ed.written == [] and ed.state is None and ed.job is None
    ed.run_failed(job, job.generation, BackendError("CANCELLED", "cancelled"))
    assert not ed.halted  # a stale failure does not stop the session
    ed.poll()
    ed.poll()  # settled again after the reset
    assert ed.jobs[-1].state is None and ed.jobs[-1] is not job


def test_a_reset_while_the_result_is_written_wins():
    ed = FakeEditor()
    ed.begin(*ed.read_paint())
    ed.paint_and_settle(b"\1\1\1\1")
    ed.write = lambda layer: ed.reset()  # the editor's event loop ran a Reset meanwhile
    ed.answer(ed.jobs[-1], 1)
    assert ed.state is None and ed.runs == 0


def test_failures_stop_the_session_with_why():
    ed = FakeEditor()
    ed.begin(*ed.read_paint())
    ed.paint_and_settle(b"\1\1\1\1")
    job = ed.jobs[-1]
    ed.run_failed(job, job.generation, BackendError("UNAVAILABLE", "no backend"))
    assert ed.halted and ed.job is None
    assert ed.events[-1] == (
        "stopped",
        "no backend [UNAVAILABLE]; live painting stopped, the image was not changed",
    )
    ed2 = FakeEditor()
    ed2.gone = "the image was closed; live painting stopped"
    ed2.poll()
    assert ed2.halted and ed2.events == [("stopped", ed2.gone)]
    ed3 = FakeEditor()
    ed3.read_paint = lambda: 1 / 0  # a bug in the editor's part: told, never raised
    ed3.poll()
    assert ed3.halted and ed3.events == [("stopped", "ZeroDivisionError: division by zero")]
