"""Multi-layer perceptron surrogate (the original's ``mlp``): torch, full-batch Adam, best-validation copy."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._base import SurrogateMixin


class MLP(SurrogateMixin, RegressorMixin, BaseEstimator):
    """46 -> 300 -> 300 -> 300 -> dropout 0.2 -> 1, trained as in the original.

    Adam (lr 8e-4), SmoothL1 loss, cosine schedule over ``n_epochs`` (2000) full-batch epochs on a random
    ``1 - val_fraction`` split; the network with the lowest validation loss is kept. Default PyTorch
    initialisation. Seeded through ``random_state`` without touching torch's global generator. Runs on CPU
    unless ``device`` says otherwise, with ``n_threads`` torch threads during fit/predict (1 by default: these
    small full-batch steps gain little from threads and suffer badly from oversubscription; ``None`` keeps
    torch's setting). Not in the adaptive-switching pool by default (as in the original). torch is imported
    on first fit, not with the package.
    """

    label = "mlp"

    def __init__(self, n_hidden: int = 300, n_layers: int = 2, dropout: float = 0.2, lr: float = 8e-4,
                 n_epochs: int = 2000, val_fraction: float = 0.2, device: str = "cpu", n_threads: int | None = 1,
                 random_state: int | np.random.RandomState | None = None) -> None:
        self.n_hidden = n_hidden
        self.n_layers = n_layers
        self.dropout = dropout
        self.lr = lr
        self.n_epochs = n_epochs
        self.val_fraction = val_fraction
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state

    def min_samples(self, n_features: int) -> int:
        """5, whatever the number of features (a train/validation split needs a few)."""
        return 5

    @contextlib.contextmanager
    def _threads(self) -> Iterator[None]:
        import torch

        old = torch.get_num_threads()
        if self.n_threads is not None:
            torch.set_num_threads(int(self.n_threads))
        try:
            yield
        finally:
            torch.set_num_threads(old)

    def fit(self, X: ArrayLike, y: ArrayLike) -> MLP:
        """Train on a random split, keep the best network on the validation part."""
        if self.n_threads is not None and int(self.n_threads) < 1:
            raise ValueError(f"n_threads must be None or >= 1, got {self.n_threads}")
        with self._threads():
            return self._fit(X, y)

    def _fit(self, X: ArrayLike, y: ArrayLike) -> MLP:
        import torch

        from ._mlp_net import MLPNet

        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if int(self.n_epochs) < 1:
            raise ValueError(f"n_epochs must be >= 1, got {self.n_epochs}")
        X, y = self._validate_fit(X, y)
        n = X.shape[0]
        n_trn = int(n * (1.0 - self.val_fraction))
        if n_trn < 1 or n_trn >= n:
            raise ValueError(f"MLP cannot split {n} samples with val_fraction={self.val_fraction}; add samples")
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        device = torch.device(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            perm = torch.randperm(n)
            trn, vld = perm[:n_trn], perm[n_trn:]
            inputs = torch.from_numpy(X.astype(np.float32)).to(device)
            target = torch.from_numpy(y.astype(np.float32)).reshape(-1, 1).to(device)
            net = MLPNet(X.shape[1], self.n_hidden, self.n_layers, self.dropout).to(device)
            opt = torch.optim.Adam(net.parameters(), lr=self.lr)
            crit = torch.nn.SmoothL1Loss()
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, int(self.n_epochs), eta_min=0)
            best, best_state = np.inf, None
            xt, yt, xv, yv = inputs[trn], target[trn], inputs[vld], target[vld]
            for _ in range(int(self.n_epochs)):
                net.train()
                opt.zero_grad()
                loss = crit(net(xt), yt)
                loss.backward()
                opt.step()
                net.eval()
                with torch.no_grad():
                    v = float(crit(net(xv), yv))
                sched.step()
                if v < best:  # keep a copy of the best weights (the original deep-copies the network)
                    best = v
                    best_state = {k: t.detach().clone() for k, t in net.state_dict().items()}
            if best_state is not None:
                net.load_state_dict(best_state)
        self.net_ = net.to("cpu").eval()
        self.best_val_loss_ = best
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted targets, shape (n,)."""
        import torch

        check_is_fitted(self, "net_")
        X = self._validate_query(X)
        with torch.no_grad(), self._threads():
            return self.net_(torch.from_numpy(X.astype(np.float32))).numpy().astype(np.float64).reshape(-1)
