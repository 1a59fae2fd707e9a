"""The shared-memory path's shortcuts: results blended in place over the layer's bytes, their
crc32 from block checksums, results handed out as views of the segment. Each must give the
same bytes as the plain stream."""

from __future__ import annotations

import gc
import os
import zlib

import numpy as np
import pytest

from backend.filters.base import Context, Filter, FilterInput, OutputLayer, StepCallback
from backend.serving.imaging import WireImage
from backend.serving.jobs import Job, execute
from backend.serving.registry import Registry
from nlf_client import Client, crc, shm
from tests.fakes import InvertParams, as_array, make_layer, rect_mask

needs_shm = pytest.mark.skipif(
    not (shm.available() and os.path.isdir(shm.SHM_DIR)), reason="needs POSIX shared memory"
)


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 3 * 4096 + 5])
def test_block_checksums_fold_into_zlib_crc32(size: int) -> None:
    data = bytearray(os.urandom(size))
    blocks = crc.blocks(memoryview(data), 4096)
    assert crc.whole(blocks, size, 4096) == zlib.crc32(data)
    if size > 10:
        lo, hi = size // 3, size // 3 + 7
        data[lo:hi] = bytes(b ^ 0xFF for b in data[lo:hi])
        assert crc.with_changes(blocks, memoryview(data), lo, hi, 4096) == zlib.crc32(data)
        if (size - 1) // 4096 != lo // 4096:  # told the wrong range: the stale block shows
            assert crc.with_changes(blocks, memoryview(data), size - 1, size, 4096) != zlib.crc32(
                data
            )


class TwoOutputs(Filter):
    """Two results from one job: inverted, and half as bright."""

    id, label, params, margin = "two_outputs", "Two outputs (test)", InvertParams, 0

    def run(self, job: FilterInput, p: InvertParams, on_step: StepCallback) -> list[OutputLayer]:
        return [OutputLayer("inverted", 1 - job.image), OutputLayer("half", job.image * 0.5)]


@pytest.mark.parametrize("fmt", ["u8", "u16", "f32"])
def test_in_place_blend_gives_the_same_layers_as_copies(fmt: str) -> None:
    """The first result is blended over the layer's own bytes only after the others are made
    from them; every result equals the copying path's, and the changed range is right."""
    flt = Registry(Context(), [TwoOutputs]).get("two_outputs")
    layer, mask = make_layer(50, 40, fmt, seed=3), rect_mask(50, 40, 7, 5, 30, 22)

    def job(pixels: bytearray, in_place: bool) -> Job:
        img = WireImage(50, 40, fmt, memoryview(pixels))
        return Job("two_outputs", img, WireImage(50, 40, "u8", mask.pixels), in_place=in_place)

    copied = execute(flt, job(bytearray(layer.pixels), False), lambda s: None)
    buf = bytearray(layer.pixels)
    blended = execute(flt, job(buf, True), lambda s: None)
    assert [bytes(r.pixels) for r in copied] == [bytes(r.pixels) for r in blended]
    assert bytes(buf) == bytes(copied[0].pixels)  # the layer's bytes are the first result
    assert bytes(copied[0].pixels) != layer.pixels and copied[0].changed is None
    lo, hi = blended[0].changed
    assert blended[1].changed is None
    assert buf[:lo] == layer.pixels[:lo] and buf[hi:] == layer.pixels[hi:]
    assert buf[lo:hi] != layer.pixels[lo:hi]


@needs_shm
def test_result_checksum_from_blocks_spans_many_blocks(live_server, monkeypatch) -> None:
    """Small blocks, so the selection's rows touch several: the server's crc32 of the result
    (from block checksums) is checked over every byte by the client, and the bytes match the
    streamed result's."""
    monkeypatch.setattr(crc, "BLOCK", 1000)
    layer, mask = make_layer(120, 90, "u16", seed=11), rect_mask(120, 90, 13, 17, 101, 61)
    with live_server.client(shared_memory=False) as s, live_server.client() as m:
        (streamed,) = s.run("test_invert", layer, mask).layers
        (shared,) = m.run("test_invert", layer, mask).layers
        assert (m._t.shared_jobs, m._t.shared_refusals) == (1, 0)
    assert shared.pixels == streamed.pixels != layer.pixels


def _segments() -> set[str]:
    return set(n for n in os.listdir(shm.SHM_DIR) if n.startswith(f"nlf-{os.getpid()}-"))


@needs_shm
@pytest.mark.parametrize("refcount", [True, False], ids=["refcount", "close-probe"])
def test_result_views_are_read_only_and_kept_until_dropped(
    live_server, monkeypatch, refcount: bool
) -> None:
    """``result_views=True``: results are read-only views of the segment; a segment held by a
    live view is not lent to the next job (the view keeps its bytes); once the views are gone
    it is used again; closing the client unlinks it while a view still reads. Also for a
    Python without ``sys.getrefcount``."""
    if not refcount:
        monkeypatch.delattr(shm.sys, "getrefcount")
    a, b = make_layer(64, 48, seed=1), make_layer(64, 48, seed=2)
    before = _segments()  # other clients' segments in this process (earlier tests) are not ours
    with Client.connect(live_server.address, result_views=True) as c:
        (first,) = c.run("test_invert", a).layers
        assert isinstance(first.pixels, memoryview) and first.pixels.readonly
        kept = bytes(first.pixels)
        derived = np.frombuffer(first.pixels, np.uint8)[::2]  # a view made from the view
        del first
        (second,) = c.run("test_invert", b).layers
        assert bytes(derived) == kept[::2]  # not overwritten by the second job
        assert np.array_equal(as_array(second)[..., :3], 255 - as_array(b)[..., :3])
        names = _segments() - before
        assert names  # this client made its own
        del derived, second
        gc.collect()
        for _ in range(3):
            (out,) = c.run("test_invert", a).layers
            assert bytes(out.pixels) == kept
            del out
        now = _segments() - before
        assert now <= names  # the freed segments were used again, no new ones
        (last,) = c.run("test_invert", a).layers
    assert not any(n in os.listdir(shm.SHM_DIR) for n in now)  # unlinked on close
    assert bytes(last.pixels) == kept  # the view still reads after the unlink


@needs_shm
def test_without_result_views_results_are_bytes(live_server) -> None:
    with live_server.client() as c:
        (out,) = c.run("test_invert", make_layer(8, 8)).layers
        assert type(out.pixels) is bytes and c._t.shared_jobs == 1
