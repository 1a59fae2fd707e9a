"""A ``dns:///`` address whose name has several A records: gRPC's round_robin uses them all.

gRPC's c-ares resolver takes the DNS server from the target's authority
(``dns://127.0.0.1:PORT/name.test:50051``), so the test answers the queries itself: a stdlib UDP
responder gives ``backends.nlf.test`` three A records, 127.0.0.1, 127.0.0.2 and 127.0.0.3 (all
of 127/8 is loopback on Linux), and three backends listen on those addresses on one port.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from backend.serving.registry import Registry
from backend.serving.server import create_server
from nlf_client import Client
from tests.conftest import tiny_context
from tests.fakes import TEST_FILTERS, make_layer

NAME = "backends.nlf.test"
HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
A, IN = 1, 1

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="needs all of 127/8 as loopback (Linux)"
)


def _question(packet: bytes) -> tuple[str, int, int]:
    """The first question's name, type and the offset after it."""
    labels, i = [], 12
    while packet[i]:
        n = packet[i]
        labels.append(packet[i + 1 : i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    qtype = struct.unpack("!H", packet[i + 1 : i + 3])[0]
    return ".".join(labels).lower(), qtype, i + 5


def answer(packet: bytes, records: dict[str, tuple[str, ...]]) -> bytes:
    """A DNS reply: A records of a known name; no records (NOERROR) for its other types;
    NXDOMAIN for any other name."""
    ident, flags = struct.unpack("!HH", packet[:4])
    name, qtype, end = _question(packet)
    question = packet[12:end]
    addresses = records.get(name)
    found = addresses if qtype == A and addresses else ()
    rcode = 0 if addresses is not None else 3
    out = struct.pack("!HHHHHH", ident, 0x8400 | (flags & 0x0100) | rcode, 1, len(found), 0, 0)
    out += question
    for ip in found:  # name = pointer to the question's name (offset 12)
        out += struct.pack("!HHHIH", 0xC00C, A, IN, 60, 4) + socket.inet_aton(ip)
    return out


class DnsResponder:
    """Answers UDP DNS queries on 127.0.0.1 from a dict; counts the A queries for ``NAME``."""

    def __init__(self, records: dict[str, tuple[str, ...]]) -> None:
        self.records = records
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                packet, peer = self.sock.recvfrom(512)
            except OSError:
                return
            try:
                reply = answer(packet, self.records)
            except (IndexError, struct.error):
                continue
            if _question(packet)[:2] == (NAME, A):
                self.queries += 1
            self.sock.sendto(reply, peer)

    def close(self) -> None:
        self.sock.close()


def test_responder_answers_like_a_dns_server() -> None:
    """The responder itself: three A records for the name, none for AAAA, NXDOMAIN otherwise."""

    def query(name: str, qtype: int) -> bytes:
        q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
        return struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", qtype, IN)

    records = {NAME: HOSTS}
    reply = answer(query(NAME, A), records)
    ident, flags, qd, an = struct.unpack("!HHHH", reply[:8])
    assert (ident, flags & 0x8000, flags & 0xF, qd, an) == (7, 0x8000, 0, 1, 3)
    starts = [len(reply) - 16 * k for k in (3, 2, 1)]  # each A record is 16 bytes
    assert [socket.inet_ntoa(reply[s + 12 : s + 16]) for s in starts] == list(HOSTS)
    assert struct.unpack("!HHHH", answer(query(NAME, 28), records)[:8])[3] == 0
    assert struct.unpack("!HH", answer(query("other.test", A), records)[:4])[1] & 0xF == 3


def _serve_on(hosts: tuple[str, ...], tmp: Path) -> tuple[int, list]:
    """One backend per host on one shared port (the first host picks a free one)."""
    for _ in range(5):
        started, port = [], 0
        try:
            for i, host in enumerate(hosts):
                registry = Registry(tiny_context(tmp / f"b{i}"), list(TEST_FILTERS))
                server, bound, worker = create_server(f"{host}:{port}", registry)
                server.start()
                started.append((server, worker))
                port = bound
            return port, started
        except RuntimeError:  # the port is taken on another loopback address: pick another
            _stop(started)
    pytest.skip("no port free on 127.0.0.1-3")


def _stop(started: list) -> None:
    for server, worker in started:
        worker.close()
        server.stop(0).wait()


@pytest.fixture
def dns_backends(tmp_path: Path) -> Iterator[tuple[str, list, DnsResponder]]:
    dns = DnsResponder({NAME: HOSTS})
    port, started = _serve_on(HOSTS, tmp_path)
    try:
        yield f"dns://127.0.0.1:{dns.port}/{NAME}:{port}", started, dns
    finally:
        _stop(started)
        dns.close()


def test_dns_name_with_three_records_spreads_jobs_over_three_backends(dns_backends) -> None:
    address, started, dns = dns_backends
    counts = [0] * len(started)
    for i, (_, worker) in enumerate(started):
        submit = worker.submit

        def counting(ticket, _submit=submit, _i=i):
            counts[_i] += 1
            return _submit(ticket)

        worker.submit = counting
    slow = {"steps": 4, "delay": 0.02}
    with Client.connect(address, timeout=10) as c, ThreadPoolExecutor(3) as pool:
        jobs = [pool.submit(c.run, "test_slow", make_layer(2, 2), None, slow) for _ in range(12)]
        for j in jobs:
            assert len(j.result(30).layers) == 1
    assert dns.queries >= 1, "gRPC did not ask our DNS server"
    assert all(n > 0 for n in counts), f"jobs per backend: {counts}"
    assert sum(counts) == 12
