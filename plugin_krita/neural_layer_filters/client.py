"""The backend client: the copy of ``nlf_client`` installed inside this package, else the repo's
(a source checkout, the unit tests). ``session`` is its editor-neutral session core."""

from __future__ import annotations

import importlib

try:
    nlf = importlib.import_module(f"{__package__}.nlf_client")
except ModuleNotFoundError as exc:
    if exc.name != f"{__package__}.nlf_client":
        raise
    nlf = importlib.import_module("nlf_client")
session = importlib.import_module(nlf.__name__ + ".session")
Colour, FilterSpec, Layer, Mask = nlf.Colour, nlf.FilterSpec, nlf.Layer, nlf.Mask
ParamSpec, Preview = nlf.ParamSpec, nlf.Preview
UserError = session.UserError
