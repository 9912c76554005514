"""DICL's Siamese training around the shared one-step model (SeqNet + NAE).

Search branch: the whole augmented scene through the model's backbone, RPN and RoI heads
(detection losses as in supervised training). Instance branch: every ground-truth box cut from
the same augmented image (RoIAlign on pixels) to a fixed size and passed through the same
backbone, RoI head and embedding head (shared weights). Occlusion-invariant contrast masks grid
cells of the boxes in the search branch only. Re-ID losses use no identity: the cluster memory
gives pseudo labels, the instance branch gives each proposal its own person's embedding.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import roi_align

from personsearch.models.losses.cluster_memory import ClusterMemory
from personsearch.models.losses.intra_image import dense_relation_kl, many_to_one_loss
from personsearch.models.losses.triplet import background_triplet, batch_hard_triplet
from personsearch.models.seq_roi_heads import box_regression_loss
from personsearch.models.seqnet import FEATURE_NAME, SeqNet

MEMORY_SINGLETONS = ("train", "ignore")  # boxes alone in their cluster: trained as such (DICL), or left out


def instance_roi_features(search_model: SeqNet, images: torch.Tensor, boxes: list[torch.Tensor],
                          crop_size: Sequence[int]) -> torch.Tensor:
    """Crops of `boxes` from normalised `images` (B, 3, H, W), resized to `crop_size` (h, w), through the
    backbone body and pooled like a scene RoI: (N, C, r, r), ready for the re-ID head."""
    height, width = int(crop_size[0]), int(crop_size[1])
    crops = roi_align(images, boxes, output_size=(height, width), spatial_scale=1.0, sampling_ratio=2, aligned=True)
    featmap = search_model.backbone(crops)
    pool = search_model.roi_heads.box_roi_pool
    whole = crops.new_tensor([0.0, 0.0, float(width), float(height)]).expand(crops.shape[0], 4)
    rois = torch.cat([torch.arange(crops.shape[0], device=crops.device, dtype=crops.dtype)[:, None], whole], dim=1)
    return roi_align(featmap, rois, output_size=pool.output_size, spatial_scale=featmap.shape[-2] / height,
                     sampling_ratio=pool.sampling_ratio)


def instance_embeddings(search_model: SeqNet, images: list[torch.Tensor], boxes: list[torch.Tensor],
                        crop_size: Sequence[int]) -> torch.Tensor:
    """Instance-branch embeddings (N, D) of boxes given in the pixels of raw [0, 1] images (eval use)."""
    counts = [len(b) for b in boxes]
    if sum(counts) == 0:
        return images[0].new_zeros((0, search_model.roi_heads.embedding_head.dim))
    pooled = [instance_roi_features(search_model, search_model.transform.normalize(image)[None], [b.float()],
                                    crop_size) for image, b in zip(images, boxes) if len(b)]
    heads = search_model.roi_heads
    embeddings, _ = heads.embedding_head(heads.reid_head(torch.cat(pooled)))
    return embeddings


def occlude_boxes(images: torch.Tensor, boxes: list[torch.Tensor], image_sizes: list[tuple[int, int]], *,
                  prob: float, grid: Sequence[int], cells: int) -> torch.Tensor:
    """A copy of `images` where each box, with probability `prob`, has `cells` random cells of its
    rows x cols `grid` filled with the image's mean colour. Boxes too small for a cell keep their
    pixels; the other boxes of the image are still masked."""
    out = images.clone()
    rows, cols = int(grid[0]), int(grid[1])
    for index, (image_boxes, (height, width)) in enumerate(zip(boxes, image_sizes)):
        if len(image_boxes) == 0:
            continue
        fill = images[index, :, :height, :width].mean(dim=(1, 2))[:, None, None]
        for x1, y1, x2, y2 in image_boxes.tolist():
            if torch.rand(()).item() >= prob:
                continue
            cell_h, cell_w = (y2 - y1) / rows, (x2 - x1) / cols
            for cell in torch.randperm(rows * cols)[:cells].tolist():
                r, c = divmod(cell, cols)
                top, bottom = round(y1 + r * cell_h), round(y1 + (r + 1) * cell_h)
                left, right = round(x1 + c * cell_w), round(x1 + (c + 1) * cell_w)
                if bottom > top and right > left:
                    out[index, :, max(top, 0):bottom, max(left, 0):right] = fill
    return out


class DICLTrainingModel(nn.Module):
    """`model(images, targets)` in training mode returns the weighted loss dict; targets[i] =
    {"boxes": (N, 4) float pixels, "slots": (N,) int64 memory slot of each box}. No identities.

    A loss weight of 0 switches its term off; `siamese=False` drops the instance branch
    (then the re-ID feature is the search embedding alone and the spatial terms are unavailable).
    In eval mode the call is the search model's detection call.
    """

    def __init__(
        self,
        *,
        search_model: SeqNet,
        num_slots: int,
        siamese: bool = True,
        instance_size: Sequence[int] = (224, 96),
        memory_temperature: float = 0.05,
        memory_momentum: float = 0.2,
        hard_negative_mass: float = 0.6,
        memory_weight: float = 1.0,
        many_to_one_weight: float = 1.0,
        dense_weight: float = 0.1,
        dense_temperature: float = 1.0,
        dense_reduction: str = "batchmean",
        occlusion_prob: float = 0.5,
        occlusion_grid: Sequence[int] = (14, 6),
        occlusion_cells: int = 2,
        triplet_weight: float = 1.0,
        triplet_margin: float = 0.3,
        triplet_background_weight: float = 0.25,
        memory_singletons: str = "train",
    ) -> None:
        super().__init__()
        if not siamese and (many_to_one_weight or dense_weight):
            raise ValueError("the many-to-one and dense terms compare the two branches: they need siamese=True")
        if memory_singletons not in MEMORY_SINGLETONS:
            raise ValueError(f"memory_singletons must be one of {MEMORY_SINGLETONS}; got {memory_singletons!r}")
        if not 0.0 <= occlusion_prob <= 1.0:
            raise ValueError(f"occlusion_prob must be in [0, 1]; got {occlusion_prob}")
        self.search_model = search_model
        self.memory = ClusterMemory(num_slots=num_slots, num_features=search_model.roi_heads.embedding_head.dim,
                                    temperature=memory_temperature, momentum=memory_momentum,
                                    hard_negative_mass=hard_negative_mass,
                                    train_singletons=memory_singletons == "train")
        # The memory is kept identical on every rank (gathered updates, broadcast clusters), so
        # DistributedDataParallel need not re-broadcast it (N x D floats) before every forward.
        self._ddp_params_and_buffers_to_ignore = [f"memory.{name}" for name, _ in self.memory.named_buffers()]
        self.siamese = siamese
        self.instance_size = tuple(int(v) for v in instance_size)
        self.memory_weight = memory_weight
        self.many_to_one_weight = many_to_one_weight
        self.dense_weight = dense_weight
        self.dense_temperature = dense_temperature
        self.dense_reduction = dense_reduction
        self.occlusion_prob = occlusion_prob
        self.occlusion_grid = tuple(int(v) for v in occlusion_grid)
        self.occlusion_cells = occlusion_cells
        self.triplet_weight = triplet_weight
        self.triplet_margin = triplet_margin
        self.triplet_background_weight = triplet_background_weight

    # -------------------------------------------------------------- embeddings outside training
    @torch.no_grad()
    def box_features(self, images: list[torch.Tensor], boxes: list[torch.Tensor]) -> torch.Tensor:
        """The re-ID features the memory holds for given boxes: search-branch embedding, averaged with the
        instance-branch one when siamese, L2-normalised. Call in eval mode."""
        search = self.search_model.extract_query_features(images, boxes)
        if not self.siamese:
            return search
        return F.normalize(search + instance_embeddings(self.search_model, images, boxes, self.instance_size), dim=1)

    # ------------------------------------------------------------------------------ training
    def _prepare(self, targets: list[dict[str, torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
        prepared = []
        for index, target in enumerate(targets):
            boxes, slots = target["boxes"], target["slots"]
            if boxes.dim() != 2 or boxes.shape[1] != 4 or not boxes.is_floating_point():
                raise ValueError(f"targets[{index}]['boxes'] must be a float (N, 4) tensor; got {tuple(boxes.shape)}")
            if slots.shape != (boxes.shape[0],) or slots.is_floating_point():
                raise ValueError(f"targets[{index}]['slots'] must be an integer ({boxes.shape[0]},) tensor")
            if len(slots) and (slots.min() < 0 or slots.max() >= self.memory.num_slots):
                raise ValueError(f"targets[{index}]['slots'] must be in 0..{self.memory.num_slots - 1}")
            labels = torch.ones(boxes.shape[0], dtype=torch.int64, device=boxes.device)
            prepared.append({"boxes": boxes, "labels": labels, "slots": slots.to(torch.int64)})
        return prepared

    def forward(self, images: list[torch.Tensor], targets: list[dict[str, torch.Tensor]] | None = None):
        if not self.training:
            return self.search_model(images)
        if targets is None:
            raise ValueError("training mode needs targets")
        model, heads = self.search_model, self.search_model.roi_heads
        image_list, prepared = model.transform(images, self._prepare(targets))
        sizes = image_list.image_sizes
        gt_boxes = [t["boxes"] for t in prepared]
        clean = image_list.tensors
        scene = clean
        if self.occlusion_prob > 0:
            scene = occlude_boxes(clean, gt_boxes, sizes, prob=self.occlusion_prob, grid=self.occlusion_grid,
                                  cells=self.occlusion_cells)
        features = OrderedDict([(FEATURE_NAME, model.backbone(scene))])
        proposals, rpn_losses = model.rpn(ImageList(scene, sizes), features, prepared)

        proposals, _, labels_s1, targets_s1 = heads.select_training_samples(proposals, prepared)
        stage1 = heads.box_head(heads.box_roi_pool(features, proposals, sizes))
        class_logits, box_regression = heads.box_predictor(stage1["feat_res5"])
        boxes = [b.detach() for b in heads.regressed_boxes(box_regression, proposals, sizes)]
        boxes, matched, labels_s2, targets_s2 = heads.select_training_samples(boxes, prepared)

        pooled = heads.box_roi_pool(features, boxes, sizes)
        num_search = pooled.shape[0]
        num_gt = sum(len(b) for b in gt_boxes)
        if self.siamese and num_gt:
            pooled = torch.cat([pooled, instance_roi_features(model, clean, gt_boxes, self.instance_size)])
        reid = heads.reid_head(pooled)
        box_regression_s2 = heads.reid_box_regressor(reid["feat_res5"][:num_search])
        embeddings, person_logits = heads.embedding_head(reid)
        search, instance = embeddings[:num_search], embeddings[num_search:]

        labels_s1, labels_s2 = torch.cat(labels_s1), torch.cat(labels_s2)
        foreground = labels_s2 > 0
        losses = {
            **rpn_losses,
            "loss_box_cls": F.cross_entropy(class_logits, labels_s1.clamp(0, 1)),
            "loss_box_reg": box_regression_loss(box_regression, labels_s1.clamp(0, 1), torch.cat(targets_s1)),
            "loss_box_cls_s2": F.binary_cross_entropy_with_logits(
                person_logits[:num_search], foreground.to(person_logits.dtype)),
            "loss_box_reg_s2": box_regression_loss(box_regression_s2, labels_s2.clamp(0, 1), torch.cat(targets_s2)),
        }
        losses = {name: value * model.loss_weights[name] for name, value in losses.items()}
        losses.update(self._reid_losses(search, instance, foreground, matched, prepared))
        return losses

    def _reid_losses(self, search: torch.Tensor, instance: torch.Tensor, foreground: torch.Tensor,
                     matched: list[torch.Tensor], prepared: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        # each sampled box's ground-truth box: its memory slot and its row among the instance embeddings
        offsets = torch.tensor([0] + [len(t["boxes"]) for t in prepared], device=search.device).cumsum(0)[:-1]
        gt_row = torch.cat([m + offset for m, offset in zip(matched, offsets)])[foreground]
        all_slots = torch.cat([t["slots"] for t in prepared])
        slots = all_slots[gt_row]
        positives = search[foreground]
        if self.siamese:
            paired = instance[gt_row]
            features = F.normalize(positives + paired, dim=1)  # the original left this average unnormalised
        else:
            features = positives
        losses = {}
        if self.memory_weight:
            losses["loss_cluster"] = self.memory(features, slots) * self.memory_weight
        if self.many_to_one_weight:
            losses["loss_many_to_one"] = many_to_one_loss(positives, paired) * self.many_to_one_weight
        if self.dense_weight:
            losses["loss_dense"] = self.dense_weight * dense_relation_kl(
                positives, paired, temperature=self.dense_temperature, reduction=self.dense_reduction)
        if self.triplet_weight:
            pseudo = self.memory.labels[slots]
            triplet = batch_hard_triplet(features, pseudo, margin=self.triplet_margin)
            if self.triplet_background_weight:
                triplet = triplet + self.triplet_background_weight * background_triplet(
                    features, pseudo, search[~foreground], margin=self.triplet_margin)
            losses["loss_triplet"] = triplet * self.triplet_weight
        self._update_memory(features, slots)
        return losses

    @torch.no_grad()
    def _update_memory(self, features: torch.Tensor, slots: torch.Tensor) -> None:
        """One update per box: the normalised mean of its proposals' features."""
        unique, inverse = torch.unique(slots, return_inverse=True)
        sums = features.new_zeros((unique.shape[0], features.shape[1])).index_add_(0, inverse, features.detach())
        self.memory.update(F.normalize(sums, dim=1), unique)


class InstanceAveragedSearch(nn.Module):
    """Test time with the instance branch: each detection's (and query's) embedding is averaged with the
    instance-branch embedding of its box crop, then re-normalised. Costs one backbone pass per box."""

    def __init__(self, *, search_model: SeqNet, instance_size: Sequence[int]) -> None:
        super().__init__()
        self.search_model = search_model
        self.instance_size = tuple(int(v) for v in instance_size)

    @torch.no_grad()
    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        detections = self.search_model(images)
        for image, found in zip(images, detections):
            if len(found["boxes"]):
                crops = instance_embeddings(self.search_model, [image], [found["boxes"]], self.instance_size)
                found["embeddings"] = F.normalize(found["embeddings"] + crops, dim=1)
        return detections

    @torch.no_grad()
    def extract_query_features(self, images: list[torch.Tensor], boxes_list: list[torch.Tensor]) -> torch.Tensor:
        search = self.search_model.extract_query_features(images, boxes_list)
        crops = instance_embeddings(self.search_model, images, boxes_list, self.instance_size)
        return F.normalize(search + crops, dim=1)
