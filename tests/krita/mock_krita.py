"""A fake ``krita`` module: just enough of Krita 5.1's Python API for the plug-in's unit tests.

Pixels are kept as Krita keeps them: native-endian channels, B, G, R, A for U8/U16 and R, G, B, A
for F16/F32; a selection is one byte per pixel.
"""

from __future__ import annotations

import itertools
from typing import Any, Dict, List, Optional

from tests.krita import qt_binding

QObject = qt_binding.load("QtCore").QObject
QDockWidget = qt_binding.load("QtWidgets").QDockWidget

BYTES_PER_CHANNEL = {"U8": 1, "U16": 2, "F16": 2, "F32": 4}
_ids = itertools.count(1)


class Node:
    def __init__(self, doc: Document, name: str, kind: str = "paintlayer") -> None:
        self.doc, self._name, self._type = doc, name, kind
        self._model, self._depth = doc.colorModel(), doc.colorDepth()
        self._uid = f"{{node-{next(_ids)}}}"
        self._parent: Optional[Node] = None
        self._children: List[Node] = []
        self.data = bytearray(self._bpp * doc.width() * doc.height())
        self.writes = 0

    @property
    def _bpp(self) -> int:
        return 4 * BYTES_PER_CHANNEL[self._depth]

    def name(self) -> str:
        return self._name

    def setName(self, name: str) -> None:
        self._name = name

    def type(self) -> str:
        return self._type

    def colorModel(self) -> str:
        return self._model

    def colorDepth(self) -> str:
        return self._depth

    def uniqueId(self) -> str:
        return self._uid

    def parentNode(self) -> Optional[Node]:
        return self._parent

    def childNodes(self) -> List[Node]:
        """Bottom first, as Krita orders them."""
        return list(self._children)

    def addChildNode(self, child: Node, above: Optional[Node]) -> bool:
        index = self._children.index(above) + 1 if above is not None else 0
        self._children.insert(index, child)
        child._parent = self
        return True

    def _rows(self, x: int, y: int, w: int, h: int) -> List[slice]:
        full, bpp = self.doc.width(), self._bpp
        return [slice((yy * full + x) * bpp, (yy * full + x + w) * bpp) for yy in range(y, y + h)]

    def pixelData(self, x: int, y: int, w: int, h: int) -> bytes:
        return b"".join(bytes(self.data[s]) for s in self._rows(x, y, w, h))

    projectionPixelData = pixelData

    def setPixelData(self, data: bytes, x: int, y: int, w: int, h: int) -> bool:
        assert len(data) == w * h * self._bpp, (len(data), w, h, self._bpp)
        row = w * self._bpp
        for i, s in enumerate(self._rows(x, y, w, h)):
            self.data[s] = data[i * row : (i + 1) * row]
        self.writes += 1
        return True


class Selection:
    def __init__(self, w: int = 0, h: int = 0) -> None:
        self.w, self.h = w, h
        self.data = bytearray(w * h)

    def select(self, x: int, y: int, w: int, h: int, value: int) -> None:
        for yy in range(y, y + h):
            self.data[yy * self.w + x : yy * self.w + x + w] = bytes([value]) * w

    def pixelData(self, x: int, y: int, w: int, h: int) -> bytes:
        return b"".join(
            bytes(self.data[yy * self.w + x : yy * self.w + x + w]) for yy in range(y, y + h)
        )


class Document:
    def __init__(self, w: int, h: int, model: str = "RGBA", depth: str = "U8") -> None:
        self._w, self._h, self._model, self._depth = w, h, model, depth
        self._root = Node(self, "root", "grouplayer")
        self._active: Optional[Node] = None
        self._selection: Optional[Selection] = None
        self.refreshed = 0

    def width(self) -> int:
        return self._w

    def height(self) -> int:
        return self._h

    def colorModel(self) -> str:
        return self._model

    def colorDepth(self) -> str:
        return self._depth

    def rootNode(self) -> Node:
        return self._root

    def createNode(self, name: str, kind: str) -> Node:
        return Node(self, name, kind)

    def activeNode(self) -> Optional[Node]:
        return self._active

    def setActiveNode(self, node: Node) -> None:
        self._active = node

    def selection(self) -> Optional[Selection]:
        return self._selection

    def setSelection(self, sel: Optional[Selection]) -> None:
        self._selection = sel

    def refreshProjection(self) -> None:
        self.refreshed += 1

    def waitForDone(self) -> None:
        pass


class View:
    def __init__(self, selected: List[Node]) -> None:
        self.selected = selected

    def selectedNodes(self) -> List[Node]:
        return list(self.selected)


class Window:
    def __init__(self) -> None:
        self.view = View([])

    def activeView(self) -> View:
        return self.view


class Krita(QObject):
    _instance: Optional[Krita] = None

    def __init__(self) -> None:
        super().__init__()
        self.settings: Dict[tuple, str] = {}
        self.docs: List[Document] = []
        self.active: Optional[Document] = None
        self.window = Window()
        self.extensions: List[Any] = []
        self.factories: List[Any] = []

    @classmethod
    def instance(cls) -> Krita:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def readSetting(self, group: str, name: str, default: str) -> str:
        return self.settings.get((group, name), default)

    def writeSetting(self, group: str, name: str, value: str) -> None:
        self.settings[(group, name)] = value

    def activeDocument(self) -> Optional[Document]:
        return self.active

    def documents(self) -> List[Document]:
        return list(self.docs)

    def activeWindow(self) -> Window:
        return self.window

    def addExtension(self, ext: Any) -> None:
        self.extensions.append(ext)

    def addDockWidgetFactory(self, factory: Any) -> None:
        self.factories.append(factory)

    # test helpers
    def open(self, doc: Document) -> Document:
        self.docs.append(doc)
        self.active = doc
        return doc


class Extension(QObject):
    def __init__(self, parent: Any = None) -> None:
        super().__init__()


class DockWidget(QDockWidget):
    pass


class DockWidgetFactoryBase:
    DockRight = 1


class DockWidgetFactory:
    def __init__(self, name: str, where: int, cls: type) -> None:
        self.name, self.where, self.cls = name, where, cls
