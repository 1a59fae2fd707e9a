"""The ``mtcnn`` weights moved to ``backend.assets.weights.mtcnn`` (weights as data live there);
these
names are re-exported for code written against the old place."""

from backend.assets.weights.mtcnn import (
    FACENET_MEMBERS,
    FACENET_WHEEL,
    FACENET_WHEEL_FILE,
    FACENET_WHEEL_SHA256,
    convert_wheel,
    download_wheel,
    fetch,
    install,
)

__all__ = [
    "FACENET_MEMBERS",
    "FACENET_WHEEL",
    "FACENET_WHEEL_FILE",
    "FACENET_WHEEL_SHA256",
    "convert_wheel",
    "download_wheel",
    "fetch",
    "install",
]
