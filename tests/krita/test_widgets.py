"""Parameter widgets generated from the schema, one kind at a time (PyQt5/6, offscreen)."""

from __future__ import annotations

import pytest

from tests.krita import qt_binding  # isort: skip

pytest.importorskip(f"{qt_binding.NAME}.QtWidgets", reason=qt_binding.REASON)

from nlf_client import Colour, FilterSpec, ParamSpec

from neural_layer_filters.qt import (  # isort: skip
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QSpinBox,
)

from neural_layer_filters.widgets import (  # isort: skip
    NO_LAYER,
    ColourButton,
    LayerPicker,
    ParamForm,
    make_widget,
    read_widget,
    write_widget,
)

LAYERS = [("Top", "{1}"), ("Group / child", "{2}")]
KINDS = {
    "float": (ParamSpec("s", "float", "S", 0.5, min=0.0, max=2.0, step=0.05), QDoubleSpinBox, 1.25),
    "int": (ParamSpec("n", "int", "N", 10, min=1, max=500), QSpinBox, 42),
    "bool": (ParamSpec("b", "bool", "B", True), QCheckBox, False),
    "choice": (ParamSpec("c", "choice", "C", "b", choices=("a", "b", "c")), QComboBox, "c"),
    "string": (ParamSpec("t", "string", "T", "hi"), QLineEdit, "there"),
    "colour": (ParamSpec("k", "colour", "K", Colour(1, 0, 0, 1)), ColourButton, Colour(0, 0, 1, 1)),
    "layer": (ParamSpec("l", "layer", "L", None), LayerPicker, "{2}"),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_gets_its_widget_with_the_default(kind):
    """Every param kind maps to its editor, named nlf_param_<name>, showing the default."""
    spec, cls, _ = KINDS[kind]
    w = make_widget(spec, LAYERS, None)
    assert isinstance(w, cls)
    assert w.objectName() == f"nlf_param_{spec.name}"
    expected = "" if kind == "layer" else spec.default
    assert read_widget(spec, w) == expected


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_round_trips_a_new_value(kind):
    """Writing a value into a widget and reading it back gives the same typed value."""
    spec, _, value = KINDS[kind]
    w = make_widget(spec, LAYERS, None)
    write_widget(spec, w, value)
    got = read_widget(spec, w)
    assert got == value and type(got) is type(value)


def test_number_widgets_follow_min_max_step():
    """Spin boxes take the schema's range and step; decimals follow the step."""
    spec = KINDS["float"][0]
    w = make_widget(spec, (), None)
    assert (w.minimum(), w.maximum(), w.singleStep(), w.decimals()) == (0.0, 2.0, 0.05, 2)
    w.setValue(99)
    assert w.value() == 2.0
    fine = make_widget(ParamSpec("f", "float", "F", 0.0, step=0.001), (), None)
    assert fine.decimals() == 3 and fine.maximum() >= 1e6
    i = make_widget(KINDS["int"][0], (), None)
    assert (i.minimum(), i.maximum()) == (1, 500)


def test_layer_pickers_list_the_document_layers():
    """Optional layer params offer "(none)" first; required ones list only layers."""
    optional = make_widget(ParamSpec("l", "layer", "L"), LAYERS, None)
    assert [optional.itemText(i) for i in range(optional.count())] == [
        NO_LAYER,
        "Top",
        "Group / child",
    ]
    required = make_widget(ParamSpec("l", "layer", "L", required=True), LAYERS, None)
    assert [required.itemData(i) for i in range(required.count())] == ["{1}", "{2}"]
    assert read_widget(ParamSpec("l", "layer", "L", required=True), required) == "{1}"


def test_form_builds_every_row_and_reports_values():
    """A form holds one widget per param and returns all values, layers as ids."""
    spec = FilterSpec("f", "F", params=tuple(v[0] for v in KINDS.values()))
    layers = list(LAYERS)
    form = ParamForm(layer_source=lambda: layers)
    form.build(spec)
    assert set(form.widgets) == {p.name for p in spec.params}
    values = form.values()
    assert values == {**spec.defaults(), "l": ""}
    form.set_values({"n": 7, "l": "{1}"})
    assert form.values()["n"] == 7 and form.values()["l"] == "{1}"


def test_layer_pickers_refresh_and_keep_the_choice():
    """Refreshing the pickers follows the document and keeps a still-existing choice."""
    spec = FilterSpec("f", "F", params=(ParamSpec("l", "layer", "L"),))
    layers = list(LAYERS)
    form = ParamForm(layer_source=lambda: layers)
    form.build(spec)
    form.set_values({"l": "{2}"})
    layers.insert(0, ("New", "{3}"))
    form.widgets["l"].showPopup()  # refills before opening
    picker = form.widgets["l"]
    picker.hidePopup()
    assert picker.count() == 4 and form.values()["l"] == "{2}"
    layers[:] = [("Only", "{9}")]
    form.refresh_layers()
    assert form.values()["l"] == ""


def test_rebuilding_the_form_replaces_the_rows():
    """Switching filters leaves only the new filter's widgets."""
    form = ParamForm()
    form.build(FilterSpec("a", "A", params=(KINDS["int"][0], KINDS["bool"][0])))
    form.build(FilterSpec("b", "B", params=(KINDS["string"][0],)))
    assert list(form.widgets) == ["t"]
    assert form.findChildren(QSpinBox) == [] and form.findChildren(QCheckBox) == []


def test_model_tooltip_names_the_inferred_architecture(make_backend, tmp_path):
    """An imported third-party checkpoint's architecture reaches the Krita model widget's tooltip
    through the live schema (gRPC ListFilters)."""
    from backend.assets.models import ModelStore
    from tests.test_checkpoint_layouts import LAYOUTS, _save

    backend = make_backend()
    _, path = _save("affine_parts_ngf32_6", tmp_path / "src")
    ModelStore(backend.registry.ctx.models_dir).import_model(path, "portrait")
    with backend.client() as client:
        spec = next(f for f in client.list_filters() if f.id == "cyclegan")
    model = next(p for p in spec.params if p.name == "model")
    w = make_widget(model, (), None)
    assert isinstance(w, QComboBox) and w.currentText() == "portrait"
    assert f"portrait ({LAYOUTS['affine_parts_ngf32_6'][2]})" in w.toolTip()
