"""The module the trainer optimises: a dual encoder plus the CTLG loss and feature-level mixup.

`model(images, targets)` returns a dict of scalar losses (the engine's contract). The
checkpoint's "model_kwargs" are the arguments of `build_text_training_model`;
`.encoder` is the dual encoder used for evaluation and search.

Under torchrun the features and labels of every process are gathered, so the contrastive
loss sees the whole global batch (as CTLG's single-process multi-GPU training did); see
`personsearch.text.gather` for why the gradient equals the big-batch gradient.
`activation_checkpointing` recomputes each encoder layer in the backward pass instead of
storing its activations: the loss is still computed over the whole batch at once, so it is
exactly the big-batch loss, and a batch of 256 fits in far less memory.
"""

from __future__ import annotations

import random
from typing import Any

import torch
from torch import nn

from personsearch.engine import distributed as du
from personsearch.text.gather import gather_rows
from personsearch.text.losses import CTLGLoss
from personsearch.text.mixup import sample_feature_mix
from personsearch.text.model import DualEncoder, build_dual_encoder


def soft_identity_labels(pids: torch.Tensor, weights: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    """(B, K) identities with (B, K) weights -> (B, C) soft label vectors.

    num_classes None: classes are the identities present in the batch (enough for target matrices)."""
    if num_classes is None:
        classes, index = torch.unique(pids, return_inverse=True)
        num_classes = len(classes)
    else:
        index = pids
    labels = torch.zeros(pids.shape[0], num_classes, device=pids.device, dtype=weights.dtype)
    return labels.scatter_add_(1, index, weights)


class TextTrainingModel(nn.Module):
    def __init__(
        self,
        *,
        encoder: DualEncoder,
        loss: CTLGLoss,
        feature_mixup_p: float = 0.0,
        feature_mixup_alpha: float = 1.0,
        activation_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        if not 0.0 <= feature_mixup_p <= 1.0:
            raise ValueError(f"feature_mixup_p must be in [0, 1], got {feature_mixup_p}")
        self.encoder = encoder
        self.loss = loss
        self.feature_mixup_p = float(feature_mixup_p)
        self.feature_mixup_alpha = float(feature_mixup_alpha)
        for part in (encoder.image_encoder, encoder.text_encoder):
            part.checkpointing = bool(activation_checkpointing)

    def forward(self, images: list[torch.Tensor], targets: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        enc = self.encoder
        x = torch.stack(images)
        ids = torch.stack([t["token_ids"] for t in targets])
        mask = torch.stack([t["attention_mask"] for t in targets]).float()
        pids = torch.stack([t["pids"] for t in targets])
        weights = torch.stack([t["pid_weights"] for t in targets])
        b = x.shape[0]
        # instance labels as slots over the global batch: sample i of this process is row rank*b + i
        inst_ids = (du.get_rank() * b + torch.arange(b, device=x.device))[:, None]
        inst_weights = torch.ones(b, 1, device=x.device)

        img_tokens = enc.image_encoder.stem(x)
        txt_tokens = enc.text_encoder.stem(ids, mask)
        if self.feature_mixup_p > 0:
            # Python's global generator: its state is saved with every checkpoint (exact resume).
            mix = sample_feature_mix(b, p=self.feature_mixup_p, alpha=self.feature_mixup_alpha, rng=random)
            img_tokens, txt_tokens, mask = mix.tokens(img_tokens), mix.tokens(txt_tokens), mix.mask(mask)
            inst_ids, inst_weights = mix.slots(inst_ids, inst_weights)
            pids, weights = mix.slots(pids, weights)
        img_feats = enc.image_features(img_tokens)
        txt_feats = enc.text_features(txt_tokens, mask)
        logits = {}
        if enc.classifier is not None:
            logits = {"image_logits": enc.classifier(img_feats), "text_logits": enc.classifier(txt_feats),
                      "local_identity_labels": soft_identity_labels(pids, weights, enc.classifier.out_features)}
        num_classes = enc.classifier.out_features if enc.classifier is not None else None
        instance = soft_identity_labels(gather_rows(inst_ids, with_grad=False), gather_rows(inst_weights, with_grad=False),
                                        b * du.get_world_size())
        identity = soft_identity_labels(gather_rows(pids, with_grad=False), gather_rows(weights, with_grad=False),
                                        num_classes)
        losses = self.loss(
            gather_rows(img_feats.float(), with_grad=True),
            gather_rows(txt_feats.float(), with_grad=True),
            instance_labels=instance, identity_labels=identity, **logits,
        )
        losses.pop("total")
        return losses


def build_text_training_model(
    *,
    encoder: dict[str, Any],
    loss: dict[str, Any],
    feature_mixup_p: float = 0.0,
    feature_mixup_alpha: float = 1.0,
    activation_checkpointing: bool = False,
    pretrained: bool = True,
) -> TextTrainingModel:
    return TextTrainingModel(
        encoder=build_dual_encoder(**encoder, pretrained=pretrained),
        loss=CTLGLoss(**loss),
        feature_mixup_p=feature_mixup_p,
        feature_mixup_alpha=feature_mixup_alpha,
        activation_checkpointing=activation_checkpointing,
    )
