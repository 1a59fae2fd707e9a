"""Batch planning: a layer batch's filter, values and layers (which layers: :mod:`.layers`),
which image files a folder batch reads, and one item after another.

Result file names come from :mod:`.naming`. A folder batch keeps going past an image that
fails (it is reported at the end); a lost backend or a cancel stops the whole batch.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Mapping, Sequence, Tuple

from ..api import FilterSpec, Progress
from ..errors import BackendError
from .document import progress_text
from .messages import UserError
from .request import filter_values_from_json

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
STOPS_BATCH = ("UNAVAILABLE", "CANCELLED", "UNAUTHENTICATED", "PERMISSION_DENIED")


def layer_batch(
    specs: Mapping[str, FilterSpec],
    filter_id: str,
    text: str,
    layers: Sequence[Any],
    find: Callable[[str], Any],
    key: Callable[[Any], Any],
) -> Tuple[FilterSpec, Dict[str, Any], List[Any]]:
    """A batch over ``layers`` from a filter id and its values as JSON: (spec, form values with
    each layer parameter's layer found by name with ``find(name)``, the layers to filter:
    ``layers`` but those, told apart by ``key(layer)``)."""
    spec, values, names = filter_values_from_json(specs, filter_id, text)
    values.update({k: find(n) for k, n in names.items()})
    used = {key(values[k]) for k in names}
    return spec, values, [lay for lay in layers if key(lay) not in used]


def folder_batch(
    specs: Mapping[str, FilterSpec], filter_id: str, text: str
) -> Tuple[FilterSpec, Dict[str, Any]]:
    """A folder batch's filter and form values from its id and JSON (no layer parameters: a
    folder's images have no other layers)."""
    spec, values, names = filter_values_from_json(specs, filter_id, text)
    if names:
        raise ValueError("layer parameters cannot be used in a folder batch")
    return spec, values


def suffixes(text: str) -> List[str]:
    """Comma-separated file types (``"png, .jpg"``) as a list, blanks left out."""
    return [e.strip() for e in text.split(",") if e.strip()]


def image_files(folder: str, suffixes: Sequence[str] = IMAGE_SUFFIXES) -> List[str]:
    """The image files directly in ``folder`` (by suffix, sorted by name)."""
    if not folder or not os.path.isdir(folder):
        raise UserError("input folder '%s' does not exist" % folder)
    wanted = tuple(s.lower() if s.startswith(".") else "." + s.lower() for s in suffixes)
    names = sorted(
        n
        for n in os.listdir(folder)
        if n.lower().endswith(wanted) and os.path.isfile(os.path.join(folder, n))
    )
    if not names:
        raise UserError("no images (%s) in '%s'" % (", ".join(wanted), folder))
    return [os.path.join(folder, n) for n in names]


def folder_files(in_dir: str, out_dir: str, suffixes: Sequence[str] = IMAGE_SUFFIXES) -> List[str]:
    """The images a folder batch reads (see :func:`image_files`); makes ``out_dir``."""
    files = image_files(in_dir, suffixes)
    if not out_dir:
        raise UserError("choose an output folder")
    os.makedirs(out_dir, exist_ok=True)
    return files


def folder_summary(files: Sequence[str], failures: List[Tuple[int, str]], out_dir: str) -> str:
    """What a folder batch did, with each failed image and why."""
    text = "Wrote %d image(s) to %s" % (len(files) - len(failures), out_dir)
    why = ["%s: %s" % (os.path.basename(files[i]), reason) for i, reason in failures]
    return "; ".join([text + ("; %d failed" % len(why) if why else "")] + why)


def run_each(
    count: int,
    run_one: Callable[[int, Callable[[Progress], None]], Any],
    progressed: Callable[[float, str], None],
    done_one: Callable[[int, Any], None],
    cancelled: Callable[[], bool],
    keep_going: bool = False,
) -> List[Tuple[int, str]]:
    """Run items ``0..count-1`` in order with overall progress; stops between items when
    ``cancelled()``. ``keep_going``: an item that fails (but not a lost backend or a cancel) is
    recorded as ``(index, message)`` and the next one runs; returns those failures."""
    failures: List[Tuple[int, str]] = []
    for i in range(count):
        if cancelled():
            raise BackendError("CANCELLED", "cancelled after %d of %d" % (i, count))

        def report(p: Progress, i: int = i) -> None:
            progressed((i + p.fraction) / count, "%d of %d: %s" % (i + 1, count, progress_text(p)))

        try:
            done_one(i, run_one(i, report))
        except BackendError as exc:
            if not keep_going or exc.code in STOPS_BATCH:
                raise
            failures.append((i, "%s [%s]" % (exc.message, exc.code)))
        except (UserError, OSError, ValueError) as exc:
            if not keep_going:
                raise
            failures.append((i, str(exc)))
    return failures
