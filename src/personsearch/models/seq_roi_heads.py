"""SeqNet's RoI heads: a Faster R-CNN stage, then a re-ID stage on the boxes the first stage regressed.

Reuses torchvision's RoIHeads for proposal matching, sampling, box coding and the stage-1
post-processing. Training labels inside this module follow torchvision's convention
(0 background, 1..num_pids labelled identities, num_pids + 1 unlabelled person); see
`SeqNet.prepare_targets`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.ops import boxes as box_ops

from .captured import capture_roi_features
from .heads import BoxRegressor, NormAwareEmbedding
from .losses.oim import UNLABELLED, OIMLoss

SCORE_SOURCES = ("nae", "fcs")


def _box_regression_loss(
    box_regression: torch.Tensor, labels: torch.Tensor, regression_targets: torch.Tensor
) -> torch.Tensor:
    # SeqNet's regression loss: smooth L1 (beta 1) on positives, summed, divided by all samples
    positive = torch.where(labels > 0)[0]
    deltas = box_regression.reshape(labels.shape[0], -1, 4)
    return (
        F.smooth_l1_loss(deltas[positive, labels[positive]], regression_targets[positive], reduction="sum")
        / labels.numel()
    )


class SeqRoIHeads(RoIHeads):
    def __init__(
        self,
        *,
        box_roi_pool: nn.Module,
        box_head: nn.Module,
        box_predictor: nn.Module,
        reid_head: nn.Module,
        reid_box_regressor: BoxRegressor,
        embedding_head: NormAwareEmbedding,
        reid_loss: OIMLoss,
        fg_iou_thresh: float,
        bg_iou_thresh: float,
        batch_size_per_image: int,
        positive_fraction: float,
        score_thresh: float,
        nms_thresh: float,
        nms_thresh_s2: float,
        detections_per_img: int,
        score_source: str,
    ) -> None:
        super().__init__(
            box_roi_pool=box_roi_pool,
            box_head=box_head,
            box_predictor=box_predictor,
            fg_iou_thresh=fg_iou_thresh,
            bg_iou_thresh=bg_iou_thresh,
            batch_size_per_image=batch_size_per_image,
            positive_fraction=positive_fraction,
            bbox_reg_weights=None,
            score_thresh=score_thresh,
            nms_thresh=nms_thresh,
            detections_per_img=detections_per_img,
        )
        if score_source not in SCORE_SOURCES:
            raise ValueError(f"score_source must be one of {', '.join(SCORE_SOURCES)}; got {score_source!r}")
        self.reid_head = reid_head
        self.reid_box_regressor = reid_box_regressor
        self.embedding_head = embedding_head
        self.reid_loss = reid_loss
        self.nms_thresh_s2 = nms_thresh_s2
        self.score_source = score_source

    def reid_features(
        self, features: OrderedDict[str, torch.Tensor], boxes: list[torch.Tensor], image_shapes: list[tuple[int, int]]
    ) -> OrderedDict[str, torch.Tensor]:
        return self.reid_head(self.box_roi_pool(features, boxes, image_shapes))

    def forward(
        self,
        features: OrderedDict[str, torch.Tensor],
        proposals: list[torch.Tensor],
        image_shapes: list[tuple[int, int]],
        targets: list[dict[str, torch.Tensor]] | None = None,
        captured: dict[str, Any] | None = None,
    ) -> tuple[list[dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
        """`captured`, when given in training, receives intermediate features (`capture_roi_features`)."""
        if self.training:
            proposals, _, labels_s1, targets_s1 = self.select_training_samples(proposals, targets)

        stage1 = self.box_head(self.box_roi_pool(features, proposals, image_shapes))
        class_logits, box_regression = self.box_predictor(stage1["feat_res5"])

        if self.training:
            boxes = [b.detach() for b in self._regressed_boxes(box_regression, proposals, image_shapes)]
            boxes, _, labels_s2, targets_s2 = self.select_training_samples(boxes, targets)
        else:
            boxes, stage1_scores, _ = self.postprocess_detections(class_logits, box_regression, proposals, image_shapes)

        reid_maps = self.box_roi_pool(features, boxes, image_shapes)
        stage2 = self.reid_head(reid_maps)
        box_regression_s2 = self.reid_box_regressor(stage2["feat_res5"])
        embeddings, person_logits = self.embedding_head(stage2)

        if not self.training:
            scores = torch.sigmoid(person_logits) if self.score_source == "nae" else torch.cat(stage1_scores)
            return self._postprocess(box_regression_s2, scores, embeddings, boxes, image_shapes), {}

        labels_s1, labels_s2 = torch.cat(labels_s1), torch.cat(labels_s2)
        foreground = labels_s2 > 0
        if captured is not None:
            capture_roi_features(captured, box_features=stage1["feat_res5"], box_counts=[len(p) for p in proposals],
                                 reid_maps=reid_maps, reid_embeddings=embeddings, reid_counts=[len(b) for b in boxes],
                                 foreground=foreground)
        losses = {
            "loss_box_cls": F.cross_entropy(class_logits, labels_s1.clamp(0, 1)),
            "loss_box_reg": _box_regression_loss(box_regression, labels_s1.clamp(0, 1), torch.cat(targets_s1)),
            "loss_box_cls_s2": F.binary_cross_entropy_with_logits(person_logits, foreground.to(person_logits.dtype)),
            "loss_box_reg_s2": _box_regression_loss(box_regression_s2, labels_s2.clamp(0, 1), torch.cat(targets_s2)),
            "loss_oim": self.reid_loss(embeddings[foreground], self._oim_labels(labels_s2[foreground])),
        }
        return [], losses

    def _oim_labels(self, labels: torch.Tensor) -> torch.Tensor:
        num_pids = self.reid_loss.num_pids
        return torch.where(labels > num_pids, torch.full_like(labels, UNLABELLED), labels - 1)

    def _decode_person_boxes(self, box_regression: torch.Tensor, boxes: list[torch.Tensor]) -> torch.Tensor:
        num_classes = box_regression.shape[1] // 4
        return self.box_coder.decode(box_regression, boxes).reshape(-1, num_classes, 4)[:, 1]

    def _regressed_boxes(
        self, box_regression: torch.Tensor, proposals: list[torch.Tensor], image_shapes: list[tuple[int, int]]
    ) -> list[torch.Tensor]:
        decoded = self._decode_person_boxes(box_regression, proposals).split([len(p) for p in proposals])
        return [box_ops.clip_boxes_to_image(b, shape) for b, shape in zip(decoded, image_shapes)]

    def _postprocess(
        self,
        box_regression: torch.Tensor,
        scores: torch.Tensor,
        embeddings: torch.Tensor,
        boxes: list[torch.Tensor],
        image_shapes: list[tuple[int, int]],
    ) -> list[dict[str, torch.Tensor]]:
        counts = [len(b) for b in boxes]
        results = []
        for image_boxes, image_scores, image_embeddings, shape in zip(
            self._regressed_boxes(box_regression, boxes, image_shapes),
            scores.split(counts),
            embeddings.split(counts),
            image_shapes,
        ):
            keep = torch.where(image_scores > self.score_thresh)[0]
            keep = keep[box_ops.remove_small_boxes(image_boxes[keep], min_size=1e-2)]
            # stage-2 boxes overlap more than proposals do, hence a separate (higher) NMS threshold
            keep = keep[box_ops.nms(image_boxes[keep], image_scores[keep], self.nms_thresh_s2)]
            keep = keep[: self.detections_per_img]
            results.append(
                {"boxes": image_boxes[keep], "scores": image_scores[keep], "embeddings": image_embeddings[keep]}
            )
        return results
