"""A fake editor document for the session core: layers by id, a selection, inserted results."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from nlf_client import Layer, Mask
from nlf_client.session import UserError


class FakeDocument:
    """Implements ``nlf_client.session.Document``; ``stack`` lists layer ids bottom to top."""

    def __init__(self, layers: Dict[str, Layer], selection: Optional[Mask] = None) -> None:
        self.layers = dict(layers)
        self.stack: List[str] = list(layers)
        self.mask = selection
        self.reads: List[Any] = []

    def read(self, ref: Any) -> Optional[Layer]:
        self.reads.append(ref)
        if ref == "a-mask":
            raise UserError("select a layer (not a mask) to filter")
        return self.layers.get(ref)

    def selection(self) -> Optional[Mask]:
        return self.mask

    def insert(self, above: Any, layers: Sequence[Layer], names: Sequence[str]) -> List[Any]:
        if above not in self.stack:
            raise UserError("the source layer was deleted; the result was dropped")
        at = self.stack.index(above) + 1
        for layer, name in zip(layers, names, strict=True):
            self.layers[name] = layer
            self.stack.insert(at, name)  # each new one right above the source: first on top
        return list(names)
