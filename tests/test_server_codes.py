"""Every domain error reaches the client with its own code and a message a person can act on;
clients that go away are INFO lines in the log, not ERROR tracebacks."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import grpc
import pytest

from nlf_client import BackendError
from nlf_client.proto import filters_pb2 as pb
from nlf_client.proto import filters_pb2_grpc as pb_grpc
from tests.fakes import make_layer


def _raw_stream(address: str, blobs: list[bytes]) -> grpc.RpcError:
    """Send already-serialised messages (possibly invalid protobuf) on Run; return the error."""
    with grpc.insecure_channel(address) as ch:
        run = ch.stream_stream(
            "/nlf.v1.Filters/Run",
            request_serializer=lambda b: b,
            response_deserializer=pb.RunEvent.FromString,
        )
        with pytest.raises(grpc.RpcError) as info:
            list(run(iter(blobs), timeout=20))
    return info.value


def test_non_utf8_string_is_invalid_argument(live_server) -> None:
    """A filter id whose bytes are not UTF-8 is INVALID_ARGUMENT (was INTERNAL)."""
    good = pb.RunRequest(
        header=pb.RunHeader(filter_id="XXXX", layer=pb.ImageInfo(width=1, height=1, format=pb.U8))
    ).SerializeToString()
    bad = good.replace(b"XXXX", b"\xff\xfe\xfd\xfc")
    err = _raw_stream(live_server.address, [bad])
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    assert "UTF-8" in err.details()
    # the server carries on
    with live_server.client() as c:
        assert c.run("test_invert", make_layer(2, 2)).layers


def test_undecodable_unary_request_is_invalid_argument(live_server) -> None:
    """Bytes that are no protobuf message on a unary call are INVALID_ARGUMENT too."""
    with grpc.insecure_channel(live_server.address) as ch:
        status = ch.unary_unary(
            "/nlf.v1.Filters/GetStatus",
            request_serializer=lambda b: b,
            response_deserializer=pb.StatusResponse.FromString,
        )
        with pytest.raises(grpc.RpcError) as info:
            status(b"\xff\xff\xff", timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
        assert status(b"", timeout=10).protocol_version == 1


def test_huge_names_are_cut_in_messages(client) -> None:
    """A 200 KB filter id or parameter name comes back cut, with its own code (the client once
    saw RESOURCE_EXHAUSTED because the whole id was echoed in the status)."""
    with pytest.raises(BackendError) as info:
        client.run("x" * 200_000, make_layer(2, 2))
    assert info.value.code == "NOT_FOUND"
    assert "x" * 100 + "…" in info.value.message and len(info.value.message) < 1000
    with pytest.raises(BackendError) as info:
        client.run("test_invert", make_layer(2, 2), params={"y" * 200_000: 1.0})
    assert info.value.code == "INVALID_ARGUMENT" and len(info.value.message) < 1000


def test_broken_pack_is_failed_precondition(make_backend) -> None:
    """A corrupt attribute pack is FAILED_PRECONDITION naming the command that rebuilds it."""
    b = make_backend()
    packs = list(Path(b.registry.ctx.attributes_dir).rglob("*.pt"))
    assert packs
    for pack in packs:
        pack.write_bytes(b"not a pack")
    with b.client() as c, pytest.raises(BackendError) as info:
        c.run("dfi", make_layer(32, 32), params=b.overrides["dfi"])
    assert info.value.code == "FAILED_PRECONDITION", info.value.message
    assert "python -m backend attributes build smiling" in info.value.message


def test_changed_model_is_failed_precondition(make_backend) -> None:
    """A model file changed after import is FAILED_PRECONDITION with the re-import command."""
    b = make_backend()
    models = Path(b.registry.ctx.models_dir)
    for path in models.glob("tiny*.pth"):
        with path.open("ab") as f:
            f.write(b"\0")
    with b.client() as c, pytest.raises(BackendError) as info:
        c.run("cyclegan", make_layer(32, 32), params=b.overrides["cyclegan"])
    assert info.value.code == "FAILED_PRECONDITION", info.value.message
    assert "changed since import" in info.value.message
    assert "python -m backend models import FILE --name tiny --kind cyclegan --replace" in (
        info.value.message
    )


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.WARNING]


def _seen(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records]


def _wait_for_info(caplog: pytest.LogCaptureFixture, words: str) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(words in r.getMessage() for r in caplog.records):
            return True
        time.sleep(0.05)
    return False


def test_disconnect_mid_upload_is_an_info_line(make_backend, caplog) -> None:
    """A client that cancels half-way through its upload is logged at INFO, no traceback.

    A server of its own, and the cancel only once the server has the header: on the shared
    server under load the call could be cancelled before any handler saw it, and then nothing
    is logged at all."""
    caplog.set_level(logging.DEBUG)
    backend = make_backend()
    sent = threading.Event()
    hold = threading.Event()

    def requests():
        yield pb.RunRequest(
            header=pb.RunHeader(
                filter_id="test_invert", layer=pb.ImageInfo(width=64, height=64, format=pb.U8)
            )
        )
        yield pb.RunRequest(chunk=pb.PixelChunk(key="layer", data=b"\0" * 100))
        sent.set()
        hold.wait(10)

    with grpc.insecure_channel(backend.address) as ch:
        call = pb_grpc.FiltersStub(ch).Run(requests(), timeout=60)
        assert sent.wait(30)
        assert _wait_for_info(caplog, "Run header admitted: test_invert"), _seen(caplog)
        time.sleep(0.2)
        call.cancel()
        hold.set()
    assert _wait_for_info(caplog, "ended by the client"), _seen(caplog)
    assert not _errors(caplog)


class _CancelledLate:
    """A grpc server context whose call is cancelled a moment after the request stream ended,
    as grpc does under load: the stream stops short before the call is marked cancelled."""

    def __init__(self) -> None:
        self.callbacks: list = []
        self.aborted: tuple | None = None

    def add_callback(self, callback) -> bool:
        self.callbacks.append(callback)
        return True

    def is_active(self) -> bool:
        return True

    def abort(self, code, message) -> None:
        self.aborted = (code, message)
        raise RuntimeError("aborted")

    def stream_then_cancel(self, requests):
        yield from requests
        timer = threading.Timer(0.05, lambda: [cb() for cb in self.callbacks])
        timer.start()


def test_a_stream_cut_short_by_a_cancel_is_an_info_line_not_bad_input(tmp_path, caplog) -> None:
    """An upload that stops short and whose call then ends is a client that went away (INFO),
    not a truncated image to answer with INVALID_ARGUMENT."""
    from backend.serving.admission import Limits
    from backend.serving.registry import Registry
    from backend.serving.server import FiltersService
    from backend.serving.worker import Worker
    from tests.conftest import tiny_context
    from tests.fakes import TEST_FILTERS

    caplog.set_level(logging.INFO)
    service = FiltersService(
        Registry(tiny_context(tmp_path), list(TEST_FILTERS)), Worker(), Limits()
    )
    context = _CancelledLate()
    head = pb.RunHeader(
        filter_id="test_invert", layer=pb.ImageInfo(width=8, height=8, format=pb.U8)
    )
    requests = [
        pb.RunRequest(header=head),
        pb.RunRequest(chunk=pb.PixelChunk(key="layer", data=b"\0" * 10)),
    ]
    assert list(service.Run(context.stream_then_cancel(requests), context)) == []
    assert context.aborted is None
    assert _wait_for_info(caplog, "ended by the client during its upload"), _seen(caplog)


def test_cancel_while_running_is_an_info_line(live_server, caplog) -> None:
    """Cancelling a running job logs no error."""
    caplog.set_level(logging.INFO)
    cancel = threading.Event()
    with live_server.client() as c, pytest.raises(BackendError) as info:
        c.run(
            "test_slow",
            make_layer(4, 4),
            params={"steps": 500, "delay": 0.02},
            on_progress=lambda p: cancel.set() if p.fraction > 0 else None,
            cancel_event=cancel,
        )
    assert info.value.code == "CANCELLED"
    assert _wait_for_info(caplog, "ended by the client"), _seen(caplog)
    assert not _errors(caplog)
