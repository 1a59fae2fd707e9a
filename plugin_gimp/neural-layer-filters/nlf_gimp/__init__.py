"""The GIMP 3 plug-in's modules; ``neural-layer-filters.py`` beside this package is the entry point.

``arguments`` and ``store`` have no ``gi`` and are unit-tested on the host; ``document`` against
a fake ``gi``; ``procedures`` and ``batch`` run inside GIMP only (tests/gimp/test_real.py).
"""
