"""Ensemble of unpruned regression trees on random feature subsets (the original's ``carts``), compiled inference."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.tree import DecisionTreeRegressor
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._base import SurrogateMixin
from ._tree_kernel import NODE_DTYPE, ensemble_sum, flatten_tree
from ._validation import resolve_n_jobs


def flatten(tree: DecisionTreeRegressor, features: ArrayLike) -> tuple[np.ndarray, np.ndarray, int]:
    """A fitted scikit-learn tree as ``(nodes, values, depth)``; node features are mapped through ``features``."""
    t = tree.tree_
    n = t.node_count
    nodes = np.empty(n, dtype=NODE_DTYPE)
    values = np.empty(n, dtype=np.float64)
    depth = flatten_tree(
        np.ascontiguousarray(t.children_left, dtype=np.intp), np.ascontiguousarray(t.children_right, dtype=np.intp),
        np.ascontiguousarray(t.feature, dtype=np.intp), np.ascontiguousarray(t.threshold, dtype=np.float64),
        np.ascontiguousarray(t.value[:, 0, 0], dtype=np.float64), np.ascontiguousarray(features, dtype=np.intp),
        nodes, values,
    )
    return nodes, values, int(depth)


def ensemble_reference(nodes: np.ndarray, values: np.ndarray, roots: np.ndarray, depths: np.ndarray,
                       X: ArrayLike) -> np.ndarray:
    """Plain numpy traversal of the flattened ensemble (the compiled path's reference twin); returns the sum."""
    X32 = np.asarray(X, dtype=np.float32)
    rows = np.arange(X32.shape[0])
    total = np.zeros(X32.shape[0])
    for r, d in zip(roots, depths):
        cur = np.full(X32.shape[0], r, dtype=np.int64)
        for _ in range(d):
            nd = nodes[cur]
            cur = nd["left"] + (X32[rows, nd["feature"]] > nd["thr"])
        total += values[cur]
    return total


class CART(SurrogateMixin, RegressorMixin, BaseEstimator):
    """Mean of ``n_trees`` unpruned ``DecisionTreeRegressor``s, each on a random subset of the features.

    As in the original (after E2EPP): for every tree the rows are shuffled (no bootstrap; all rows are used)
    and a feature subset of size uniform in ``[1, d]`` is drawn. The original builds 5000 trees (its factory's
    value) and so does the default here. Trees are fitted by scikit-learn in ``n_jobs`` threads, converted
    to flat arrays, and evaluated by a compiled loop; the scikit-learn objects are dropped unless
    ``store_estimators=True`` (they take about 4x the memory of the flat form).
    """

    label = "carts"

    def __init__(self, n_trees: int = 5000, max_depth: int | None = None, min_samples_leaf: int = 1,
                 n_jobs: int | None = -1, store_estimators: bool = False,
                 random_state: int | np.random.RandomState | None = None) -> None:
        self.n_trees = n_trees
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.n_jobs = n_jobs
        self.store_estimators = store_estimators
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: ArrayLike) -> CART:
        """Fit the trees (shuffled rows, random feature subsets) and flatten them."""
        if int(self.n_trees) < 1:
            raise ValueError(f"n_trees must be >= 1, got {self.n_trees}")
        X, y = self._validate_fit(X, y)
        n, d = X.shape
        rng = check_random_state(self.random_state)
        plan = []
        for _ in range(int(self.n_trees)):  # all randomness drawn up front: results do not depend on n_jobs
            rows = rng.permutation(n)
            k = rng.randint(1, d + 1)
            feats = rng.permutation(d)[:k]
            plan.append((rows, feats, rng.randint(np.iinfo(np.int32).max)))
        X32 = X.astype(np.float32)

        def grow(item):
            rows, feats, seed = item
            tree = DecisionTreeRegressor(max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf,
                                         random_state=seed)
            tree.fit(X32[np.ix_(rows, feats)], y[rows])
            nodes, values, depth = flatten(tree, feats)
            return nodes, values, depth, (tree if self.store_estimators else None)

        n_jobs = resolve_n_jobs(self.n_jobs)
        if n_jobs > 1:
            with ThreadPoolExecutor(n_jobs) as pool:
                grown = list(pool.map(grow, plan))
        else:
            grown = [grow(p) for p in plan]
        sizes = np.array([g[0].shape[0] for g in grown], dtype=np.int64)
        if sizes.sum() >= np.iinfo(np.int32).max:
            raise ValueError("the ensemble has more than 2^31 nodes; use fewer trees or set max_depth")
        roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        nodes = np.concatenate([g[0] for g in grown])
        nodes["left"] += np.repeat(roots, sizes).astype(np.int32)
        self.nodes_ = nodes
        self.values_ = np.concatenate([g[1] for g in grown])
        self.roots_ = roots
        self.depths_ = np.array([g[2] for g in grown], dtype=np.int32)
        self.feature_subsets_ = [p[1] for p in plan]
        self.estimators_ = [g[3] for g in grown] if self.store_estimators else None
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Mean prediction of all trees, shape (n,)."""
        check_is_fitted(self, "nodes_")
        X32 = np.ascontiguousarray(self._validate_query(X), dtype=np.float32)
        m = X32.shape[0]
        out = np.zeros(m)
        n_jobs = min(resolve_n_jobs(self.n_jobs), max(1, m // 256))
        bounds = np.linspace(0, m, n_jobs + 1).astype(int)

        def run(i):
            ensemble_sum(self.nodes_, self.values_, self.roots_, self.depths_, X32, out, bounds[i], bounds[i + 1],
                         4096)

        if n_jobs > 1:
            with ThreadPoolExecutor(n_jobs) as pool:
                list(pool.map(run, range(n_jobs)))
        else:
            run(0)
        return out / self.roots_.shape[0]

    def predict_reference(self, X: ArrayLike) -> np.ndarray:
        """The same flattened ensemble evaluated with plain numpy (reference twin of ``predict``)."""
        check_is_fitted(self, "nodes_")
        X = self._validate_query(X)
        return ensemble_reference(self.nodes_, self.values_, self.roots_, self.depths_, X) / self.roots_.shape[0]
