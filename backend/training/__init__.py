"""Trainers (``python -m backend train ...``) and the data they read."""
