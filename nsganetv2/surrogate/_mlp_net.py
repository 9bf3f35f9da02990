"""The MLP surrogate's torch network, at module level so that a fitted ``MLP`` pickles (imports torch)."""
from __future__ import annotations

import torch
from torch import nn


class MLPNet(nn.Module):
    """Linear(d, h) + ReLU -> n_layers x [Linear(h, h) + ReLU] -> Dropout -> Linear(h, 1)."""

    def __init__(self, n_feature: int, n_hidden: int, n_layers: int, dropout: float) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(n_feature, n_hidden), nn.ReLU())
        layers: list[nn.Module] = []
        for _ in range(n_layers):
            layers += [nn.Linear(n_hidden, n_hidden), nn.ReLU()]
        self.hidden = nn.Sequential(*layers)
        self.drop = nn.Dropout(p=dropout)
        self.regressor = nn.Linear(n_hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.regressor(self.drop(self.hidden(self.stem(x))))
