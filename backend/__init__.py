"""Neural Layer Filters backend: gRPC server, filter registry and the filters themselves."""

__version__ = "0.1.0"
PROTOCOL_VERSION = 1
