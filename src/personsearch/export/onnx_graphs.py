"""The tensor-in, tensor-out parts of each model that are exported as ONNX graphs.

What stays outside the graphs (done in PyTorch/torchvision around them by
`personsearch.export.onnx_runtime`) is the data-dependent work: resizing and batching images,
anchor generation, box decoding, proposal filtering and NMS, RoIAlign over variable box lists,
thresholds. Every graph below has a dynamic batch (number of images or of boxes) and, for the
SeqNet backbone, dynamic height and width.
"""

from __future__ import annotations

import torch
from torch import nn


class SeqNetBackboneGraph(nn.Module):
    """(B, 3, H, W) normalised, padded batch -> (stride-16 feature map, RPN objectness, RPN box deltas)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.backbone = model.backbone
        self.rpn_head = model.rpn.head

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        features = self.backbone(images)
        objectness, deltas = self.rpn_head([features])
        return features, objectness[0], deltas[0]


class SeqNetBoxHeadGraph(nn.Module):
    """(N, C, s, s) RoI-aligned features -> stage-1 class logits (N, 2) and box deltas (N, 8)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.box_head = model.roi_heads.box_head
        self.box_predictor = model.roi_heads.box_predictor

    def forward(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.box_predictor(self.box_head(pooled)["feat_res5"])


class SeqNetReidHeadGraph(nn.Module):
    """(N, C, s, s) RoI-aligned features -> stage-2 box deltas (N, 8), embeddings (N, D), person logits (N,)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.reid_head = model.roi_heads.reid_head
        self.reid_box_regressor = model.roi_heads.reid_box_regressor
        self.embedding_head = model.roi_heads.embedding_head

    def forward(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        stage2 = self.reid_head(pooled)
        embeddings, person_logits = self.embedding_head(stage2)
        return self.reid_box_regressor(stage2["feat_res5"]), embeddings, person_logits


class SSDLiteGraph(nn.Module):
    """(N, 3, 300, 300) batch in [-1, 1] -> (N, 1917, 4) box encodings and (N, 1917, 2) class logits."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.detector.raw_predictions(batch)


class TextImageGraph(nn.Module):
    """(B, 3, H, W) normalised person crops -> (B, D) unit-length embeddings."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder.encode_image(images)


class TextTextGraph(nn.Module):
    """(B, L) token ids and attention mask -> (B, D) unit-length embeddings."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, token_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder.encode_text(token_ids, attention_mask)
