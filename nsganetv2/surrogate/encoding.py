"""Input encodings a surrogate can apply inside ``fit``/``predict``: plain features or OFA MobileNetV3 genomes.

``ofa-mbv3``: the 46-integer NSGANetV2 genome (5 stages x [depth index, 4 kernel indices, 4 expand indices],
then the resolution index; depths 2, 3, 4). Genes of layers beyond a stage's depth are set to 0 and active
kernel/expand genes are shifted to 1..3, so an inactive layer no longer reads as the smallest choice (the raw
genome writes both as 0). Its natural length-scale groups are depth, kernel, expand and resolution genes.
"""
from __future__ import annotations

import numpy as np

ENCODINGS = ("plain", "ofa-mbv3")

_STAGES, _MAX_DEPTH, _MIN_DEPTH = 5, 4, 2
_STAGE_LEN = 1 + 2 * _MAX_DEPTH
OFA_MBV3_GENES = _STAGES * _STAGE_LEN + 1


def check_encoding(encoding: str, n_features: int) -> None:
    """Refuse an unknown encoding, or genomes of the wrong width."""
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    if encoding == "ofa-mbv3" and n_features != OFA_MBV3_GENES:
        raise ValueError(f"encoding='ofa-mbv3' expects {OFA_MBV3_GENES}-gene OFA MobileNetV3 genomes, got "
                         f"{n_features} features; pass raw genomes or use encoding='plain'")


def encode(X: np.ndarray, encoding: str) -> np.ndarray:
    """``X`` (n, d) as the model sees it (a new array for ``ofa-mbv3``, ``X`` itself for ``plain``)."""
    check_encoding(encoding, X.shape[1])
    if encoding == "plain":
        return X
    G = np.rint(X)
    if not np.array_equal(G, X) or G.min(initial=0) < 0:
        raise ValueError("encoding='ofa-mbv3' expects non-negative integer genes; pass the genomes, not features")
    out = G.copy()
    for s in range(_STAGES):
        base = s * _STAGE_LEN
        depth = G[:, base] + _MIN_DEPTH
        for j in range(_MAX_DEPTH):
            active = j < depth
            for col in (base + 1 + j, base + 1 + _MAX_DEPTH + j):
                out[:, col] = np.where(active, G[:, col] + 1.0, 0.0)
    return out


def default_groups(encoding: str, n_features: int) -> np.ndarray:
    """Length-scale group of each feature: one group for ``plain``; depth/kernel/expand/resolution for ``ofa-mbv3``."""
    if encoding == "plain":
        return np.zeros(n_features, dtype=np.int64)
    stage = [0] + [1] * _MAX_DEPTH + [2] * _MAX_DEPTH
    return np.asarray(stage * _STAGES + [3], dtype=np.int64)
