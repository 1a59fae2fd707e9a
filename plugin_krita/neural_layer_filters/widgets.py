"""Parameter widgets generated from a filter's schema (one widget per ``ParamSpec`` kind)."""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import qt
from .client import Colour, FilterSpec, ParamSpec

NO_LAYER = "(none)"
_INT_LIMIT = 2**31 - 1
_PLAIN = {"bool": qt.QCheckBox, "choice": qt.QComboBox, "string": qt.QLineEdit}
_EMPTY = {"float": 0.0, "int": 0, "bool": False, "choice": "", "string": ""}
"""What a kind's widget shows when the schema gives no default."""


class ColourButton(qt.QPushButton):
    """A button showing a colour; clicking it opens the colour dialog."""

    def __init__(self, colour: Colour, parent: Optional[Any] = None) -> None:
        super().__init__(parent)
        self.clicked.connect(self._pick)
        self.set_colour(colour)

    def colour(self) -> Colour:
        return self._colour

    def set_colour(self, colour: Colour) -> None:
        self._colour = colour
        name = qt.QColor.fromRgbF(colour.r, colour.g, colour.b, colour.a).name()
        self.setText(name)
        self.setStyleSheet(f"background-color: {name}")

    def _pick(self) -> None:
        c, alpha = self._colour, qt.QColorDialog.ColorDialogOption.ShowAlphaChannel
        q = qt.QColorDialog.getColor(qt.QColor.fromRgbF(c.r, c.g, c.b, c.a), self, options=alpha)
        if q.isValid():
            self.set_colour(Colour(q.redF(), q.greenF(), q.blueF(), q.alphaF()))


class LayerPicker(qt.QComboBox):
    """A combo box of the document's layers, refilled just before it opens."""

    opening = qt.pyqtSignal()

    def showPopup(self) -> None:
        self.opening.emit()
        super().showPopup()

    def fill(self, spec: ParamSpec, layers: Sequence[Tuple[str, str]]) -> None:
        current = self.currentData()
        self.clear()
        if not spec.required:
            self.addItem(NO_LAYER, "")
        for label, node_id in layers:
            self.addItem(label, node_id)
        write_widget(spec, self, current)


def _decimals(step: Optional[float]) -> int:
    if not step or step >= 1:
        return 2
    return min(6, max(2, math.ceil(-math.log10(step) - 1e-9)))


def make_widget(spec: ParamSpec, layers: Sequence[Tuple[str, str]], parent: Any) -> Any:
    """The editor for one parameter; ``layers`` = (label, id) of the document's layers."""
    kind = spec.kind
    if kind in ("float", "int"):
        cast, limit = (float, 1e9) if kind == "float" else (int, _INT_LIMIT)
        w = qt.QDoubleSpinBox(parent) if kind == "float" else qt.QSpinBox(parent)
        if kind == "float":
            w.setDecimals(_decimals(spec.step))
        lo = cast(spec.min) if spec.min is not None else -limit
        w.setRange(lo, cast(spec.max) if spec.max is not None else limit)
        w.setSingleStep(cast(spec.step or (0.1 if kind == "float" else 1)))
    elif kind in _PLAIN:
        w = _PLAIN[kind](parent)
        if kind == "choice":
            w.addItems(list(spec.choices))
    elif kind == "colour":
        default = spec.default if isinstance(spec.default, Colour) else Colour(0, 0, 0, 1)
        w = ColourButton(default, parent)
    elif kind == "layer":
        w = LayerPicker(parent)
        w.fill(spec, layers)
    else:
        raise ValueError(f"unknown parameter kind {kind!r}")
    if kind in _EMPTY:
        write_widget(spec, w, _EMPTY[kind] if spec.default is None else spec.default)
    w.setObjectName(f"nlf_param_{spec.name}")
    if spec.help:
        w.setToolTip(spec.help)
    return w


def read_widget(spec: ParamSpec, w: Any) -> Any:
    """The widget's value as the client sends it (a layer picker: the chosen layer's id)."""
    kind = spec.kind
    if kind in ("float", "int"):
        return (float if kind == "float" else int)(w.value())
    if kind == "bool":
        return bool(w.isChecked())
    if kind in ("choice", "string"):
        return w.currentText() if kind == "choice" else w.text()
    return w.colour() if kind == "colour" else w.currentData() or ""


def write_widget(spec: ParamSpec, w: Any, value: Any) -> None:
    kind = spec.kind
    if kind in ("float", "int"):
        w.setValue((float if kind == "float" else int)(value))
    elif kind == "bool":
        w.setChecked(bool(value))
    elif kind == "choice" and value in spec.choices:
        w.setCurrentIndex(list(spec.choices).index(value))
    elif kind == "string":
        w.setText(str(value))
    elif kind == "colour" and isinstance(value, Colour):
        w.set_colour(value)
    elif kind == "layer" and w.findData(value) >= 0:
        w.setCurrentIndex(w.findData(value))


class ParamForm(qt.QWidget):
    """A form with one row per parameter of ``spec``."""

    def __init__(
        self,
        parent: Optional[Any] = None,
        layer_source: Callable[[], Sequence[Tuple[str, str]]] = lambda: (),
    ) -> None:
        super().__init__(parent)
        self.setObjectName("nlf_param_form")
        self.layer_source = layer_source
        self._form = qt.QFormLayout(self)
        self.spec: Optional[FilterSpec] = None
        self.widgets: Dict[str, Any] = {}

    def build(self, spec: FilterSpec) -> None:
        while self._form.rowCount():
            self._form.removeRow(0)
        self.spec, self.widgets = spec, {}
        layers = self.layer_source()
        for p in spec.params:
            w = make_widget(p, layers, self)
            if isinstance(w, LayerPicker):
                w.opening.connect(self.refresh_layers)
            self.widgets[p.name] = w
            self._form.addRow(p.label + (" *" if p.kind == "layer" and p.required else ""), w)

    def refresh_layers(self) -> None:
        """Refill the layer pickers, keeping each current choice when that layer still exists."""
        layers = self.layer_source()
        for p in self.layer_specs():
            self.widgets[p.name].fill(p, layers)

    def layer_specs(self) -> List[ParamSpec]:
        return [p for p in (self.spec.params if self.spec else ()) if p.kind == "layer"]

    def values(self) -> Dict[str, Any]:
        """Every parameter's value; layer parameters give the chosen layer's id ("" = none)."""
        return {p.name: read_widget(p, self.widgets[p.name]) for p in self.params()}

    def params(self) -> Sequence[ParamSpec]:
        return self.spec.params if self.spec else ()

    def set_values(self, values: Dict[str, Any]) -> None:
        for p in self.params():
            if p.name in values:
                write_widget(p, self.widgets[p.name], values[p.name])
