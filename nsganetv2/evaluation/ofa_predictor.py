"""Once-for-All's ImageNet accuracy predictor as the expensive objective of a search.

OFA ships an MLP (``acc_predictor.pth``) trained on measured ImageNet top-1 of subnets of its
``ofa_mbv3_d234_e346_k357_w1.2`` supernet: ``Linear(128, 400), ReLU, Linear(400, 400), ReLU, Linear(400, 400), ReLU,
Linear(400, 1)``. Its input (OFA's ``AccuracyPredictor.spec2feats``) is 60 kernel-size one-hots and 60 expand-ratio
one-hots (3 per layer, 20 layers; zeros for the layers beyond a stage's depth) and 8 resolution one-hots at
``(r - 112) // 16``; its output is top-1 as a fraction. Searching on it is OFA's own ImageNet specialisation
problem: the benchmark of sample efficiency, where each call stands for a full ImageNet evaluation.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["OFAAccuracyPredictor", "PREDICTOR_RESOLUTIONS", "predictor_features"]

KERNELS, EXPANDS, DEPTHS = (3, 5, 7), (3, 4, 6), (2, 3, 4)
N_LAYERS, MAX_DEPTH = 20, 4
PREDICTOR_RESOLUTIONS = tuple(range(112, 225, 16))  # the 8 resolution one-hots
WIDTH_MULT = 1.2  # the supernet the predictor was trained on


def predictor_features(configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """OFA's 128-dim encoding of each config ``{ks, e, d, r}`` (unpadded or padded lists), float32 ``(n, 128)``."""
    from nsganetv2.space.arch import Arch

    X = np.zeros((len(configs), 128), dtype=np.float32)
    for row, config in enumerate(configs):
        arch = Arch.from_config(config)
        if arch.r not in PREDICTOR_RESOLUTIONS:
            raise ValueError(f"OFA's accuracy predictor covers resolutions {list(PREDICTOR_RESOLUTIONS)}, not "
                             f"{arch.r}: search those (--resolutions 160-224:16 as OFA does)")
        if len(arch.d) != 5 or any(d not in DEPTHS for d in arch.d) or any(k not in KERNELS for k in arch.ks) \
                or any(e not in EXPANDS for e in arch.e):
            raise ValueError(f"OFA's accuracy predictor covers 5 stages of depth {DEPTHS}, kernels {KERNELS} and "
                             f"expand ratios {EXPANDS}; got d={list(arch.d)}, ks={list(arch.ks)}, e={list(arch.e)}")
        layer = 0
        for stage, depth in enumerate(arch.d):
            for j in range(depth):
                slot = stage * MAX_DEPTH + j
                X[row, slot * 3 + KERNELS.index(arch.ks[layer])] = 1.0
                X[row, 60 + slot * 3 + EXPANDS.index(arch.e[layer])] = 1.0
                layer += 1
        X[row, 120 + PREDICTOR_RESOLUTIONS.index(arch.r)] = 1.0
    return X


class OFAAccuracyPredictor:
    """OFA's accuracy MLP loaded from a state dict file (``torch.load(..., weights_only=True)``).

    Calling it with a list of configs returns one stats dict ``{"top1": %}`` per config: the shape of result a
    search's ``evaluate_fn`` returns.
    """

    def __init__(self, state_dict: Mapping[str, Any], source: str = "") -> None:
        from torch import nn

        self.model = nn.Sequential(nn.Linear(128, 400), nn.ReLU(), nn.Linear(400, 400), nn.ReLU(),
                                   nn.Linear(400, 400), nn.ReLU(), nn.Linear(400, 1))
        try:
            self.model.load_state_dict(dict(state_dict))
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise ValueError(f"{source or 'state dict'} is not OFA's accuracy predictor (an MLP 128-400-400-400-1 "
                             f"state dict): {first}") from None
        self.model.eval()
        self.source = source

    @classmethod
    def load(cls, path: str | os.PathLike) -> OFAAccuracyPredictor:
        """The predictor in ``path`` (OFA's ``acc_predictor.pth`` or a file of the same state dict)."""
        from nsganetv2.atomic import torch_load_safe

        if not os.path.isfile(path):
            raise FileNotFoundError(f"accuracy predictor {path} does not exist (OFA's is acc_predictor.pth from "
                                    "han-cai/files, ofa/acc_predictor.pth)")
        state = torch_load_safe(path, what="accuracy predictor", map_location="cpu")
        if not isinstance(state, Mapping):
            raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict of OFA's accuracy predictor")
        return cls(state, source=str(path))

    def predict(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Predicted top-1 accuracy in % of each config."""
        import torch

        if not len(configs):
            return np.zeros(0)
        with torch.no_grad():
            out = self.model(torch.from_numpy(predictor_features(configs)))
        return out.numpy().astype(np.float64).ravel() * 100.0

    def __call__(self, configs: Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
        return [{"top1": float(v)} for v in self.predict(configs)]
