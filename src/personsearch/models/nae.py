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
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection.roi_heads import RoIHeads

from .captured import capture_roi_features
from .heads import BoxRegressor, NormAwareEmbedding
from .losses.oim import UNLABELLED, OIMLoss
from .seq_roi_heads import _box_regression_loss
from .seqnet import SeqNet

NAE_LOSS_WEIGHTS = {
    "loss_objectness": 1.0,
    "loss_rpn_box_reg": 1.0,
    "loss_box_cls": 1.0,
    "loss_box_reg": 1.0,
    "loss_oim": 1.0,
}


class NAERoIHeads(RoIHeads):
    """One RoI stage: box regression and the norm-aware embedding on the same pooled features."""

    def __init__(
        self,
        *,
        box_roi_pool: nn.Module,
        box_head: nn.Module,
        reid_box_regressor: BoxRegressor,
        embedding_head: NormAwareEmbedding,
        reid_loss: OIMLoss,
        fg_iou_thresh: float,
        bg_iou_thresh: float,
        batch_size_per_image: int,
        positive_fraction: float,
        score_thresh: float,
        nms_thresh: float,
        detections_per_img: int,
    ) -> None:
        super().__init__(
            box_roi_pool=box_roi_pool,
            box_head=box_head,
            box_predictor=None,
            fg_iou_thresh=fg_iou_thresh,
            bg_iou_thresh=bg_iou_thresh,
            batch_size_per_image=batch_size_per_image,
            positive_fraction=positive_fraction,
            bbox_reg_weights=None,
            score_thresh=score_thresh,
            nms_thresh=nms_thresh,
            detections_per_img=detections_per_img,
        )
        self.reid_box_regressor = reid_box_regressor
        self.embedding_head = embedding_head
        self.reid_loss = reid_loss

    def reid_features(
        self, features: OrderedDict[str, torch.Tensor], boxes: list[torch.Tensor], image_shapes: list[tuple[int, int]]
    ) -> OrderedDict[str, torch.Tensor]:
        return self.box_head(self.box_roi_pool(features, boxes, image_shapes))

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
        roi_maps = self.box_roi_pool(features, proposals, image_shapes)
        pooled = self.box_head(roi_maps)
        box_regression = self.reid_box_regressor(pooled["feat_res5"])
        embeddings, person_logits = self.embedding_head(pooled)
        if not self.training:
            return self._postprocess(box_regression, torch.sigmoid(person_logits), embeddings, proposals,
                                     image_shapes), {}
        labels = torch.cat(labels)
        foreground = labels > 0
        if captured is not None:
            counts = [len(p) for p in proposals]
            capture_roi_features(captured, box_features=pooled["feat_res5"], box_counts=counts, reid_maps=roi_maps,
                                 reid_embeddings=embeddings, reid_counts=counts, foreground=foreground)
        losses = {
            "loss_box_cls": F.binary_cross_entropy_with_logits(person_logits, foreground.to(person_logits.dtype)),
            "loss_box_reg": _box_regression_loss(box_regression, labels.clamp(0, 1), torch.cat(regression_targets)),
            "loss_oim": self.reid_loss(embeddings[foreground], self._oim_labels(labels[foreground])),
        }
        return [], losses

    def _oim_labels(self, labels: torch.Tensor) -> torch.Tensor:
        num_pids = self.reid_loss.num_pids
        return torch.where(labels > num_pids, torch.full_like(labels, UNLABELLED), labels - 1)

    def _postprocess(
        self,
        box_regression: torch.Tensor,
        scores: torch.Tensor,
        embeddings: torch.Tensor,
        proposals: list[torch.Tensor],
        image_shapes: list[tuple[int, int]],
    ) -> list[dict[str, torch.Tensor]]:
        from torchvision.ops import boxes as box_ops

        counts = [len(p) for p in proposals]
        decoded = self.box_coder.decode(box_regression, proposals).reshape(-1, box_regression.shape[1] // 4, 4)[:, 1]
        results = []
        for boxes, image_scores, image_embeddings, shape in zip(
            decoded.split(counts), scores.split(counts), embeddings.split(counts), image_shapes
        ):
            boxes = box_ops.clip_boxes_to_image(boxes, shape)
            keep = torch.where(image_scores > self.score_thresh)[0]
            keep = keep[box_ops.remove_small_boxes(boxes[keep], min_size=1e-2)]
            keep = keep[box_ops.nms(boxes[keep], image_scores[keep], self.nms_thresh)]
            keep = keep[: self.detections_per_img]
            results.append({"boxes": boxes[keep], "scores": image_scores[keep], "embeddings": image_embeddings[keep]})
        return results


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
