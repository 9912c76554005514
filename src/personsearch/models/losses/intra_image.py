"""DICL's spatial-invariant contrast between the search and instance branches of one image.

`search` rows are embeddings of positive proposals (different positions and scales of a
person in the scene), `instance` rows the embedding of the ground-truth crop of the same
person, repeated per proposal. All embeddings are L2-normalised.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

DENSE_REDUCTIONS = ("batchmean", "mean")


def _check_pairs(search: torch.Tensor, instance: torch.Tensor) -> None:
    if search.shape != instance.shape or search.dim() != 2:
        raise ValueError(f"search and instance embeddings must both be (N, D); got {tuple(search.shape)} "
                         f"and {tuple(instance.shape)}")


def many_to_one_loss(search: torch.Tensor, instance: torch.Tensor) -> torch.Tensor:
    """Mean of 1 - cos(p_i, g_a(i)): every proposal of a person is pulled to its one instance embedding."""
    _check_pairs(search, instance)
    if search.shape[0] == 0:
        return search.sum() * 0.0
    return (1.0 - (search * instance).sum(dim=1)).mean()


def dense_relation_kl(search: torch.Tensor, instance: torch.Tensor, *, temperature: float = 1.0,
                      reduction: str = "batchmean") -> torch.Tensor:
    """Symmetric KL between the row-wise softmax relations P P^T / t and G G^T / t.

    reduction "batchmean": KL summed over each row's distribution, averaged over rows (the KL of
    the row distributions); "mean": averaged over all N^2 entries, as the original code did,
    which divides the gradient by N.
    """
    _check_pairs(search, instance)
    if reduction not in DENSE_REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(DENSE_REDUCTIONS)}; got {reduction!r}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0; got {temperature}")
    if search.shape[0] < 2:
        return search.sum() * 0.0
    log_p = F.log_softmax(search @ search.t() / temperature, dim=1)
    log_g = F.log_softmax(instance @ instance.t() / temperature, dim=1)
    total = F.kl_div(log_p, log_g, reduction="sum", log_target=True) + F.kl_div(
        log_g, log_p, reduction="sum", log_target=True)
    return total / (search.shape[0] if reduction == "batchmean" else search.shape[0] ** 2)
