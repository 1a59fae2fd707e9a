"""Contextual paintbrush speed: one brush step and one live-mode run, at 64² and 128².

    python benchmarks/npe.py                    # CPU, 1 thread
    python benchmarks/npe.py --device cuda      # where a GPU is available

``step``: one latent step (decode + gradient w.r.t. the latent), what each of the filter's
``steps`` costs. ``run``: one whole ``npe`` job through ``backend.serving.jobs.execute_job`` on a
512²
layer with a 200² selection and one stroke, ``steps=1``, continuing from a state (what the
live mode pays per stroke: encode, one step, blend, paste back; no face search), and with the
default ``steps=4`` (each step may add a forward pass when it is shortened). ``fresh``: the
same job without state, so the face is searched for (MTCNN when its weights are installed,
else the selection's box). The 64² model is the built-in one (random weights when it is
absent), the 128² model is random (speed does not depend on the weights). Median of
``--repeat`` runs after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SIDE, BOX = 512, (150, 120, 350, 320)


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def _median(fn, repeat: int, device: str) -> float:
    times = []
    for _ in range(repeat + 1):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:]) * 1000


def _layers():
    import numpy as np

    from backend.serving.imaging import WireImage

    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (SIDE, SIDE, 4), dtype=np.uint8)
    photo[..., 3] = 255
    paint = np.zeros((SIDE, SIDE, 4), np.uint8)
    paint[150:180, 200:300] = (30, 20, 10, 255)
    mask = np.zeros((SIDE, SIDE), np.uint8)
    x0, y0, x1, y1 = BOX
    mask[y0:y1, x0:x1] = 255
    return (
        WireImage(SIDE, SIDE, "u8", photo.tobytes()),
        WireImage(SIDE, SIDE, "u8", mask.tobytes()),
        WireImage(SIDE, SIDE, "u8", paint.tobytes(), name="paint"),
    )


def _row(flt, name: str, has_mtcnn: bool, repeat: int, device: str) -> str:
    """One table row: the brush step, the live run and the fresh run of model ``name``."""
    import torch

    from backend.serving.jobs import Job, execute_job

    layer, mask, paint = _layers()
    net, _ = flt.network(name)
    z = torch.randn(1, net.cfg.zdim, device=device, requires_grad=True)

    def step() -> None:
        with torch.enable_grad():
            torch.autograd.grad(net.decode(z).square().mean(), z)

    params = {"model": name, "steps": 1, "align": has_mtcnn}
    job = Job("npe", layer, mask, params, {"paint": paint})
    state = execute_job(flt, job, lambda s: None).state
    live = Job("npe", layer, mask, params, {"paint": paint}, state=state)
    t_step = _median(step, repeat * 5, device)
    t_live = _median(lambda: execute_job(flt, live, lambda s: None), repeat, device)
    live4 = Job("npe", layer, mask, {**params, "steps": 4}, {"paint": paint}, state=state)
    t_live4 = _median(lambda: execute_job(flt, live4, lambda s: None), repeat, device)
    t_fresh = _median(lambda: execute_job(flt, job, lambda s: None), repeat, device)
    size = net.cfg.size
    return f"| {name} ({size}²) | {t_step:.1f} | {t_live:.0f} | {t_live4:.0f} | {t_fresh:.0f} |"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args(argv)

    import torch

    from backend.algorithms.nets.npe import NpeConfig, NpeNet
    from backend.assets import weights
    from backend.assets.models import ModelStore
    from backend.dirs import weights_dir
    from backend.filters.base import Context
    from backend.filters.npe import BUILTIN, BUILTIN_FILE, ContextualPaintbrush

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    has_mtcnn = weights.find("mtcnn", weights_dir()) is not None
    print(f"device {args.device}, {torch.get_num_threads()} thread(s), {SIDE}² layer")
    finder = "MTCNN" if has_mtcnn else "box"
    print(
        f"| model | brush step (ms) | live run, steps=1 (ms) | live run, steps=4 (ms) "
        f"| fresh run, {finder} (ms) |"
    )
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        store = ModelStore(Path(tmp))
        torch.manual_seed(0)
        path = Path(tmp) / "r128.pth"
        torch.save(NpeNet(NpeConfig(128)).state_dict(), path)
        store.import_model(path, "random128", "npe")
        if not BUILTIN_FILE.is_file():
            path = Path(tmp) / "r64.pth"
            torch.save(NpeNet(NpeConfig(64)).state_dict(), path)
            store.import_model(path, "random64", "npe")
        ctx = Context(device=device, weights_dir=weights_dir(), models_dir=Path(tmp))
        flt = ContextualPaintbrush(ctx)
        for name in (BUILTIN if BUILTIN_FILE.is_file() else "random64", "random128"):
            print(_row(flt, name, has_mtcnn, args.repeat, args.device))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
