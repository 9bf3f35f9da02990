"""OFA's ImageNet specialisation landscape as a vectorised black box, for the sample-efficiency benchmark.

Genomes are nsganetv2's 46-gene OFA MobileNetV3 genomes (``OFAMobileNetV3Space``, resolutions 160-224 step 16);
objectives (minimised): top-1 error in % from OFA's accuracy predictor file, then Note10 latency in ms from OFA's
tables, and/or FLOPs (M). ``evaluate`` is what every optimiser calls; each row is one "true evaluation".
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nsganetv2.evaluation.latency import load_latency_table
from nsganetv2.evaluation.ofa_predictor import WIDTH_MULT, OFAAccuracyPredictor
from nsganetv2.space import Arch, OFAMobileNetV3Space

RESOLUTIONS = (160, 176, 192, 208, 224)
KERNELS, EXPANDS = (3, 5, 7), (3, 4, 6)
_K, _E = {k: i for i, k in enumerate(KERNELS)}, {e: i for i, e in enumerate(EXPANDS)}


class OFALandscape:
    """``evaluate(X) -> F``: predicted top-1 error (%) and cheap objectives of each genome row of ``X``."""

    def __init__(self, acc_predictor: str, lut: str | None, objectives: Sequence[str] = ("top1", "latency")) -> None:
        self.space = OFAMobileNetV3Space(resolutions=list(RESOLUTIONS))
        self.predictor = OFAAccuracyPredictor.load(acc_predictor)
        self.table = load_latency_table(lut) if lut else None
        self.objectives = tuple(objectives)
        self.n_var, self.n_obj = self.space.n_var, len(self.objectives)
        self.xl, self.xu = self.space.xl.copy(), self.space.xu.copy()
        self._cheap: dict[str, dict[str, float]] = {}
        self._layers: np.ndarray | None = None
        self._fixed: np.ndarray | None = None

    def configs(self, X: np.ndarray) -> list[dict]:
        return [self.space.decode(x) for x in np.asarray(X, dtype=np.int64)]

    def latency(self, config: dict) -> float:
        """Note10 latency (ms) of a config in any layout: :meth:`latency_spec` of its padded form."""
        arch = Arch.from_config(config)
        return self.latency_spec({**arch.to_config(padded=True), "r": [arch.r]})

    def latency_spec(self, spec: dict) -> float:
        """Note10 latency (ms) of an OFA-style spec (padded 20-entry ``ks``/``e``, ``d``, ``r`` as ``[r]``), from
        per-layer entries read off the tables once (the tables are additive over layers: a layer's entry depends only
        on resolution, stage, position, kernel and expand); equal to ``OFALatencyTable.predict`` up to the order of
        the float sum, and fast enough for EvolutionFinder's 50,000 calls with their rejection sampling."""
        if self._layers is None:
            self._layers, self._fixed = self._layer_table()
        r = RESOLUTIONS.index(spec["r"][0])
        ks, e = spec["ks"], spec["e"]
        total = self._fixed[r]
        for stage, depth in enumerate(spec["d"]):
            for j in range(depth):
                i = stage * 4 + j
                total += self._layers[r, stage, j, _K[ks[i]], _E[e[i]]]
        return float(total)

    def _layer_table(self) -> tuple[np.ndarray, np.ndarray]:
        layers = np.zeros((len(RESOLUTIONS), 5, 4, 3, 3))
        fixed = np.zeros(len(RESOLUTIONS))
        for ri, r in enumerate(RESOLUTIONS):
            table = self.table.tables[r]
            for ki, k in enumerate(KERNELS):
                for ei, e in enumerate(EXPANDS):
                    keys = self.table.keys_for({"ks": [k] * 20, "e": [e] * 20, "d": [4] * 5, "r": r},
                                               width_mult=WIDTH_MULT, n_classes=1000)
                    layers[ri, :, :, ki, ei] = np.array([table[key]["mean"] for key in keys[2:22]]).reshape(5, 4)
                    fixed[ri] = sum(table[key]["mean"] for key in keys[:2] + keys[22:])
        return layers, fixed

    def cheap(self, config: dict) -> dict[str, float]:
        key = self.space.key(config)
        hit = self._cheap.get(key)
        if hit is None:
            hit = {}
            if "latency" in self.objectives:
                hit["latency"] = self.latency(config)
            if "flops" in self.objectives:
                from nsganetv2.evaluation.complexity import count_flops

                hit["flops"] = count_flops(config, n_classes=1000, width_mult=WIDTH_MULT) / 1e6
            self._cheap[key] = hit
        return hit

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(np.rint(np.clip(X, self.xl, self.xu))).astype(np.int64)
        configs = self.configs(X)
        F = np.empty((len(X), self.n_obj))
        F[:, 0] = 100.0 - self.predictor.predict(configs)
        for j, name in enumerate(self.objectives[1:], start=1):
            F[:, j] = [self.cheap(c)[name] for c in configs]
        return F

    def predict_specs(self, specs: Sequence[dict]) -> np.ndarray:
        """Predicted top-1 (fraction) of OFA-style specs (padded ``ks``/``e`` lists, ``r`` as a one-item list), as
        ``ofa``'s ``AccuracyPredictor.predict_accuracy`` returns it (one row per spec)."""
        configs = [{"ks": s["ks"], "e": s["e"], "d": s["d"], "r": s["r"][0]} for s in specs]
        return (self.predictor.predict(configs) / 100.0).reshape(-1, 1)
