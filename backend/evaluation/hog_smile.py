"""An independent smile classifier for measuring DFI: HOG features + logistic regression.

It never sees VGG features (which DFI optimises), so a flip it reports is not DFI fooling its own
metric. Trained on the GENKI-4K training crops outside the fixed validation split, in a few
seconds on CPU. GENKI-4K: "http://mplab.ucsd.edu, The MPLab GENKI-4K Dataset."

    from backend.evaluation.hog_smile import smile_score
    p = smile_score(rgb_uint8_array)   # (H, W, 3) uint8 -> probability of "smiling"
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from backend.evaluation.genki_split import DEFAULT_ROOT

GENKI = DEFAULT_ROOT
SIZE = 64
VALIDATION_MODULUS = 5
"""One file in five (by the sha256 of its name) is held out for validation."""


def is_validation(name: str) -> bool:
    """The fixed validation split: ``sha256(file name) mod 5 == 0`` (about 20 %)."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % VALIDATION_MODULUS == 0


def split_files(root: Path = GENKI) -> dict[str, dict[str, list[Path]]]:
    """``{"train"|"val": {"smile"|"non_smile": [paths]}}`` of the GENKI-4K training folder."""
    if not (root / "smile").is_dir() or not (root / "non_smile").is_dir():
        raise FileNotFoundError(f"GENKI-4K crops not found at {root}")
    out: dict[str, dict[str, list[Path]]] = {"train": {}, "val": {}}
    for label in ("smile", "non_smile"):
        files = sorted((root / label).glob("*.jpg"))
        out["val"][label] = [p for p in files if is_validation(p.name)]
        out["train"][label] = [p for p in files if not is_validation(p.name)]
    return out


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def hog(rgb: np.ndarray, cell: int = 8, bins: int = 9) -> np.ndarray:
    """Dalal-Triggs HOG of a (H, W, 3) uint8 face resized to 64x64: 2x2-cell blocks, L2-Hys."""
    im = Image.fromarray(np.asarray(rgb, dtype=np.uint8)).convert("L")
    if im.size != (SIZE, SIZE):
        im = im.resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    g = np.asarray(im, dtype=np.float64) / 255.0
    gx = np.zeros_like(g)
    gy = np.zeros_like(g)
    gx[:, 1:-1] = g[:, 2:] - g[:, :-2]
    gy[1:-1, :] = g[2:, :] - g[:-2, :]
    mag = np.hypot(gx, gy)
    ang = np.rad2deg(np.arctan2(gy, gx)) % 180.0
    b = ang / (180.0 / bins)
    lo = np.floor(b).astype(int) % bins
    hi = (lo + 1) % bins
    w_hi = b - np.floor(b)
    n = SIZE // cell
    hist = np.zeros((n, n, bins))
    cy, cx = np.divmod(np.arange(SIZE * SIZE), SIZE)
    ci, cj = (cy // cell).reshape(SIZE, SIZE), (cx // cell).reshape(SIZE, SIZE)
    np.add.at(hist, (ci, cj, lo), mag * (1 - w_hi))
    np.add.at(hist, (ci, cj, hi), mag * w_hi)
    blocks = []
    for i in range(n - 1):
        for j in range(n - 1):
            v = hist[i : i + 2, j : j + 2].ravel()
            v = v / np.sqrt((v**2).sum() + 1e-6)
            v = np.minimum(v, 0.2)
            blocks.append(v / np.sqrt((v**2).sum() + 1e-6))
    return np.concatenate(blocks)


@dataclass
class SmileClassifier:
    """Standardised HOG -> logistic regression; ``score`` is P(smiling)."""

    mean: np.ndarray
    std: np.ndarray
    coef: np.ndarray
    intercept: float

    def score(self, rgb: np.ndarray) -> float:
        """P(smiling) of one (H, W, 3) uint8 face crop."""
        f = (hog(rgb) - self.mean) / self.std
        return float(1.0 / (1.0 + np.exp(-(f @ self.coef + self.intercept))))

    def scores(self, faces: list[np.ndarray]) -> np.ndarray:
        """P(smiling) of several faces."""
        return np.array([self.score(f) for f in faces])

    def scores_features(self, standardised: np.ndarray) -> np.ndarray:
        """P(smiling) of (N, D) already standardised HOG features."""
        return 1.0 / (1.0 + np.exp(-(standardised @ self.coef + self.intercept)))


def train(root: Path = GENKI, c: float = 0.001) -> tuple[SmileClassifier, float]:
    """Train on the training split; returns the classifier and its validation accuracy."""
    from sklearn.linear_model import LogisticRegression

    split = split_files(root)

    def xy(part: str) -> tuple[np.ndarray, np.ndarray]:
        feats, labels = [], []
        for label, y in (("smile", 1), ("non_smile", 0)):
            for p in split[part][label]:
                feats.append(hog(read_rgb(p)))
                labels.append(y)
        return np.stack(feats), np.array(labels)

    x_tr, y_tr = xy("train")
    x_va, y_va = xy("val")
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-6
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit((x_tr - mean) / std, y_tr)
    clf = SmileClassifier(mean, std, model.coef_[0], float(model.intercept_[0]))
    acc = float(((clf.scores_features((x_va - mean) / std) > 0.5) == y_va).mean())
    return clf, acc


@functools.cache
def default_classifier() -> SmileClassifier:
    """The classifier trained once per process from ../shared/data (a few seconds)."""
    return train()[0]


def smile_score(rgb: np.ndarray) -> float:
    """P(smiling) of a (H, W, 3) uint8 RGB face crop by the independent HOG classifier."""
    return default_classifier().score(rgb)


if __name__ == "__main__":
    import time

    t = time.time()
    for c in (0.001, 0.003, 0.01, 0.03, 0.1):
        _, accuracy = train(c=c)
        print(f"C={c}: validation accuracy {accuracy:.3f} ({time.time() - t:.1f} s)")
