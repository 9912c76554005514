"""Online Instance Matching loss: a lookup table of labelled identities and a queue of unlabelled people.

Differences from the reference implementations, on purpose:
- the tables are updated in `torch.no_grad()` after the logits are computed, not inside backward;
- under torch.distributed the features and labels of every rank are gathered first, so every
  rank applies the same updates in the same order and the tables stay identical.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .gather import all_gather_rows

UNLABELLED = -1
# What the table row of an identity not seen before holds when its first features are scored:
# "zero" (NAE's OIM: the target logit is 0, so the loss only pushes the feature away from the other
# rows) or "batch" (the normalised mean of this batch's features of that identity, detached).
UNSEEN_ROW_POLICIES = ("zero", "batch")


class OIMLoss(nn.Module):
    """OIM loss over L2-normalised features.

    labels: 0..num_pids-1 for labelled identities, -1 for unlabelled people. Unlabelled
    features only enter the queue (and the softmax of later batches); they are not loss targets.
    """

    def __init__(
        self,
        *,
        num_features: int,
        num_pids: int,
        queue_size: int,
        momentum: float = 0.5,
        scalar: float = 30.0,
        unseen_rows: str = "zero",
    ) -> None:
        super().__init__()
        if num_pids < 1:
            raise ValueError(f"num_pids must be >= 1; got {num_pids}")
        if queue_size < 0:
            raise ValueError(f"queue_size must be >= 0; got {queue_size}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1); got {momentum}")
        if unseen_rows not in UNSEEN_ROW_POLICIES:
            raise ValueError(f"unseen_rows must be one of {', '.join(UNSEEN_ROW_POLICIES)}; got {unseen_rows!r}")
        self.num_features = num_features
        self.num_pids = num_pids
        self.queue_size = queue_size
        self.momentum = momentum
        self.scalar = scalar
        self.unseen_rows = unseen_rows
        self.register_buffer("lut", torch.zeros(num_pids, num_features))
        self.register_buffer("queue", torch.zeros(queue_size, num_features))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if features.dim() != 2 or features.shape[1] != self.num_features:
            raise ValueError(f"features must be (N, {self.num_features}); got {tuple(features.shape)}")
        if labels.shape != (features.shape[0],):
            raise ValueError(f"labels must be ({features.shape[0]},); got {tuple(labels.shape)}")
        if ((labels < UNLABELLED) | (labels >= self.num_pids)).any():
            raise ValueError(f"labels must be in [0, {self.num_pids}) or {UNLABELLED} (unlabelled)")
        if self.training:
            # every rank's rows, so that every rank applies the same table changes in the same order
            all_features = all_gather_rows(features.detach().to(self.lut.dtype))
            all_labels = all_gather_rows(labels)
            if self.unseen_rows == "batch":
                self.fill_unseen_rows(all_features, all_labels)
        # torch.cat copies the tables, so the in-place update below leaves autograd's saved tensor intact
        logits = self.scalar * features @ torch.cat([self.lut, self.queue], dim=0).t()
        labelled = labels >= 0
        if labelled.any():
            loss = F.cross_entropy(logits[labelled], labels[labelled])
        else:
            loss = logits.sum() * 0.0
        if self.training:
            self.update(all_features, all_labels)
        return loss

    @torch.no_grad()
    def fill_unseen_rows(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        """Rows still zero (identities never updated) take the normalised mean of the batch's features
        of their identity (every rank's features)."""
        labelled = labels >= 0
        pids, slot = labels[labelled].unique(return_inverse=True)
        sums = features.new_zeros(pids.numel(), self.num_features).index_add_(0, slot, features[labelled])
        unseen = (self.lut[pids] == 0).all(dim=1)
        self.lut[pids[unseen]] = F.normalize(sums[unseen], dim=1)

    @torch.no_grad()
    def update(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        """Momentum-update the table rows of labelled features and enqueue unlabelled ones (every
        rank's features)."""
        labelled = labels >= 0
        # sequential on purpose: an identity seen twice in one batch is updated twice, in order
        for x, y in zip(features[labelled], labels[labelled].tolist()):
            row = self.momentum * self.lut[y] + (1.0 - self.momentum) * x
            self.lut[y] = row / row.norm().clamp(min=1e-12)
        unlabelled = features[labels == UNLABELLED]
        if self.queue_size == 0 or unlabelled.shape[0] == 0:
            return
        start = int(self.queue_ptr)
        count = unlabelled.shape[0]
        # of more than queue_size new entries only the last queue_size would survive
        unlabelled = unlabelled[-self.queue_size :]
        first = (start + count - unlabelled.shape[0]) % self.queue_size
        slots = (first + torch.arange(unlabelled.shape[0], device=unlabelled.device)) % self.queue_size
        self.queue[slots] = unlabelled
        self.queue_ptr.fill_((start + count) % self.queue_size)
