"""Batch runs: one filter over several layers or over a folder of image files."""

from __future__ import annotations

import os
from typing import Any, Callable, List, Sequence

from .client import BackendError, Layer, Progress, RunResult
from .document import DocumentError, rgba8
from .qt import QImage

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
MODES = ("selected", "children", "folder")


def target_nodes(mode: str, active: Any, selected: Sequence[Any]) -> List[Any]:
    """The layers a batch runs on: the selected layers, or the active group's children."""
    if mode == "selected":
        nodes = [n for n in selected if not n.type().endswith("mask")]
        if not nodes:
            raise DocumentError("select one or more layers in the Layers docker")
    elif mode == "children":
        if active is None or active.type() != "grouplayer":
            raise DocumentError("make a group layer active to filter its children")
        nodes = [n for n in active.childNodes() if not n.type().endswith("mask")]
        if not nodes:
            raise DocumentError(f"group '{active.name()}' has no layers")
    else:
        raise ValueError(mode)
    return nodes


def image_files(folder: str) -> List[str]:
    if not os.path.isdir(folder):
        raise DocumentError(f"input folder '{folder}' does not exist")
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_SUFFIXES))
    if not names:
        raise DocumentError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in '{folder}'")
    return [os.path.join(folder, n) for n in names]


def read_image(path: str) -> Layer:
    """An image file as an 8-bit straight RGBA wire layer."""
    img = QImage(path)
    if img.isNull():
        raise DocumentError(f"cannot read image '{path}'")
    img = img.convertToFormat(QImage.Format.Format_RGBA8888)
    ptr = img.constBits()
    ptr.setsize(img.height() * img.bytesPerLine())
    data = bytes(ptr)
    w, h, stride = img.width(), img.height(), img.bytesPerLine()
    if stride != 4 * w:
        data = b"".join(data[y * stride : y * stride + 4 * w] for y in range(h))
    return Layer(data, w, h, "u8", name=os.path.basename(path))


def write_image(layer: Layer, path: str) -> None:
    data = rgba8(layer)
    img = QImage(data, layer.width, layer.height, 4 * layer.width, QImage.Format.Format_RGBA8888)
    if not img.save(path):
        raise DocumentError(f"cannot write '{path}'")


def output_paths(src: str, out_dir: str, filter_id: str, count: int) -> List[str]:
    stem = os.path.splitext(os.path.basename(src))[0]
    if count == 1:
        return [os.path.join(out_dir, f"{stem}_{filter_id}.png")]
    return [os.path.join(out_dir, f"{stem}_{filter_id}_{i + 1}.png") for i in range(count)]


def run_each(
    count: int,
    run_one: Callable[[int, Callable[[Progress], None]], RunResult],
    progressed: Callable[[float, str], None],
    done_one: Callable[[int, RunResult], None],
    cancelled: Callable[[], bool],
) -> int:
    """Run items 0..count-1 in order with overall progress; stops between items when cancelled."""
    for i in range(count):
        if cancelled():
            raise BackendError("CANCELLED", f"cancelled after {i} of {count}")

        def report(p: Progress, i: int = i) -> None:
            stage = p.message or p.stage
            progressed((i + p.fraction) / count, f"{i + 1} of {count}: {stage}")

        done_one(i, run_one(i, report))
    return count
