"""NAE (Chen et al., CVPR 2020): Faster R-CNN whose one RoI head also computes the norm-aware embedding.

SeqNet without its second stage: proposals -> RoIAlign -> the backbone's last stage -> box
deltas and the norm-aware embedding, whose norm is the person score (trained with binary
cross-entropy) and whose direction is the re-ID feature (OIM). The parts keep SeqNet's names
(`roi_heads.box_head`, `roi_heads.reid_box_regressor`, `roi_heads.embedding_head`), so a
checkpoint of either model initialises the shared parts of the other.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch

from .captured import capture_roi_features
from .seq_roi_heads import NormAwareRoIHeads
from .seqnet import SeqNet

NAE_LOSS_WEIGHTS = {
    "loss_objectness": 1.0,
    "loss_rpn_box_reg": 1.0,
    "loss_box_cls": 1.0,
    "loss_box_reg": 1.0,
    "loss_oim": 1.0,
}


class NAERoIHeads(NormAwareRoIHeads):
    """One RoI stage: box regression and the norm-aware embedding on the same pooled features
    (`box_head` is also the re-ID head). Keyword arguments: `NormAwareRoIHeads`' but the
    stage-1 predictor and the second head."""

    def __init__(self, **heads: Any) -> None:
        super().__init__(box_predictor=None, reid_head=None, **heads)

    def forward(
        self,
        features: OrderedDict[str, torch.Tensor],
        proposals: list[torch.Tensor],
        image_shapes: list[tuple[int, int]],
        targets: list[dict[str, torch.Tensor]] | None = None,
        captured: dict[str, Any] | None = None,
    ) -> tuple[list[dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
        """`captured`, when given, receives the intermediate features (see `SeqRoIHeads.forward`)."""
        if self.training:
            proposals, _, labels, regression_targets = self.select_training_samples(proposals, targets)
        stage = self._reid_stage(features, proposals, image_shapes)
        if not self.training:
            return self._postprocess(stage.box_regression, torch.sigmoid(stage.person_logits), stage.embeddings,
                                     proposals, image_shapes), {}
        labels = torch.cat(labels)
        if captured is not None:
            counts = [len(p) for p in proposals]
            capture_roi_features(captured, box_features=stage.pooled["feat_res5"], box_counts=counts,
                                 reid_maps=stage.maps, reid_embeddings=stage.embeddings, reid_counts=counts,
                                 foreground=labels > 0)
        return [], self._reid_stage_losses(stage, labels, torch.cat(regression_targets), suffix="")


class NAE(SeqNet):
    """Same constructor arguments, inputs and outputs as `SeqNet`; stage-2 arguments
    (`box_nms_thresh_s2`, `score_source`) are accepted and unused, so configs switch models by name.
    Loss terms: RPN's, `loss_box_cls` (person score), `loss_box_reg`, `loss_oim`."""

    def __init__(self, *, loss_weights: dict[str, float] | None = None, bn_neck: bool = False, **kwargs: Any) -> None:
        if loss_weights is not None:
            unknown = set(loss_weights) - set(NAE_LOSS_WEIGHTS)
            if unknown:
                raise ValueError(f"unknown loss weights {sorted(unknown)}; valid: {', '.join(sorted(NAE_LOSS_WEIGHTS))}")
        super().__init__(bn_neck=bn_neck, **kwargs)
        self.loss_weights = {**NAE_LOSS_WEIGHTS, **(loss_weights or {})}
        stage = self.roi_heads
        self.roi_heads = NAERoIHeads(
            box_roi_pool=stage.box_roi_pool,
            box_head=stage.box_head,
            reid_box_regressor=stage.reid_box_regressor,
            embedding_head=stage.embedding_head,
            reid_loss=stage.reid_loss,
            fg_iou_thresh=stage.proposal_matcher.high_threshold,
            bg_iou_thresh=stage.proposal_matcher.low_threshold,
            batch_size_per_image=stage.fg_bg_sampler.batch_size_per_image,
            positive_fraction=stage.fg_bg_sampler.positive_fraction,
            score_thresh=stage.score_thresh,
            nms_thresh=stage.nms_thresh,
            detections_per_img=stage.detections_per_img,
        )
