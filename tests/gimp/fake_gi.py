"""A tiny stand-in for ``gi.repository`` (Gimp, Gegl, Babl, GLib) to test document.py without GIMP.

Only what nlf_gimp.document touches; images record every call in ``events`` so tests can check the
undo-group structure and that the source is never written.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class Buffer:
    def __init__(self, owner: Any, data: bytes = b"") -> None:
        self.owner, self.data = owner, data

    def get(self, rect: tuple, scale: float, fmt: str, abyss: str) -> bytes:
        self.owner.events.append(("get", fmt, rect))
        return self.owner.read(rect, fmt)

    def set(self, rect: tuple, fmt: str, data: bytes) -> None:
        self.owner.events.append(("set", fmt, rect))
        if self.owner.fail_set:
            raise RuntimeError("buffer write failed")
        self.data = data

    def flush(self) -> None:
        pass


class Item:
    _next_id = 1

    def __init__(
        self,
        image: Any,
        name: str,
        w: int,
        h: int,
        x: int = 0,
        y: int = 0,
        pixels: bytes = b"",
        group: bool = False,
        layer: bool = True,
    ) -> None:
        self.image, self.name, self.w, self.h, self.x, self.y = image, name, w, h, x, y
        self.pixels, self.group, self.layer, self.fail_set = pixels, group, layer, False
        self.events: list[tuple] = image.events if image is not None else []
        self.buffer = Buffer(self, pixels)
        self.id = Item._next_id
        Item._next_id += 1

    def read(self, rect: tuple, fmt: str) -> bytes:
        return self.pixels

    def get_width(self) -> int:
        return self.w

    def get_height(self) -> int:
        return self.h

    def get_offsets(self) -> tuple:
        return True, self.x, self.y

    def get_buffer(self) -> Buffer:
        return self.buffer

    def get_name(self) -> str:
        return self.name

    def get_id(self) -> int:
        return self.id

    def get_image(self) -> Any:
        return self.image

    def get_parent(self) -> None:
        return None

    def is_layer(self) -> bool:
        return self.layer

    def is_group(self) -> bool:
        return self.group

    def set_offsets(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def update(self, *a: int) -> None:
        pass


class Selection:
    def __init__(self, image: Any) -> None:
        self.image = image
        self.buffer = Buffer(self)
        self.events = image.events
        self.fail_set = False

    def read(self, rect: tuple, fmt: str) -> bytes:
        return self.image.mask_for(rect)

    def get_buffer(self) -> Buffer:
        return self.buffer


class Image:
    def __init__(self, precision: str = "GIMP_PRECISION_U8_NON_LINEAR", base: str = "RGB") -> None:
        self.base = base
        self.events: list[tuple] = []
        self.layers: list[Item] = []
        self.precision = precision
        self.mask: bytes | None = None  # None = empty selection
        self.selection = Selection(self)
        self.fail_set_on_new = False

    def mask_for(self, rect: tuple) -> bytes:
        assert self.mask is not None
        return self.mask

    def get_base_type(self) -> str:
        return self.base

    def get_precision(self) -> Any:
        return types.SimpleNamespace(value_name=self.precision)

    def get_selection(self) -> Selection:
        return self.selection

    def undo_group_start(self) -> None:
        self.events.append(("undo_group_start",))

    def undo_group_end(self) -> None:
        self.events.append(("undo_group_end",))

    def get_item_position(self, item: Item) -> int:
        return [i.id for i in self.layers].index(item.id)

    def insert_layer(self, layer: Item, parent: Any, position: int) -> None:
        self.events.append(("insert_layer", layer.name, position))
        layer.fail_set = self.fail_set_on_new
        self.layers.insert(position, layer)

    def get_layers(self) -> list[Item]:
        return list(self.layers)


def _layer_new(
    image: Image, name: str, w: int, h: int, typ: Any, opacity: float, mode: Any
) -> Item:
    image.events.append(("layer_new", name))
    item = Item(image, name, w, h)
    item.image_type = typ
    return item


def install(monkeypatch: Any) -> None:
    """Put fake ``gi`` / ``gi.repository`` modules into sys.modules (undone by monkeypatch)."""
    gi = types.ModuleType("gi")
    gi.require_version = lambda *a: None
    repo = types.ModuleType("gi.repository")
    ns = types.SimpleNamespace
    repo.Gimp = ns(
        Layer=ns(new=_layer_new),
        ImageType=ns(RGBA_IMAGE="RGBA_IMAGE", GRAYA_IMAGE="GRAYA_IMAGE"),
        ImageBaseType=ns(RGB="RGB", GRAY="GRAY"),
        LayerMode=ns(NORMAL="NORMAL"),
        Selection=ns(is_empty=lambda image: image.mask is None),
        progress_init=lambda *a: None,
        progress_set_text=lambda *a: None,
        progress_update=lambda *a: None,
        progress_pulse=lambda *a: None,
        progress_end=lambda *a: None,
    )
    repo.Gegl = ns(Rectangle=ns(new=lambda *a: a), AbyssPolicy=ns(CLAMP="CLAMP", NONE="NONE"))
    repo.Babl = ns()
    repo.GLib = ns()
    gi.repository = repo
    monkeypatch.setitem(sys.modules, "gi", gi)
    monkeypatch.setitem(sys.modules, "gi.repository", repo)
    monkeypatch.delitem(sys.modules, "nlf_gimp.document", raising=False)
