"""Parameter widgets generated from a filter's schema (one widget per ``ParamSpec`` kind)."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import qt
from .client import Colour, FilterSpec, ParamSpec, session

NO_LAYER = "(none)"


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


_MAKE = {"float": qt.QDoubleSpinBox, "int": qt.QSpinBox, "bool": qt.QCheckBox}
_MAKE.update({"choice": qt.QComboBox, "string": qt.QLineEdit, "layer": LayerPicker})
_READ = {"float": "value", "int": "value", "bool": "isChecked", "choice": "currentText"}
_READ.update({"string": "text", "colour": "colour"})


def make_widget(spec: ParamSpec, layers: Sequence[Tuple[str, str]], parent: Any) -> Any:
    """The editor for one parameter as the session core plans it (``form.plan``);
    ``layers`` = (label, id) of the document's layers."""
    f = session.form.plan(spec)
    w = ColourButton(f.default, parent) if f.kind == "colour" else _MAKE[f.kind](parent)
    if f.kind in ("float", "int"):
        if f.kind == "float":
            w.setDecimals(f.decimals)
        w.setRange(f.lo, f.hi)
        w.setSingleStep(f.step)
    elif f.kind == "choice":
        w.addItems(list(f.choices))
    elif f.kind == "layer":
        w.fill(spec, layers)
    write_widget(spec, w, f.default)
    w.setObjectName(f"nlf_param_{spec.name}")
    if f.help:
        w.setToolTip(f.help)
    return w


def read_widget(spec: ParamSpec, w: Any) -> Any:
    """The widget's value as the client sends it (a layer picker: the chosen layer's id)."""
    if spec.kind == "layer":
        return w.currentData() or ""
    return session.form.typed(spec.kind, getattr(w, _READ[spec.kind])())


def write_widget(spec: ParamSpec, w: Any, value: Any) -> None:
    kind = spec.kind
    if kind in ("float", "int", "bool"):
        (w.setChecked if kind == "bool" else w.setValue)(session.form.typed(kind, value))
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
            self._form.addRow(session.form.plan(p).row_label, w)

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
