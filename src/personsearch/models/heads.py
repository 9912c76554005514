"""Heads on pooled RoI features: the norm-aware embedding (NAE) and the stage-2 box regressor."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torch.nn import init


def _flatten(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 4:
        if tuple(x.shape[2:]) != (1, 1):
            raise ValueError(f"expected pooled (N, C, 1, 1) features; got {tuple(x.shape)}")
        return x.flatten(start_dim=1)
    return x


def _split_dim(dim: int, parts: int) -> list[int]:
    # the remainder goes to the last parts, as in SeqNet
    sizes = [dim // parts] * parts
    for i in range(1, dim % parts + 1):
        sizes[-i] += 1
    return sizes


class NormAwareEmbedding(nn.Module):
    """Norm-aware embedding (Chen et al., CVPR 2020).

    Each pooled feature map is projected (Linear + BatchNorm1d) to its share of `dim`; the
    concatenation is split into its L2 norm and its direction. The direction is the re-ID
    embedding; the norm, rescaled by a BatchNorm1d(1), is the person logit.
    """

    def __init__(self, *, featmap_names: tuple[str, ...], in_channels: tuple[int, ...], dim: int = 256) -> None:
        super().__init__()
        if len(featmap_names) != len(in_channels):
            raise ValueError("featmap_names and in_channels must have the same length")
        self.featmap_names = tuple(featmap_names)
        self.dim = dim
        self.projectors = nn.ModuleDict()
        for name, channels, part in zip(featmap_names, in_channels, _split_dim(dim, len(in_channels))):
            projector = nn.Sequential(nn.Linear(channels, part), nn.BatchNorm1d(part))
            init.normal_(projector[0].weight, std=0.01)
            init.normal_(projector[1].weight, std=0.01)
            init.constant_(projector[0].bias, 0)
            init.constant_(projector[1].bias, 0)
            self.projectors[name] = projector
        self.rescaler = nn.BatchNorm1d(1, affine=True)

    def project(self, featmaps: OrderedDict[str, torch.Tensor]) -> torch.Tensor:
        """The un-normalised embedding (N, dim)."""
        return torch.cat([self.projectors[name](_flatten(featmaps[name])) for name in self.featmap_names], dim=1)

    def forward(self, featmaps: OrderedDict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (embeddings (N, dim) L2-normalised, person logits (N,))."""
        raw = self.project(featmaps)
        norms = raw.norm(p=2, dim=1, keepdim=True)
        embeddings = raw / norms.clamp(min=1e-12)
        logits = self.rescaler(norms).squeeze(1)
        return embeddings, logits


class BoxRegressor(nn.Module):
    """Class-specific box deltas from pooled features, optionally with a BatchNorm1d neck (SeqNet)."""

    def __init__(self, *, in_channels: int, num_classes: int = 2, bn_neck: bool = True) -> None:
        super().__init__()
        linear = nn.Linear(in_channels, 4 * num_classes)
        init.normal_(linear.weight, std=0.01)
        init.constant_(linear.bias, 0)
        if bn_neck:
            neck = nn.BatchNorm1d(4 * num_classes)
            init.normal_(neck.weight, std=0.01)
            init.constant_(neck.bias, 0)
            self.bbox_pred = nn.Sequential(linear, neck)
        else:
            self.bbox_pred = linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bbox_pred(_flatten(x))
