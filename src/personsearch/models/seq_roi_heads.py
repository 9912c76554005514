"""SeqNet's RoI heads: a Faster R-CNN stage, then a re-ID stage on the boxes the first stage regressed.
Their base, `NormAwareRoIHeads`, is also NAE's one-stage heads' (`models.nae`).

Reuses torchvision's RoIHeads for proposal matching, sampling, box coding and the stage-1
post-processing. Training labels inside this module follow torchvision's convention
(0 background, 1..num_pids labelled identities, num_pids + 1 unlabelled person); see
`SeqNet.prepare_targets`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.ops import boxes as box_ops

from .captured import capture_roi_features
from .heads import BoxRegressor, NormAwareEmbedding
from .losses.oim import UNLABELLED, OIMLoss

SCORE_SOURCES = ("nae", "fcs")


def box_regression_loss(
    box_regression: torch.Tensor, labels: torch.Tensor, regression_targets: torch.Tensor
) -> torch.Tensor:
    # SeqNet's regression loss: smooth L1 (beta 1) on positives, summed, divided by all samples
    positive = torch.where(labels > 0)[0]
    deltas = box_regression.reshape(labels.shape[0], -1, 4)
    return (
        F.smooth_l1_loss(deltas[positive, labels[positive]], regression_targets[positive], reduction="sum")
        / labels.numel()
    )


class ReidStage(NamedTuple):
    """The re-ID stage's outputs for a list of boxes."""

    maps: torch.Tensor  # RoIAlign maps of the boxes
    pooled: OrderedDict[str, torch.Tensor]  # the re-ID head's features ("feat_res4", "feat_res5")
    box_regression: torch.Tensor  # the boxes' deltas, once more
    embeddings: torch.Tensor  # L2-normalised norm-aware embeddings
    person_logits: torch.Tensor  # the embeddings' norms as person logits


class NormAwareRoIHeads(RoIHeads):
    """What SeqNet's and NAE's RoI heads share: torchvision's proposal matching, sampling and box
    coding, and a re-ID stage that pools boxes, runs them through `reid_head` (the box head itself
    when None: NAE's single stage), regresses them once more and computes the norm-aware embedding,
    trained with OIM. Subclasses order the stages in `forward`."""

    def __init__(
        self,
        *,
        box_roi_pool: nn.Module,
        box_head: nn.Module,
        box_predictor: nn.Module | None,
        reid_head: nn.Module | None,
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
        if reid_head is not None:  # registered here, so parameters (and optimizer states) keep their order
            self.reid_head = reid_head
        self.reid_box_regressor = reid_box_regressor
        self.embedding_head = embedding_head
        self.reid_loss = reid_loss

    @property
    def reid_nms_thresh(self) -> float:
        """The NMS threshold of the re-ID stage's detections."""
        return self.nms_thresh

    def _reid_head(self) -> nn.Module:
        return self.reid_head if "reid_head" in self._modules else self.box_head

    def reid_features(
        self, features: OrderedDict[str, torch.Tensor], boxes: list[torch.Tensor], image_shapes: list[tuple[int, int]]
    ) -> OrderedDict[str, torch.Tensor]:
        return self._reid_head()(self.box_roi_pool(features, boxes, image_shapes))

    def _reid_stage(
        self, features: OrderedDict[str, torch.Tensor], boxes: list[torch.Tensor], image_shapes: list[tuple[int, int]]
    ) -> ReidStage:
        maps = self.box_roi_pool(features, boxes, image_shapes)
        pooled = self._reid_head()(maps)
        box_regression = self.reid_box_regressor(pooled["feat_res5"])
        embeddings, person_logits = self.embedding_head(pooled)
        return ReidStage(maps, pooled, box_regression, embeddings, person_logits)

    def _reid_stage_losses(
        self, stage: ReidStage, labels: torch.Tensor, regression_targets: torch.Tensor, *, suffix: str
    ) -> dict[str, torch.Tensor]:
        """Person score (binary cross-entropy on the norm), box regression and OIM losses of the
        sampled boxes, `labels` in the heads' convention; the first two names end in `suffix`."""
        foreground = labels > 0
        person_logits = stage.person_logits
        return {
            f"loss_box_cls{suffix}": F.binary_cross_entropy_with_logits(person_logits, foreground.to(person_logits.dtype)),
            f"loss_box_reg{suffix}": box_regression_loss(stage.box_regression, labels.clamp(0, 1), regression_targets),
            "loss_oim": self.reid_loss(stage.embeddings[foreground], self._oim_labels(labels[foreground])),
        }

    def _oim_labels(self, labels: torch.Tensor) -> torch.Tensor:
        num_pids = self.reid_loss.num_pids
        return torch.where(labels > num_pids, torch.full_like(labels, UNLABELLED), labels - 1)

    def _decode_person_boxes(self, box_regression: torch.Tensor, boxes: list[torch.Tensor]) -> torch.Tensor:
        num_classes = box_regression.shape[1] // 4
        return self.box_coder.decode(box_regression, boxes).reshape(-1, num_classes, 4)[:, 1]

    def regressed_boxes(
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
            self.regressed_boxes(box_regression, boxes, image_shapes),
            scores.split(counts),
            embeddings.split(counts),
            image_shapes,
        ):
            keep = torch.where(image_scores > self.score_thresh)[0]
            keep = keep[box_ops.remove_small_boxes(image_boxes[keep], min_size=1e-2)]
            keep = keep[box_ops.nms(image_boxes[keep], image_scores[keep], self.reid_nms_thresh)]
            keep = keep[: self.detections_per_img]
            results.append(
                {"boxes": image_boxes[keep], "scores": image_scores[keep], "embeddings": image_embeddings[keep]}
            )
        return results


class SeqRoIHeads(NormAwareRoIHeads):
    """A Faster R-CNN stage (`box_head`, `box_predictor`), then the re-ID stage (`reid_head`) on the
    boxes the first stage regressed. Other keyword arguments: `NormAwareRoIHeads`'."""

    def __init__(self, *, box_predictor: nn.Module, reid_head: nn.Module, nms_thresh_s2: float, score_source: str,
                 **heads: Any) -> None:
        if score_source not in SCORE_SOURCES:
            raise ValueError(f"score_source must be one of {', '.join(SCORE_SOURCES)}; got {score_source!r}")
        super().__init__(box_predictor=box_predictor, reid_head=reid_head, **heads)
        self.nms_thresh_s2 = nms_thresh_s2
        self.score_source = score_source

    @property
    def reid_nms_thresh(self) -> float:
        # stage-2 boxes overlap more than proposals do, hence a separate (higher) NMS threshold
        return self.nms_thresh_s2

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
            boxes = [b.detach() for b in self.regressed_boxes(box_regression, proposals, image_shapes)]
            boxes, _, labels_s2, targets_s2 = self.select_training_samples(boxes, targets)
        else:
            boxes, stage1_scores, _ = self.postprocess_detections(class_logits, box_regression, proposals, image_shapes)

        stage2 = self._reid_stage(features, boxes, image_shapes)

        if not self.training:
            scores = torch.sigmoid(stage2.person_logits) if self.score_source == "nae" else torch.cat(stage1_scores)
            return self._postprocess(stage2.box_regression, scores, stage2.embeddings, boxes, image_shapes), {}

        labels_s1, labels_s2 = torch.cat(labels_s1), torch.cat(labels_s2)
        if captured is not None:
            capture_roi_features(captured, box_features=stage1["feat_res5"], box_counts=[len(p) for p in proposals],
                                 reid_maps=stage2.maps, reid_embeddings=stage2.embeddings,
                                 reid_counts=[len(b) for b in boxes], foreground=labels_s2 > 0)
        losses = {
            "loss_box_cls": F.cross_entropy(class_logits, labels_s1.clamp(0, 1)),
            "loss_box_reg": box_regression_loss(box_regression, labels_s1.clamp(0, 1), torch.cat(targets_s1)),
            **self._reid_stage_losses(stage2, labels_s2, torch.cat(targets_s2), suffix="_s2"),
        }
        return [], losses
