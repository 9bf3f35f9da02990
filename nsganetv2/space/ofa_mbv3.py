"""The OFA MobileNetV3 search space and NSGANetV2's 46-integer genome.

Genome layout: for each of the 5 stages, 9 genes ``[depth index, 4 kernel indices, 4 expand indices]``, then
one resolution index. Kernel/expand genes of layers beyond the stage depth are 0 when encoding and ignored
when decoding. The phenotype is ``{"ks": [sum(d)], "e": [sum(d)], "d": [5], "r": int}``.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from .arch import DEFAULT_RESOLUTIONS, Arch

__all__ = ["OFAMobileNetV3Space", "DEFAULT_RESOLUTIONS", "FEATURE_KINDS"]

RngLike = Union[np.random.Generator, int, None]


def _rng(rng: RngLike) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


FEATURE_KINDS = ("raw", "onehot", "stages")


class OFAMobileNetV3Space:
    """Search space of the OFA MobileNetV3 supernet (5 stages; depth, kernel, expand per layer; resolution).

    Attributes ``n_var``, ``xl`` and ``xu`` give pymoo's integer bounds of the genome.
    """

    def __init__(self, resolutions: Optional[Sequence[int]] = None, kernel_sizes: Sequence[int] = (3, 5, 7),
                 expand_ratios: Sequence[int] = (3, 4, 6), depths: Sequence[int] = (2, 3, 4),
                 n_stages: int = 5) -> None:
        res = DEFAULT_RESOLUTIONS if resolutions is None else resolutions
        self.resolutions = [int(r) for r in res]
        self.kernel_sizes = [int(k) for k in kernel_sizes]
        self.expand_ratios = [int(e) for e in expand_ratios]
        self.depths = [int(d) for d in depths]
        for name, vals in (("resolutions", self.resolutions), ("kernel_sizes", self.kernel_sizes),
                           ("expand_ratios", self.expand_ratios), ("depths", self.depths)):
            if not vals or len(set(vals)) != len(vals) or any(v <= 0 for v in vals):
                raise ValueError(f"{name} must be a non-empty list of distinct positive ints, got {vals}")
        self.n_stages = int(n_stages)
        self.max_depth = max(self.depths)
        self.n_layers = self.n_stages * self.max_depth
        self.stage_len = 1 + 2 * self.max_depth
        self.n_var = self.n_stages * self.stage_len + 1
        xu = []
        for _ in range(self.n_stages):
            xu += [len(self.depths) - 1] + [len(self.kernel_sizes) - 1] * self.max_depth \
                  + [len(self.expand_ratios) - 1] * self.max_depth
        xu.append(len(self.resolutions) - 1)
        self.xl = np.zeros(self.n_var, dtype=np.int64)
        self.xu = np.asarray(xu, dtype=np.int64)
        self._k_idx = {k: i for i, k in enumerate(self.kernel_sizes)}
        self._e_idx = {e: i for i, e in enumerate(self.expand_ratios)}
        self._d_idx = {d: i for i, d in enumerate(self.depths)}
        self._r_idx = {r: i for i, r in enumerate(self.resolutions)}

    def __repr__(self) -> str:
        return (f"OFAMobileNetV3Space(resolutions={self.resolutions[0]}..{self.resolutions[-1]} "
                f"({len(self.resolutions)}), ks={self.kernel_sizes}, e={self.expand_ratios}, d={self.depths})")

    # ---- configs ---------------------------------------------------------------------------------------------
    def validate_config(self, cfg: Mapping[str, Any], require_r: bool = True) -> dict:
        """Return the canonical config dict (unpadded int lists) or raise ``ValueError`` naming the field.

        Accepts ks/e of length sum(d) or the padded length-20 form (inactive entries ignored, may be None),
        and lists stored as strings such as ``'[5 5 7]'``.
        """
        arch = Arch.from_config(cfg, n_stages=self.n_stages, max_depth=self.max_depth)
        if require_r and arch.r is None:
            raise ValueError("config is missing the field 'r' (the resolution)")
        for name, vals, allowed in (("d", arch.d, self._d_idx), ("ks", arch.ks, self._k_idx),
                                    ("e", arch.e, self._e_idx)):
            for v in vals:
                if v not in allowed:
                    raise ValueError(f"config field {name!r} has value {v!r} outside {list(allowed)}")
        out: dict[str, Any] = {"ks": list(arch.ks), "e": list(arch.e), "d": list(arch.d)}
        if arch.r is not None:
            if arch.r not in self._r_idx:
                raise ValueError(f"config field 'r' = {arch.r!r} is not one of the space's resolutions "
                                 f"{self.resolutions[0]}..{self.resolutions[-1]}")
            out["r"] = arch.r
        return out

    def pad(self, config: Mapping[str, Any]) -> dict:
        """OFA's ``set_active_subnet`` form: ks/e padded to 20 with None for inactive layers."""
        cfg = self.validate_config(config, require_r=False)
        return Arch.from_config(cfg, n_stages=self.n_stages, max_depth=self.max_depth).to_config(
            padded=True, max_depth=self.max_depth)

    def load_config(self, path: Union[str, os.PathLike]) -> dict:
        """Read a ``net.subnet`` JSON file and validate it."""
        try:
            with open(path) as f:
                cfg = json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc}); expected {{\"ks\", \"e\", \"d\", \"r\"}}") from exc
        return self.validate_config(cfg)

    def save_config(self, config: Mapping[str, Any], path: Union[str, os.PathLike]) -> dict:
        """Write a validated config as ``net.subnet`` JSON and return it."""
        cfg = self.validate_config(config)
        with open(path, "w") as f:
            json.dump(cfg, f)
        return cfg

    # ---- genome ----------------------------------------------------------------------------------------------
    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """Config dict -> genome (``int64`` array of length ``n_var``), inactive genes 0."""
        cfg = self.validate_config(config)
        x = np.zeros(self.n_var, dtype=np.int64)
        pos = 0
        for s, d in enumerate(cfg["d"]):
            base = s * self.stage_len
            x[base] = self._d_idx[d]
            for j in range(d):
                x[base + 1 + j] = self._k_idx[cfg["ks"][pos + j]]
                x[base + 1 + self.max_depth + j] = self._e_idx[cfg["e"][pos + j]]
            pos += d
        x[-1] = self._r_idx[cfg["r"]]
        return x

    def encode_many(self, configs: Iterable[Mapping[str, Any]]) -> np.ndarray:
        rows = [self.encode(c) for c in configs]
        return np.stack(rows) if rows else np.zeros((0, self.n_var), dtype=np.int64)

    def _check_genome(self, genome: Any, ndim: int = 1) -> np.ndarray:
        g = np.asarray(genome)
        if g.ndim != ndim or g.shape[-1] != self.n_var:
            what = "a 1-D array" if ndim == 1 else "a 2-D array (n, n_var)"
            raise ValueError(f"genome must be {what} of {self.n_var} ints, got shape {g.shape}")
        if g.dtype.kind == "f":
            if not np.all(np.isfinite(g)) or not np.all(g == np.round(g)):
                raise ValueError("genome must hold integers (got non-integral or non-finite floats)")
        elif g.dtype.kind not in "iu":
            raise ValueError(f"genome must hold integers, got dtype {g.dtype}")
        g = g.astype(np.int64)
        bad = np.argwhere((g < self.xl) | (g > self.xu))
        if bad.size:
            idx = tuple(int(v) for v in bad[0])
            i = idx[-1]
            where = f"genome gene {i}" if ndim == 1 else f"genome row {idx[0]} gene {i}"
            raise ValueError(f"{where} = {g[idx]} is outside [{self.xl[i]}, {self.xu[i]}]")
        return g

    def decode(self, genome: Any) -> dict:
        """Genome -> config dict ``{"ks", "e", "d", "r"}`` (inactive genes ignored)."""
        g = self._check_genome(genome)
        ks, es, ds = [], [], []
        for s in range(self.n_stages):
            base = s * self.stage_len
            d = self.depths[g[base]]
            ds.append(d)
            ks += [self.kernel_sizes[g[base + 1 + j]] for j in range(d)]
            es += [self.expand_ratios[g[base + 1 + self.max_depth + j]] for j in range(d)]
        return {"ks": ks, "e": es, "d": ds, "r": self.resolutions[g[-1]]}

    def active_mask(self, genomes: Any) -> np.ndarray:
        """Boolean mask of the genes that matter (depth and resolution genes always do)."""
        G = np.atleast_2d(np.asarray(genomes)).astype(np.int64)
        if G.shape[1] != self.n_var:
            raise ValueError(f"genomes must have {self.n_var} columns, got {G.shape[1]}")
        depth_genes = G[:, [s * self.stage_len for s in range(self.n_stages)]]
        depth = np.asarray(self.depths)[np.clip(depth_genes, 0, len(self.depths) - 1)]  # (n, stages)
        mask = np.ones(G.shape, dtype=bool)
        j = np.arange(self.max_depth)
        for s in range(self.n_stages):
            base = s * self.stage_len
            active = j[None, :] < depth[:, s:s + 1]
            mask[:, base + 1:base + 1 + self.max_depth] = active
            mask[:, base + 1 + self.max_depth:base + 1 + 2 * self.max_depth] = active
        return mask

    def canonical(self, genome: Any) -> np.ndarray:
        """Zero the inactive genes; genomes of the same network are equal afterwards. Accepts (n_var,) or (n, n_var)."""
        g = np.asarray(genome)
        if g.ndim == 1:
            g = self._check_genome(g)
            return np.where(self.active_mask(g)[0], g, 0)
        g = self._check_genome(g, ndim=2)
        return np.where(self.active_mask(g), g, 0)

    def key(self, genome_or_config: Any) -> str:
        """Stable hash (hex) of the canonical genome; a config dict is encoded first."""
        if isinstance(genome_or_config, Mapping):
            g = self.encode(genome_or_config)
        else:
            g = self.canonical(genome_or_config)
        text = ",".join(str(int(v)) for v in g)
        return hashlib.sha1(text.encode()).hexdigest()[:20]

    # ---- sampling ---------------------------------------------------------------------------------------------
    def sample(self, n: int, rng: RngLike = None) -> list[dict]:
        """``n`` uniform random configs: depths first, then k and e per active layer, then r (duplicates kept)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        rng = _rng(rng)
        out = []
        for _ in range(n):
            d = [int(v) for v in rng.choice(self.depths, size=self.n_stages)]
            m = sum(d)
            ks = [int(v) for v in rng.choice(self.kernel_sizes, size=m)]
            e = [int(v) for v in rng.choice(self.expand_ratios, size=m)]
            r = int(rng.choice(self.resolutions))
            out.append({"ks": ks, "e": e, "d": d, "r": r})
        return out

    def smallest(self) -> dict:
        d = min(self.depths)
        m = d * self.n_stages
        return {"ks": [min(self.kernel_sizes)] * m, "e": [min(self.expand_ratios)] * m, "d": [d] * self.n_stages,
                "r": min(self.resolutions)}

    def largest(self) -> dict:
        d = max(self.depths)
        m = d * self.n_stages
        return {"ks": [max(self.kernel_sizes)] * m, "e": [max(self.expand_ratios)] * m, "d": [d] * self.n_stages,
                "r": max(self.resolutions)}

    def initial_design(self, n: int, rng: RngLike = None) -> list[dict]:
        """The smallest and the largest network, then ``n - 2`` random ones (the original DOE)."""
        if n < 2:
            raise ValueError(f"the initial design needs n >= 2 (smallest + largest), got {n}")
        return [self.smallest(), self.largest()] + self.sample(n - 2, rng)

    # ---- predictor features -----------------------------------------------------------------------------------
    @property
    def onehot_dim(self) -> int:
        return self.n_layers * (len(self.kernel_sizes) + len(self.expand_ratios)) + len(self.resolutions)

    def _stage_features(self, G: np.ndarray) -> np.ndarray:
        """The ``stages`` encoding of canonical genomes (inactive genes are already 0)."""
        cols = []
        for s in range(self.n_stages):
            base = s * self.stage_len
            k = G[:, base + 1:base + 1 + self.max_depth].astype(np.float64)
            e = G[:, base + 1 + self.max_depth:base + 1 + 2 * self.max_depth].astype(np.float64)
            cols += [G[:, base].astype(np.float64), k.sum(1), e.sum(1), (k * e).sum(1)]
        cols.append(G[:, -1].astype(np.float64))
        return np.ascontiguousarray(np.column_stack(cols))

    def features(self, genomes: Any, kind: str = "raw", canonicalize: bool = True) -> np.ndarray:
        """Predictor inputs, ``float64`` (n, dim).

        ``raw``: the 46-integer genome, as the original (canonicalised unless ``canonicalize=False``).
        ``onehot``: per layer a kernel one-hot and an expand one-hot (zeros when inactive), then a resolution
        one-hot (OFA's ``MobileNetArchEncoder`` layout; dim 120 + len(resolutions)).
        ``stages``: per stage the depth index and the sums over its active layers of the kernel index, the expand
        index and their product, then the resolution index (dim 4 * n_stages + 1): few features that carry most of
        what decides accuracy and cost, so a surrogate learns them from few samples.
        """
        G = np.asarray(genomes)
        if G.ndim == 1:
            G = G[None, :]
        if G.ndim != 2 or G.shape[1] != self.n_var:
            raise ValueError(f"genomes must have shape (n, {self.n_var}), got {np.asarray(genomes).shape}")
        if kind == "raw":
            X = self.canonical(G) if canonicalize else G.astype(np.int64)
            return np.ascontiguousarray(X, dtype=np.float64)
        if kind == "stages":
            return self._stage_features(self.canonical(G))
        if kind != "onehot":
            raise ValueError(f"features kind must be one of {FEATURE_KINDS}, got {kind!r}")
        G = self.canonical(G)
        mask = self.active_mask(G)
        nk, ne = len(self.kernel_sizes), len(self.expand_ratios)
        n = G.shape[0]
        X = np.zeros((n, self.onehot_dim), dtype=np.float64)
        rows = np.arange(n)
        for s in range(self.n_stages):
            base = s * self.stage_len
            for j in range(self.max_depth):
                layer = s * self.max_depth + j
                act = mask[:, base + 1 + j]
                kcol = layer * (nk + ne) + G[:, base + 1 + j]
                ecol = layer * (nk + ne) + nk + G[:, base + 1 + self.max_depth + j]
                X[rows[act], kcol[act]] = 1.0
                X[rows[act], ecol[act]] = 1.0
        X[rows, self.n_layers * (nk + ne) + G[:, -1]] = 1.0
        return X
