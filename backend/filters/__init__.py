"""Product filters: every module in this package (but ``base``) registers one or more filters."""

from __future__ import annotations

import importlib
import pkgutil

from backend.filters.base import registered


def load_all() -> None:
    """Import every filter module so that its ``@register_filter`` runs."""
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


__all__ = ["load_all", "registered"]
