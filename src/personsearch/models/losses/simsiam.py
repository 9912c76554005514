"""SimSiam's prediction MLP and its symmetric negative-cosine loss with stop-gradient
(Chen & He, CVPR 2021), as PretrainPS applies it to the instance features of the same boxes
in two augmentations of an image."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PredictionMLP(nn.Module):
    """h -> z: Linear -> BatchNorm -> ReLU -> Linear, with a bottleneck hidden layer."""

    def __init__(self, *, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(dim, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, dim))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if h.shape[0] == 1 and self.training:  # BatchNorm cannot normalise one row
            return self.layers[3](F.relu(self.layers[0](h)))
        return self.layers(h)


def negative_cosine(h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """C(h, z) = - mean over rows of cos(h, z), with h treated as a constant (stop-gradient)."""
    return -F.cosine_similarity(z, h.detach(), dim=1).mean()


def simsiam_loss(h1: torch.Tensor, h2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """L_con = 1/2 C(sg(h2), z1) + 1/2 C(sg(h1), z2); rows are the same boxes in views 1 and 2."""
    if h1.shape != h2.shape or z1.shape != z2.shape or h1.shape != z1.shape:
        raise ValueError(f"views must pair row for row; got h {tuple(h1.shape)}/{tuple(h2.shape)}, "
                         f"z {tuple(z1.shape)}/{tuple(z2.shape)}")
    return 0.5 * negative_cosine(h2, z1) + 0.5 * negative_cosine(h1, z2)
