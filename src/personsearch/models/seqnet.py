"""SeqNet (Li & Miao, AAAI 2021): one-step person search on torchvision's detection parts.

Faster R-CNN with a single stride-16 feature map; the boxes it regresses go through a second
head that refines them once more and computes a norm-aware embedding (NAE, Chen et al.,
CVPR 2020): the embedding's direction is the re-ID feature, its norm the person score.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any, Sequence

import torch
from torch import nn
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.rpn import AnchorGenerator, RegionProposalNetwork, RPNHead
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import MultiScaleRoIAlign

from .backbones import BackboneParts
from .heads import BoxRegressor, NormAwareEmbedding
from .losses.oim import UNLABELLED, OIMLoss
from .seq_roi_heads import SeqRoIHeads
from .weights import IMAGENET_MEAN, IMAGENET_STD

FEATURE_NAME = "feat_res4"

# Constructor arguments that only change inference: a trained model may be rebuilt with other values.
INFERENCE_KWARGS = frozenset({
    "score_source", "box_score_thresh", "box_nms_thresh", "box_nms_thresh_s2", "box_detections_per_img",
    "rpn_pre_nms_top_n_test", "rpn_post_nms_top_n_test", "rpn_nms_thresh", "min_size", "max_size",
})

# SeqNet's loss weights; stage-1 box regression is weighted 10.
DEFAULT_LOSS_WEIGHTS = {
    "loss_objectness": 1.0,
    "loss_rpn_box_reg": 1.0,
    "loss_box_cls": 1.0,
    "loss_box_reg": 10.0,
    "loss_box_cls_s2": 1.0,
    "loss_box_reg_s2": 1.0,
    "loss_oim": 1.0,
}


def _stage1_predictor(in_channels: int) -> FastRCNNPredictor:
    """torchvision's Fast R-CNN predictor with the Faster R-CNN paper's initialisation.

    Box deltas start near zero (std 0.001) instead of nn.Linear's default: with stage-1
    regression weighted 10, default-initialised deltas of a few units give gradients 30-70x
    the clipping norm in the first iterations, and the clipped updates starve the re-ID head.
    """
    predictor = FastRCNNPredictor(in_channels, 2)
    nn.init.normal_(predictor.cls_score.weight, std=0.01)
    nn.init.normal_(predictor.bbox_pred.weight, std=0.001)
    nn.init.zeros_(predictor.cls_score.bias)
    nn.init.zeros_(predictor.bbox_pred.bias)
    return predictor


class SeqNet(nn.Module):
    """Images are lists of float (3, H, W) RGB tensors in [0, 1]; the model resizes and normalises them.

    Training: `model(images, targets)` with targets[i] = {"boxes": (N, 4) float x1y1x2y2 pixels,
    "pids": (N,) int64 in 0..num_pids-1, or -1 for unlabelled people} returns a dict of weighted
    losses (sum them to train). Images without people take empty tensors.
    Eval: `model(images)` returns per image {"boxes": (K, 4) in input pixels, "scores": (K,),
    "embeddings": (K, embedding_dim) L2-normalised}.
    score_source: "fcs" ranks and thresholds detections by the stage-1 classification score
    ("first classification score", SeqNet's test-time choice); "nae" by the norm-aware person
    score of stage 2, so a detection must pass box_score_thresh twice (stage-1 score, then
    NAE score). Embeddings stay L2-normalised either way; SeqNet's confidence-weighted
    similarity multiplies them by the scores at evaluation (`eval.weight_by_score`).
    """

    def __init__(
        self,
        *,
        backbone: BackboneParts,
        num_pids: int,
        queue_size: int = 5000,
        oim_momentum: float = 0.5,
        oim_scalar: float = 30.0,
        oim_unseen_rows: str = "zero",
        embedding_dim: int = 256,
        min_size: int | Sequence[int] = 900,
        max_size: int = 1500,
        image_mean: Sequence[float] = IMAGENET_MEAN,
        image_std: Sequence[float] = IMAGENET_STD,
        anchor_sizes: Sequence[int] = (32, 64, 128, 256, 512),
        anchor_aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
        rpn_fg_iou_thresh: float = 0.7,
        rpn_bg_iou_thresh: float = 0.3,
        rpn_batch_size_per_image: int = 256,
        rpn_positive_fraction: float = 0.5,
        rpn_pre_nms_top_n_train: int = 12000,
        rpn_pre_nms_top_n_test: int = 6000,
        rpn_post_nms_top_n_train: int = 2000,
        rpn_post_nms_top_n_test: int = 300,
        rpn_nms_thresh: float = 0.7,
        roi_output_size: int = 14,
        roi_sampling_ratio: int = 2,
        box_fg_iou_thresh: float = 0.5,
        box_bg_iou_thresh: float = 0.5,
        box_batch_size_per_image: int = 128,
        box_positive_fraction: float = 0.5,
        box_score_thresh: float = 0.5,
        box_nms_thresh: float = 0.4,
        box_nms_thresh_s2: float = 0.5,
        box_detections_per_img: int = 300,
        bn_neck: bool = True,
        score_source: str = "nae",
        loss_weights: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        weights = dict(DEFAULT_LOSS_WEIGHTS)
        if loss_weights is not None:
            unknown = set(loss_weights) - set(DEFAULT_LOSS_WEIGHTS)
            if unknown:
                raise ValueError(
                    f"unknown loss weights {sorted(unknown)}; valid: {', '.join(sorted(DEFAULT_LOSS_WEIGHTS))}"
                )
            weights.update(loss_weights)
        self.loss_weights = weights
        self.num_pids = num_pids

        self.transform = GeneralizedRCNNTransform(
            min_size=tuple(min_size) if isinstance(min_size, Sequence) else min_size,
            max_size=max_size,
            image_mean=list(image_mean),
            image_std=list(image_std),
        )
        self.backbone = backbone.body

        anchor_generator = AnchorGenerator(sizes=(tuple(anchor_sizes),), aspect_ratios=(tuple(anchor_aspect_ratios),))
        self.rpn = RegionProposalNetwork(
            anchor_generator=anchor_generator,
            head=RPNHead(
                in_channels=backbone.body_channels, num_anchors=anchor_generator.num_anchors_per_location()[0]
            ),
            fg_iou_thresh=rpn_fg_iou_thresh,
            bg_iou_thresh=rpn_bg_iou_thresh,
            batch_size_per_image=rpn_batch_size_per_image,
            positive_fraction=rpn_positive_fraction,
            pre_nms_top_n={"training": rpn_pre_nms_top_n_train, "testing": rpn_pre_nms_top_n_test},
            post_nms_top_n={"training": rpn_post_nms_top_n_train, "testing": rpn_post_nms_top_n_test},
            nms_thresh=rpn_nms_thresh,
        )

        self.roi_heads = SeqRoIHeads(
            box_roi_pool=MultiScaleRoIAlign(
                featmap_names=[FEATURE_NAME], output_size=roi_output_size, sampling_ratio=roi_sampling_ratio
            ),
            box_head=backbone.head,
            box_predictor=_stage1_predictor(backbone.head_channels),
            reid_head=copy.deepcopy(backbone.head),
            reid_box_regressor=BoxRegressor(in_channels=backbone.head_channels, num_classes=2, bn_neck=bn_neck),
            embedding_head=NormAwareEmbedding(
                featmap_names=("feat_res4", "feat_res5"),
                in_channels=(backbone.body_channels, backbone.head_channels),
                dim=embedding_dim,
            ),
            reid_loss=OIMLoss(
                num_features=embedding_dim,
                num_pids=num_pids,
                queue_size=queue_size,
                momentum=oim_momentum,
                scalar=oim_scalar,
                unseen_rows=oim_unseen_rows,
            ),
            fg_iou_thresh=box_fg_iou_thresh,
            bg_iou_thresh=box_bg_iou_thresh,
            batch_size_per_image=box_batch_size_per_image,
            positive_fraction=box_positive_fraction,
            score_thresh=box_score_thresh,
            nms_thresh=box_nms_thresh,
            nms_thresh_s2=box_nms_thresh_s2,
            detections_per_img=box_detections_per_img,
            score_source=score_source,
        )

    def prepare_targets(self, targets: list[dict[str, torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
        """Check targets and turn pids into the RoI heads' labels (0 background, pid + 1, num_pids + 1 unlabelled)."""
        prepared = []
        for index, target in enumerate(targets):
            boxes, pids = target["boxes"], target["pids"]
            if boxes.dim() != 2 or boxes.shape[1] != 4 or not boxes.is_floating_point():
                raise ValueError(f"targets[{index}]['boxes'] must be a float (N, 4) tensor; got {tuple(boxes.shape)}")
            if pids.shape != (boxes.shape[0],) or pids.is_floating_point():
                raise ValueError(f"targets[{index}]['pids'] must be an integer ({boxes.shape[0]},) tensor")
            if ((pids < UNLABELLED) | (pids >= self.num_pids)).any():
                raise ValueError(
                    f"targets[{index}]['pids'] must be in 0..{self.num_pids - 1} or {UNLABELLED} (unlabelled); "
                    f"got {pids.tolist()}"
                )
            pids = pids.to(torch.int64)
            labels = torch.where(pids == UNLABELLED, torch.full_like(pids, self.num_pids + 1), pids + 1)
            prepared.append({"boxes": boxes, "labels": labels})
        return prepared

    def _features(
        self, images: list[torch.Tensor], targets: list[dict[str, torch.Tensor]] | None
    ) -> tuple[ImageList, OrderedDict[str, torch.Tensor], list[dict[str, torch.Tensor]] | None]:
        image_list, targets = self.transform(images, targets)
        features = OrderedDict([(FEATURE_NAME, self.backbone(image_list.tensors))])
        return image_list, features, targets

    def forward(
        self, images: list[torch.Tensor], targets: list[dict[str, torch.Tensor]] | None = None
    ) -> dict[str, torch.Tensor] | list[dict[str, torch.Tensor]]:
        if self.training:
            if targets is None:
                raise ValueError("training mode needs targets; call model.eval() for detection")
            return self.forward_with_features(images, targets)[0]

        original_sizes = [(int(image.shape[-2]), int(image.shape[-1])) for image in images]
        image_list, features, _ = self._features(images, None)
        proposals, _ = self.rpn(image_list, features)
        detections, _ = self.roi_heads(features, proposals, image_list.image_sizes)
        return self.transform.postprocess(detections, image_list.image_sizes, original_sizes)

    def forward_with_features(
        self, images: list[torch.Tensor], targets: list[dict[str, torch.Tensor]]
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Training forward returning (weighted losses, intermediate features) for training wrappers:
        "features" (the backbone map by name), "image_sizes" and "boxes" (the targets' boxes) in model
        input pixels, and what the RoI heads capture (`models.captured.capture_roi_features`)."""
        image_list, features, prepared = self._features(images, self.prepare_targets(targets))
        proposals, rpn_losses = self.rpn(image_list, features, prepared)
        captured: dict[str, Any] = {"features": features, "image_sizes": image_list.image_sizes,
                                    "boxes": [target["boxes"] for target in prepared]}
        _, head_losses = self.roi_heads(features, proposals, image_list.image_sizes, prepared, captured=captured)
        losses = {**rpn_losses, **head_losses}
        return {name: value * self.loss_weights[name] for name, value in losses.items()}, captured

    def extract_query_features(self, images: list[torch.Tensor], boxes_list: list[torch.Tensor]) -> torch.Tensor:
        """Embeddings (Q, embedding_dim), L2-normalised, of given boxes (x1y1x2y2 pixels), one row per box in order.

        The boxes go straight through the re-ID head, as SeqNet does for queries. Call in eval mode.
        """
        if len(images) != len(boxes_list):
            raise ValueError(f"got {len(images)} images but {len(boxes_list)} box tensors")
        image_list, features, targets = self._features(images, [{"boxes": boxes} for boxes in boxes_list])
        boxes = [target["boxes"] for target in targets]
        reid_features = self.roi_heads.reid_features(features, boxes, image_list.image_sizes)
        embeddings, _ = self.roi_heads.embedding_head(reid_features)
        return embeddings
