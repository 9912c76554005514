"""Intermediate training features a model hands to training wrappers (pre-training's contrast
and domain alignment), gathered in one dict by the RoI heads' training forward."""

from __future__ import annotations

from typing import Any

import torch


def image_index(counts: list[int], device: torch.device) -> torch.Tensor:
    """For rows grouped per image (`counts` rows each), the image of every row."""
    return torch.repeat_interleave(torch.arange(len(counts), device=device), torch.tensor(counts, device=device))


def capture_roi_features(
    captured: dict[str, Any],
    *,
    box_features: torch.Tensor,
    box_counts: list[int],
    reid_maps: torch.Tensor,
    reid_embeddings: torch.Tensor,
    reid_counts: list[int],
    foreground: torch.Tensor,
) -> None:
    """box_features: detection-head vectors of the sampled proposals (N, C), `box_counts` per image;
    reid_maps / reid_embeddings: RoIAlign maps and re-ID embeddings of the re-ID stage's sampled
    boxes, kept for the foreground ones only, with the image of each."""
    captured.update(
        box_features=box_features.flatten(1),
        box_counts=list(box_counts),
        reid_maps=reid_maps[foreground],
        reid_embeddings=reid_embeddings[foreground],
        reid_image_index=image_index(reid_counts, reid_maps.device)[foreground],
    )
