"""Batch-hard triplet loss with DICL's background term.

Anchors are L2-normalised person embeddings with (pseudo) labels. For each anchor the
farthest same-label embedding is the hardest positive and the nearest other-label embedding
the hardest negative (Euclidean distances of unit vectors). The background term treats the nearest background proposal as a
negative of every anchor, so people are pushed away from the background too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # Euclidean distance of unit vectors; the clamp keeps the gradient finite at distance 0
    return (2.0 - 2.0 * a @ b.t()).clamp(min=1e-12).sqrt()


def _hardest_positive(distances: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    return distances.masked_fill(~same, float("-inf")).max(dim=1).values


def batch_hard_triplet(embeddings: torch.Tensor, labels: torch.Tensor, *, margin: float = 0.3) -> torch.Tensor:
    """Mean over anchors that have a negative of relu(d(a, hardest positive) - d(a, hardest negative) + margin);
    0 (with a gradient path) when no anchor has a negative."""
    if embeddings.shape[0] != labels.shape[0]:
        raise ValueError(f"{embeddings.shape[0]} embeddings but {labels.shape[0]} labels")
    distances = _distances(embeddings, embeddings)
    same = labels[:, None] == labels[None, :]
    has_negative = (~same).any(dim=1)
    if not has_negative.any():
        return embeddings.sum() * 0.0
    positive = _hardest_positive(distances, same)
    negative = distances.masked_fill(same, float("inf")).min(dim=1).values
    return F.relu(positive - negative + margin)[has_negative].mean()


def background_triplet(embeddings: torch.Tensor, labels: torch.Tensor, background: torch.Tensor, *,
                       margin: float = 0.3) -> torch.Tensor:
    """Mean over anchors of relu(d(a, hardest positive) - d(a, nearest background) + margin);
    0 (with a gradient path) when the batch has no background proposal (the original crashed)."""
    if embeddings.shape[0] == 0 or background.shape[0] == 0:
        return embeddings.sum() * 0.0 + background.sum() * 0.0
    distances = _distances(embeddings, embeddings)
    positive = _hardest_positive(distances, labels[:, None] == labels[None, :])
    negative = _distances(embeddings, background).min(dim=1).values
    return F.relu(positive - negative + margin).mean()
