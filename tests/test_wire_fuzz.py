"""Fuzzing the request decoder: any byte soup is either a job or a BadImage, never a crash."""

from __future__ import annotations

from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.errors import BadImage, ParamError
from backend.serving.imaging import check_image, check_mask
from backend.serving.wire import read_job
from nlf_client.proto import filters_pb2 as pb

infos = st.builds(
    pb.ImageInfo,
    width=st.integers(-3, 9),
    height=st.integers(-3, 9),
    format=st.sampled_from([0, 1, 2, 3]),
)
chunks = st.builds(
    pb.PixelChunk,
    key=st.sampled_from(["layer", "mask", "style", "x"]),
    data=st.binary(max_size=400),
)
values = st.one_of(
    st.builds(pb.ParamValue, real=st.floats(allow_nan=True)),
    st.builds(pb.ParamValue, integer=st.integers(-(2**63), 2**63 - 1)),
    st.builds(pb.ParamValue, text=st.text(max_size=5)),
    st.just(pb.ParamValue()),
)


@st.composite
def requests(draw: st.DrawFn) -> list[pb.RunRequest]:
    header = pb.RunHeader(
        filter_id=draw(st.text(max_size=8)),
        layer=draw(infos),
        params=draw(st.dictionaries(st.text(max_size=5), values, max_size=3)),
        extra_layers=draw(st.dictionaries(st.sampled_from(["style", "mask"]), infos, max_size=1)),
    )
    if draw(st.booleans()):
        header.mask.CopyFrom(draw(infos))
    reqs = [pb.RunRequest(header=header)] if draw(st.integers(0, 9)) else []
    reqs += [pb.RunRequest(chunk=c) for c in draw(st.lists(chunks, max_size=4))]
    if draw(st.booleans()):
        reqs.insert(draw(st.integers(0, len(reqs))), pb.RunRequest(header=header))
    return reqs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reqs=requests())
def test_decoder_never_crashes(reqs: list[pb.RunRequest]) -> None:
    """read_job returns a consistent job or raises BadImage/ParamError with a message."""
    try:
        job, _ = read_job(reqs, max_pixels=64)
    except (BadImage, ParamError) as exc:
        assert str(exc)
        return
    try:
        layer = check_image("the layer", job.layer, 64)
    except BadImage as exc:  # e.g. NaN in f32 pixels: found at validation, also a clear error
        assert "non-finite" in str(exc)
        return
    assert layer.shape == (job.layer.height, job.layer.width, 4)
    check_mask(job.mask, job.layer)


@settings(max_examples=200, deadline=None)
@given(blob=st.binary(max_size=200))
def test_garbage_bytes_never_crash(blob: bytes) -> None:
    """Random bytes either fail to parse (protobuf's error) or decode like any request."""
    try:
        req = pb.RunRequest.FromString(blob)
    except DecodeError:  # SafeDecode answers INVALID_ARGUMENT; such bytes never reach read_job
        return
    try:
        job, _ = read_job([req], max_pixels=64)
    except (BadImage, ParamError) as exc:
        assert str(exc), "a refusal must say why"
        return
    # A lone message that decodes is a header without pixels: any job read from it is complete.
    assert len(job.layer.pixels) == job.layer.expected_size
