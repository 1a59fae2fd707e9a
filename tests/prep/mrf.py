"""Contract-test preparation for ``mrf``: nothing to install; fast settings for tiny nets."""

from __future__ import annotations

from backend.filters.base import Context


def prepare(ctx: Context) -> dict[str, object]:
    """Raw param overrides: one small level with a few iterations (the style layer comes random)."""
    del ctx
    return {"levels": 1, "iterations": 2, "max_size": 64}
