"""Cluster memory contrast for weakly supervised re-ID: one memory slot per training box.

Every training box has a slot holding its L2-normalised feature. Slots are grouped into
clusters between epochs (see `personsearch.methods.dicl.clustering`); a feature's logit for
cluster c is the mean of its similarities to c's slots over a temperature. Only the hardest
negative clusters that together hold `hard_negative_mass` of the negative probability take
part in the softmax (DICL's selection); the loss is the NLL of the feature's own cluster.
With `train_singletons=False` (cluster contrast's practice, not DICL's), boxes alone in their
cluster neither are trained nor serve as negatives: only the clusters drive the features.

The slots and labels are buffers (saved in checkpoints, so a resumed run continues with the
same memory) and are updated outside autograd. Under torch.distributed the features and slot
indices of every rank are gathered before the update, so every rank applies the same updates.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .gather import all_gather_rows


def cluster_logits(features: torch.Tensor, memory: torch.Tensor, labels: torch.Tensor, num_clusters: int,
                   temperature: float) -> torch.Tensor:
    """(B, num_clusters): mean similarity of each feature to each cluster's slots, over `temperature`."""
    similarities = features @ memory.t()  # (B, N)
    sums = similarities.new_zeros((features.shape[0], num_clusters)).index_add_(1, labels, similarities)
    counts = torch.bincount(labels, minlength=num_clusters).clamp(min=1).to(similarities.dtype)
    return sums / counts / temperature


def hardest_negative_mask(logits: torch.Tensor, targets: torch.Tensor, mass: float) -> torch.Tensor:
    """Boolean (B, C): each row's own cluster plus the fewest hardest negatives whose softmax
    probability (among negatives) adds up to at least `mass`."""
    if logits.shape[1] == 1:
        return torch.ones_like(logits, dtype=torch.bool)
    rows = torch.arange(logits.shape[0], device=logits.device)
    negatives = logits.detach().clone()
    negatives[rows, targets] = float("-inf")
    probabilities = negatives.softmax(dim=1)
    ordered, order = probabilities.sort(dim=1, descending=True)
    before = ordered.cumsum(dim=1) - ordered  # mass of the harder negatives
    keep_sorted = before < mass
    keep_sorted[:, 0] = True  # at least the hardest negative
    keep = torch.zeros_like(keep_sorted).scatter_(1, order, keep_sorted)
    keep[rows, targets] = True
    return keep


class ClusterMemory(nn.Module):
    def __init__(self, *, num_slots: int, num_features: int, temperature: float = 0.05, momentum: float = 0.2,
                 hard_negative_mass: float = 0.6, train_singletons: bool = True) -> None:
        super().__init__()
        if num_slots < 1:
            raise ValueError(f"num_slots must be >= 1; got {num_slots}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1); got {momentum}")
        if not 0.0 < hard_negative_mass <= 1.0:
            raise ValueError(f"hard_negative_mass must be in (0, 1]; got {hard_negative_mass}")
        self.temperature = temperature
        self.momentum = momentum
        self.hard_negative_mass = hard_negative_mass
        self.train_singletons = train_singletons
        self.register_buffer("features", torch.zeros(num_slots, num_features))
        self.register_buffer("labels", torch.arange(num_slots))  # every slot its own cluster until clustered
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    @property
    def num_slots(self) -> int:
        return self.features.shape[0]

    @property
    def num_clusters(self) -> int:
        return int(self.labels.max()) + 1

    @torch.no_grad()
    def initialise(self, features: torch.Tensor) -> None:
        if features.shape != self.features.shape:
            raise ValueError(f"memory initialisation needs {tuple(self.features.shape)} features; got "
                             f"{tuple(features.shape)}")
        self.features.copy_(F.normalize(features.to(self.features.dtype), dim=1))
        self.initialised.fill_(True)

    @torch.no_grad()
    def set_labels(self, labels: torch.Tensor) -> None:
        """Cluster labels, one per slot, contiguous 0..C-1."""
        labels = labels.to(self.labels.device, torch.int64)
        if labels.shape != self.labels.shape:
            raise ValueError(f"need {self.num_slots} cluster labels; got {tuple(labels.shape)}")
        if labels.min() < 0 or torch.unique(labels).numel() != int(labels.max()) + 1:
            raise ValueError("cluster labels must be contiguous integers from 0")
        self.labels.copy_(labels)

    def forward(self, features: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        """Loss of L2-normalised `features` (B, D) whose boxes own memory `slots` (B,)."""
        if features.shape[0] == 0:
            return features.sum() * 0.0
        targets = self.labels[slots]
        logits = cluster_logits(features, self.features.clone(), self.labels, self.num_clusters, self.temperature)
        if not self.train_singletons:
            grouped = torch.bincount(self.labels, minlength=self.num_clusters) > 1
            rows = grouped[targets]
            if not rows.any():
                return features.sum() * 0.0
            logits, targets = logits[rows][:, grouped], (grouped.cumsum(0) - 1)[targets[rows]]
        keep = hardest_negative_mask(logits, targets, self.hard_negative_mass)
        return F.cross_entropy(logits.masked_fill(~keep, float("-inf")), targets)

    @torch.no_grad()
    def update(self, features: torch.Tensor, slots: torch.Tensor) -> None:
        """M[slot] <- normalise(momentum * M[slot] + (1 - momentum) * feature), every rank's rows in rank order."""
        features = all_gather_rows(features.detach().to(self.features.dtype))
        slots = all_gather_rows(slots)
        for x, slot in zip(features, slots.tolist()):
            self.features[slot] = F.normalize(self.momentum * self.features[slot] + (1.0 - self.momentum) * x, dim=0)
