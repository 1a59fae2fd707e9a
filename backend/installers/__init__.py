"""Putting the plug-ins into editors (``python -m backend install-plugin``)."""
