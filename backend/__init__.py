"""Neural Layer Filters backend (map: docs/architecture.md, "Backend packages").

``filters`` (the product filters) are made of ``algorithms`` and installed ``assets``;
``serving`` runs them for gRPC clients, ``cli`` for ``python -m backend``; ``training``,
``evaluation`` and ``installers`` are the trainers, the quality protocols' shared code and the
editor installers. ``errors``, ``params``, ``dirs``, ``cancel`` and ``device`` are used by all.
"""

__version__ = "0.1.0"
PROTOCOL_VERSION = 1
