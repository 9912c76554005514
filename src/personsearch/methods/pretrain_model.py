"""The pre-training wrapper around a one-step search model (PretrainPS):
L = L_ps + eta * L_con + lambda * L_adv.

- L_ps: the model's own detection and re-ID losses on every view.
- L_con: SimSiam on the instance features h (the re-ID head's un-normalised embedding) of the
  same ground-truth boxes in the two views of a sample whose source has no real identities;
  a prediction MLP maps h to z; symmetric negative cosine with stop-gradient.
- L_adv: one intra-task alignment module per task, over that task's sources, never across
  tasks. Detection: image level = the backbone's map of detection images, instance level = the
  detection head's vectors of their sampled proposals. Re-ID: image level = the RoIAlign maps
  of the re-ID images' foreground boxes, instance level = those boxes' re-ID embeddings.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from personsearch.models.domain_alignment import IntraTaskAlignment
from personsearch.models.losses.simsiam import PredictionMLP, simsiam_loss


class PretrainingModel(nn.Module):
    """`model(images, targets)` returns the loss dict; targets carry "source", "sample", "view"
    (see `data.pretrain_dataset`). `contrast_sources`: the sources without real identities (their
    two views enter L_con); `domain_of_source[task][s]`: a source's label in its task's alignment
    module; a module given as None is off."""

    def __init__(
        self,
        *,
        model: nn.Module,
        contrast_sources: set[int],
        predictor: PredictionMLP | None,
        detection_alignment: IntraTaskAlignment | None,
        reid_alignment: IntraTaskAlignment | None,
        domain_of_source: Mapping[str, Mapping[int, int]],
        eta: float = 1.0,
        lam: float = 1.0,
    ) -> None:
        super().__init__()
        self.model = model
        # OIM's table and queue stay identical on every rank (updates are gathered first), so
        # DistributedDataParallel need not re-broadcast them before every forward: with a table row
        # per detection box and unlabelled crop that would be hundreds of MB per step at full scale.
        self._ddp_params_and_buffers_to_ignore = [f"model.roi_heads.reid_loss.{name}"
                                                  for name, _ in model.roi_heads.reid_loss.named_buffers()]
        self.contrast_sources = set(contrast_sources)
        self.predictor = predictor
        self.detection_alignment = detection_alignment
        self.reid_alignment = reid_alignment
        self.domain_of_source = {task: dict(labels) for task, labels in domain_of_source.items()}
        self.eta, self.lam = eta, lam

    def forward(self, images: list[torch.Tensor], targets: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        losses, captured = self.model.forward_with_features(images, targets)
        device = images[0].device
        if self.predictor is not None:
            losses["loss_contrast"] = self.eta * self._contrast(captured, targets)
        for task, module in (("detection", self.detection_alignment), ("reid", self.reid_alignment)):
            if module is not None:
                for name, value in self._alignment(task, module, captured, targets, device).items():
                    losses[name] = self.lam * value
        return losses

    # ------------------------------------------------------------------ L_con
    def _pairs(self, targets: list[dict[str, Any]]) -> list[tuple[int, int]]:
        views: dict[int, dict[int, int]] = {}
        for index, target in enumerate(targets):
            if int(target["source"]) in self.contrast_sources:
                views.setdefault(int(target["sample"]), {})[int(target["view"])] = index
        return [(v[0], v[1]) for v in views.values() if 0 in v and 1 in v]

    def paired_instance_features(self, captured: dict[str, Any],
                                 targets: list[dict[str, Any]]) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(h1, h2): the instance features of the same boxes in views 1 and 2 of the samples without real
        identities, row for row; None when the batch has no such pair."""
        pairs = self._pairs(targets)
        involved = {i for pair in pairs for i in pair}
        boxes = [b if i in involved else b[:0] for i, b in enumerate(captured["boxes"])]
        if sum(len(b) for b in boxes) == 0:
            return None
        heads = self.model.roi_heads
        h = heads.embedding_head.project(heads.reid_features(captured["features"], boxes, captured["image_sizes"]))
        per_image = h.split([len(b) for b in boxes])
        h1 = torch.cat([per_image[a] for a, _ in pairs])
        h2 = torch.cat([per_image[b] for _, b in pairs])
        return (h1, h2) if h1.shape[0] else None

    def _contrast(self, captured: dict[str, Any], targets: list[dict[str, Any]]) -> torch.Tensor:
        paired = self.paired_instance_features(captured, targets)
        if paired is None:
            return next(iter(captured["features"].values())).sum() * 0.0
        h1, h2 = paired
        return simsiam_loss(h1, h2, self.predictor(h1), self.predictor(h2))

    # ------------------------------------------------------------------ L_adv
    def _alignment(self, task: str, module: IntraTaskAlignment, captured: dict[str, Any],
                   targets: list[dict[str, Any]], device: torch.device) -> dict[str, torch.Tensor]:
        labels = self.domain_of_source[task]
        image_domain = torch.tensor([labels.get(int(t["source"]), -1) for t in targets], device=device)
        member = image_domain >= 0
        prefix = "loss_det" if task == "detection" else "loss_reid"
        if task == "detection":
            feature_map = next(iter(captured["features"].values()))
            images = torch.where(member)[0]
            rows = torch.repeat_interleave(torch.arange(len(targets), device=device),
                                           torch.tensor(captured["box_counts"], device=device))
            keep = member[rows]
            losses = module(maps=feature_map[images], map_group=torch.arange(len(images), device=device),
                            instances=captured["box_features"][keep],
                            instance_group=torch.searchsorted(images, rows[keep]),
                            group_domain=image_domain[images])
        else:
            keep = member[captured["reid_image_index"]]
            count = int(keep.sum())
            groups = torch.arange(count, device=device)
            losses = module(maps=captured["reid_maps"][keep], map_group=groups,
                            instances=captured["reid_embeddings"][keep], instance_group=groups,
                            group_domain=image_domain[captured["reid_image_index"][keep]])
        return {name.replace("loss", prefix, 1): value for name, value in losses.items()}
