"""Parameter widgets generated from a filter's schema (one widget per ``ParamSpec`` kind)."""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .client import Colour, FilterSpec, ParamSpec
from .qt import (
    QCheckBox,
    QColor,
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
    pyqtSignal,
)

NO_LAYER = "(none)"
_INT_LIMIT = 2**31 - 1


class ColourButton(QPushButton):
    """A button showing a colour; clicking it opens the colour dialog."""

    def __init__(self, colour: Colour, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.clicked.connect(self._pick)
        self.set_colour(colour)

    def colour(self) -> Colour:
        return self._colour

    def set_colour(self, colour: Colour) -> None:
        self._colour = colour
        q = QColor.fromRgbF(colour.r, colour.g, colour.b, colour.a)
        self.setText(q.name())
        self.setStyleSheet(f"background-color: {q.name()}")

    def _pick(self) -> None:
        c = self._colour
        alpha = QColorDialog.ColorDialogOption.ShowAlphaChannel
        q = QColorDialog.getColor(QColor.fromRgbF(c.r, c.g, c.b, c.a), self, options=alpha)
        if q.isValid():
            self.set_colour(Colour(q.redF(), q.greenF(), q.blueF(), q.alphaF()))


class LayerPicker(QComboBox):
    """A combo box of the document's layers, refilled just before it opens."""

    opening = pyqtSignal()

    def showPopup(self) -> None:
        self.opening.emit()
        super().showPopup()


def _decimals(step: Optional[float]) -> int:
    if not step or step >= 1:
        return 2
    return min(6, max(2, math.ceil(-math.log10(step) - 1e-9)))


def make_widget(spec: ParamSpec, layers: Sequence[Tuple[str, str]], parent: QWidget) -> QWidget:
    """The editor for one parameter; ``layers`` = (label, id) of the document's layers."""
    kind = spec.kind
    if kind == "float":
        w: QWidget = QDoubleSpinBox(parent)
        w.setDecimals(_decimals(spec.step))
        w.setRange(
            spec.min if spec.min is not None else -1e9, spec.max if spec.max is not None else 1e9
        )
        w.setSingleStep(spec.step or 0.1)
        w.setValue(float(spec.default or 0.0))
    elif kind == "int":
        w = QSpinBox(parent)
        w.setRange(
            int(spec.min) if spec.min is not None else -_INT_LIMIT,
            int(spec.max) if spec.max is not None else _INT_LIMIT,
        )
        w.setSingleStep(int(spec.step or 1))
        w.setValue(int(spec.default or 0))
    elif kind == "bool":
        w = QCheckBox(parent)
        w.setChecked(bool(spec.default))
    elif kind == "choice":
        w = QComboBox(parent)
        w.addItems(list(spec.choices))
        if spec.default in spec.choices:
            w.setCurrentIndex(list(spec.choices).index(spec.default))
    elif kind == "string":
        w = QLineEdit(str(spec.default or ""), parent)
    elif kind == "colour":
        default = spec.default if isinstance(spec.default, Colour) else Colour(0, 0, 0, 1)
        w = ColourButton(default, parent)
    elif kind == "layer":
        w = LayerPicker(parent)
        if not spec.required:
            w.addItem(NO_LAYER, "")
        for label, node_id in layers:
            w.addItem(label, node_id)
    else:
        raise ValueError(f"unknown parameter kind {kind!r}")
    w.setObjectName(f"nlf_param_{spec.name}")
    if spec.help:
        w.setToolTip(spec.help)
    return w


def read_widget(spec: ParamSpec, w: Any) -> Any:
    """The widget's value as the client sends it (a layer picker: the chosen layer's id)."""
    kind = spec.kind
    if kind == "float":
        return float(w.value())
    if kind == "int":
        return int(w.value())
    if kind == "bool":
        return bool(w.isChecked())
    if kind == "choice":
        return w.currentText()
    if kind == "string":
        return w.text()
    if kind == "colour":
        return w.colour()
    return w.currentData() or ""


def write_widget(spec: ParamSpec, w: Any, value: Any) -> None:
    kind = spec.kind
    if kind in ("float", "int"):
        w.setValue(value)
    elif kind == "bool":
        w.setChecked(bool(value))
    elif kind == "choice":
        if value in spec.choices:
            w.setCurrentIndex(list(spec.choices).index(value))
    elif kind == "string":
        w.setText(str(value))
    elif kind == "colour" and isinstance(value, Colour):
        w.set_colour(value)
    elif kind == "layer":
        index = w.findData(value)
        if index >= 0:
            w.setCurrentIndex(index)


class ParamForm(QWidget):
    """A form with one row per parameter of ``spec``."""

    def __init__(
        self,
        parent: Optional[QWidget] = None,
        layer_source: Callable[[], Sequence[Tuple[str, str]]] = lambda: (),
    ) -> None:
        super().__init__(parent)
        self.setObjectName("nlf_param_form")
        self.layer_source = layer_source
        self._form = QFormLayout(self)
        self.spec: Optional[FilterSpec] = None
        self.widgets: Dict[str, QWidget] = {}

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
            self._form.addRow(p.label + ("" if p.kind != "layer" or not p.required else " *"), w)

    def refresh_layers(self) -> None:
        """Refill the layer pickers, keeping each current choice when that layer still exists."""
        layers = self.layer_source()
        for p in self.layer_specs():
            w = self.widgets[p.name]
            current = w.currentData()
            w.clear()
            if not p.required:
                w.addItem(NO_LAYER, "")
            for label, node_id in layers:
                w.addItem(label, node_id)
            write_widget(p, w, current)

    def layer_specs(self) -> List[ParamSpec]:
        return [p for p in (self.spec.params if self.spec else ()) if p.kind == "layer"]

    def values(self) -> Dict[str, Any]:
        """Every parameter's value; layer parameters give the chosen layer's id ("" = none)."""
        if self.spec is None:
            return {}
        return {p.name: read_widget(p, self.widgets[p.name]) for p in self.spec.params}

    def set_values(self, values: Dict[str, Any]) -> None:
        for p in self.spec.params if self.spec else ():
            if p.name in values:
                write_widget(p, self.widgets[p.name], values[p.name])
