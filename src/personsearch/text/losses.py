"""CTLG losses: hardness-aware contrastive (symmetric InfoNCE, tiny temperature), an
identity-aware variant (IRRA-style SDM), and an optional identity classification loss.

Targets are row-stochastic (B, B) matrices built from soft label vectors, so the
same code serves plain pairs (identity matrix), identity-aware training (same-id
pairs are positives, never negatives) and mixup (mixed label vectors).

Similarities and losses are computed in float32 even under autocast: at tau 0.005 a
similarity of 1 becomes a logit of 200, and half precision rounds the small differences
between hard negatives away.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from personsearch.registry import Registry

CONTRASTIVE_LOSSES: Registry = Registry("contrastive loss")
_EPS = 1e-8


def list_contrastive_losses() -> list[str]:
    return CONTRASTIVE_LOSSES.names()


def target_matrix(labels: torch.Tensor) -> torch.Tensor:
    """(B, C) soft label vectors -> (B, B) row-normalised agreement matrix L L^T."""
    agree = labels @ labels.t()
    return agree / agree.sum(dim=1, keepdim=True).clamp_min(_EPS)


@CONTRASTIVE_LOSSES.register("infonce")
def infonce_loss(sim: torch.Tensor, targets: torch.Tensor, *, tau: float) -> torch.Tensor:
    """1/2 [CE(S/tau, T) + CE(S^T/tau, T^T)] with soft targets; with T = I this is CTLG's loss.

    The gradient on a negative j is softmax(s_j/tau)/tau: a small tau puts nearly all of it on the
    hardest negatives (hardness-aware)."""
    t_rows = targets
    t_cols = targets.t() / targets.t().sum(dim=1, keepdim=True).clamp_min(_EPS)
    i2t = -(t_rows * F.log_softmax(sim / tau, dim=1)).sum(dim=1).mean()
    t2i = -(t_cols * F.log_softmax(sim.t() / tau, dim=1)).sum(dim=1).mean()
    return 0.5 * (i2t + t2i)


@CONTRASTIVE_LOSSES.register("sdm")
def sdm_loss(sim: torch.Tensor, targets: torch.Tensor, *, tau: float) -> torch.Tensor:
    """Similarity distribution matching (IRRA): 1/2 [KL(p_i2t || T) + KL(p_t2i || T^T)]."""
    t_cols = targets.t() / targets.t().sum(dim=1, keepdim=True).clamp_min(_EPS)
    total = sim.new_zeros(())
    for logits, tgt in ((sim / tau, targets), (sim.t() / tau, t_cols)):
        log_p = F.log_softmax(logits, dim=1)
        total = total + (log_p.exp() * (log_p - torch.log(tgt + _EPS))).sum(dim=1).mean()
    return 0.5 * total


def soft_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return -(labels * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


class CTLGLoss(nn.Module):
    """Weighted sum of the contrastive loss and the optional identity classification loss."""

    def __init__(
        self,
        *,
        contrastive: str = "infonce",
        tau: float = 0.005,
        identity_aware: bool = False,
        contrastive_weight: float = 1.0,
        id_weight: float = 0.0,
    ) -> None:
        super().__init__()
        if tau <= 0:
            raise ValueError(f"temperature must be > 0, got {tau}")
        self.contrastive_name = contrastive
        self.contrastive = CONTRASTIVE_LOSSES.get(contrastive)
        self.tau = float(tau)
        self.identity_aware = bool(identity_aware)
        self.contrastive_weight = float(contrastive_weight)
        self.id_weight = float(id_weight)

    def forward(
        self,
        image_feats: torch.Tensor,
        text_feats: torch.Tensor,
        *,
        instance_labels: torch.Tensor,
        identity_labels: torch.Tensor,
        image_logits: torch.Tensor | None = None,
        text_logits: torch.Tensor | None = None,
        local_identity_labels: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Features (B, D) (normalised here); labels are soft (B, B) instance and (B, C) identity vectors.

        Under torchrun the features and labels are the global batch; the logits (identity loss) stay local,
        with `local_identity_labels` (defaults to `identity_labels`)."""
        with torch.autocast(image_feats.device.type, enabled=False):
            sim = F.normalize(image_feats.float(), dim=-1) @ F.normalize(text_feats.float(), dim=-1).t()
            targets = target_matrix((identity_labels if self.identity_aware else instance_labels).float())
            losses = {"contrastive": self.contrastive(sim, targets, tau=self.tau) * self.contrastive_weight}
            if self.id_weight > 0:
                if image_logits is None or text_logits is None:
                    raise ValueError("id_weight > 0 needs a model with an identity classifier (num_classes > 0)")
                labels = (identity_labels if local_identity_labels is None else local_identity_labels).float()
                losses["identity"] = self.id_weight * 0.5 * (
                    soft_cross_entropy(image_logits.float(), labels) + soft_cross_entropy(text_logits.float(), labels)
                )
            losses["total"] = sum(losses.values())
        return losses
