"""The GIMP 3 plug-in's modules; ``neural-layer-filters.py`` beside this package is the entry point.

Modules without ``gi`` (filter_schema, arguments, pixel_formats, messages, settings, launcher) are
unit-tested on the host; document, procedures and batch run inside GIMP only.
"""
