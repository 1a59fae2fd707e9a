"""From a backend address to a gRPC channel: targets, TLS, tokens, load balancing.

An address is ``host:port``, several of them separated by commas (``h1:50051,h2:50051``), or a
gRPC target with a scheme (``dns:///gpus.example:50051``, ``ipv4:10.0.0.1:1,10.0.0.2:1``,
``unix:/run/nlf.sock``). Jobs are spread over the addresses by gRPC's own ``round_robin``
policy; calls that find a backend unreachable before it answered are retried by gRPC's retry
policy (service config below). Nothing here schedules jobs itself.

Runs on the editors' Pythons (3.9 and later): no 3.10+ syntax at run time.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from typing import Any, List, Optional, Sequence, Tuple

import grpc

from .errors import BackendError

SERVICE_CONFIG = json.dumps(
    {
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [
            {
                "name": [{"service": "nlf.v1.Filters"}],
                "retryPolicy": {
                    "maxAttempts": 3,
                    "initialBackoff": "0.2s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ],
    }
)
_SCHEMES = ("dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:", "vsock:")


def _split_host(hostport: str) -> Tuple[str, str]:
    text = hostport.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, rest.lstrip(":")
    host, sep, port = text.rpartition(":")
    return (host, port) if sep else (text, "")


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _ip_of(host: str, address: str) -> Any:
    """An IP address for one of several ``host:port`` entries (names resolved once, here)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host.lower() == "localhost":
        return ipaddress.ip_address("127.0.0.1")
    try:
        info = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
    except OSError as exc:
        message = f"cannot resolve '{host}' in '{address}': {exc}"
        raise BackendError("INVALID_ARGUMENT", message) from None
    return ipaddress.ip_address(info[0][4][0])


class Target:
    """A parsed backend address: the gRPC target string and the hosts it names."""

    def __init__(self, address: str) -> None:
        self.address = address.strip()
        if not self.address:
            raise BackendError("INVALID_ARGUMENT", "the backend address is empty")
        self.hosts: List[str] = []
        self.local_socket = False
        lower = self.address.lower()
        if lower.startswith(_SCHEMES):
            self.target = self.address
            self._hosts_of_scheme()
        elif "," in self.address:
            self.target = self._ip_list([p for p in self.address.split(",") if p.strip()])
        else:
            host, port = _split_host(self.address)
            if not host or not port.isdigit():
                raise BackendError(
                    "INVALID_ARGUMENT", f"backend address '{self.address}' is not HOST:PORT"
                )
            self.hosts = [host]
            self.target = self.address

    @property
    def count(self) -> int:
        """How many backends the address names (1 for a dns:/// name: resolved by gRPC)."""
        return max(1, len(self.hosts))

    @property
    def is_loopback(self) -> bool:
        """Every backend it names is on this machine (a token may then travel in cleartext)."""
        if self.local_socket:
            return True
        return bool(self.hosts) and all(_is_loopback(h) for h in self.hosts)

    def _hosts_of_scheme(self) -> None:
        scheme, _, rest = self.address.partition(":")
        scheme = scheme.lower()
        if scheme in ("unix", "unix-abstract"):
            self.local_socket = True
        elif scheme == "dns":
            if rest.startswith("//"):
                rest = rest[2:].partition("/")[2]  # dns://authority/host:port
            self.hosts = [_split_host(rest)[0]]
        elif scheme in ("ipv4", "ipv6"):
            self.hosts = [_split_host(p)[0] for p in rest.split(",") if p.strip()]

    def _ip_list(self, parts: Sequence[str]) -> str:
        entries = []
        families = set()
        for part in parts:
            host, port = _split_host(part)
            if not host or not port.isdigit():
                raise BackendError(
                    "INVALID_ARGUMENT", f"'{part.strip()}' in '{self.address}' is not HOST:PORT"
                )
            self.hosts.append(host)
            ip = _ip_of(host, self.address)
            families.add(ip.version)
            entries.append(f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}")
        if len(families) > 1:
            raise BackendError(
                "INVALID_ARGUMENT",
                f"'{self.address}' mixes IPv4 and IPv6 backends; list one family, or put them "
                "behind one dns:/// name",
            )
        return ("ipv6:" if families == {6} else "ipv4:") + ",".join(entries)


def read_ca(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise BackendError(
            "INVALID_ARGUMENT", f"cannot read the TLS CA file '{path}': {exc.strerror}"
        ) from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise BackendError("INVALID_ARGUMENT", f"the TLS CA file '{path}' holds no PEM certificate")
    return data


def open_channel(
    address: str,
    token: Optional[str],
    tls_ca: Optional[str],
    options: Sequence[Tuple[str, Any]],
) -> Tuple[Any, List[Tuple[str, str]], Target]:
    """``(channel, per-call metadata, target)``.

    With ``tls_ca`` (a PEM file; ``"system"`` = the system's roots) the channel is TLS and the
    token travels as gRPC access-token call credentials. Without it the token goes as plain
    metadata, which is refused for any backend that is not on this machine.
    """
    target = Target(address)
    opts = list(options) + [("grpc.service_config", SERVICE_CONFIG), ("grpc.enable_retries", 1)]
    if tls_ca:
        roots = None if tls_ca == "system" else read_ca(tls_ca)
        if target.target.startswith(("ipv4:", "ipv6:")) and not _is_ip(target.hosts[0]):
            # a list of names became IP addresses: check certificates against the first name
            opts.append(("grpc.default_authority", target.hosts[0]))
        creds = grpc.ssl_channel_credentials(root_certificates=roots)
        if token:
            creds = grpc.composite_channel_credentials(
                creds, grpc.access_token_call_credentials(token)
            )
        return grpc.secure_channel(target.target, creds, options=opts), [], target
    if token and not target.is_loopback:
        raise BackendError(
            "FAILED_PRECONDITION",
            f"refusing to send the token in cleartext to {address}: it is not on this machine. "
            "Serve with --tls-cert/--tls-key and give the client the CA file (--tls-ca, or the "
            "plug-in's 'TLS CA file' setting)",
        )
    metadata = [("authorization", f"Bearer {token}")] if token else []
    return grpc.insecure_channel(target.target, options=opts), metadata, target
