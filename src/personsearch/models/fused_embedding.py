"""Two re-ID embedders side by side, e.g. a person search model and generic ImageNet features.

Each model's L2-normalised feature is scaled by 1/sqrt(2) and the two are concatenated, so the
fused feature is a unit vector and the dot product of two fused features is the mean of the two
models' cosine similarities. On the real set this keeps what each model gets right
(BENCHMARKS.md, real-footage).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class FusedEmbedding(nn.Module):
    def __init__(self, *, first: nn.Module, second: nn.Module) -> None:
        super().__init__()
        self.first = first
        self.second = second

    @property
    def embedding_dim(self) -> int:
        return _dim(self.first) + _dim(self.second)

    @torch.inference_mode()
    def extract_query_features(self, images: list[torch.Tensor], boxes_list: list[torch.Tensor]) -> torch.Tensor:
        parts = [model.extract_query_features(images, boxes_list).float() for model in (self.first, self.second)]
        return torch.cat(parts, dim=1) / math.sqrt(2.0)


def _dim(model: nn.Module) -> int:
    return getattr(model, "embedding_dim", None) or model.roi_heads.embedding_head.dim
