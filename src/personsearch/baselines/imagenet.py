"""Generic ImageNet features as a re-ID embedder: the honest fallback on real pictures.

Each person box is cropped from the picture, resized to 256x128, passed through MobileNetV2's
ImageNet feature layers (the offline weights, `models/weights.py`) and average-pooled into a
1280-d vector, L2-normalised. No person training at all: on real footage this is the bar a
learned re-ID model has to clear (BENCHMARKS.md, section real-footage).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

from personsearch.models.weights import get_offline_weights, load_offline_state_dict

CROP_SIZE = (256, 128)  # height, width: the usual person re-ID crop


class ImageNetCropEmbedder(nn.Module):
    """`extract_query_features(images, boxes_list)`: images are (3, H, W) tensors in [0, 1]."""

    def __init__(self, *, weights: str = "offline", crop_size: tuple[int, int] = CROP_SIZE, batch_size: int = 32) -> None:
        super().__init__()
        import torchvision

        network = torchvision.models.mobilenet_v2(weights=None)
        if weights == "offline":
            network.features.load_state_dict(load_offline_state_dict("mobilenet_v2"), strict=True)
        elif weights != "none":
            raise ValueError(f"weights must be 'offline' or 'none'; got {weights!r}")
        self.features = network.features
        info = get_offline_weights("mobilenet_v2")
        self.register_buffer("mean", torch.tensor(info.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(info.std).view(1, 3, 1, 1))
        self.crop_size = crop_size
        self.batch_size = batch_size
        self.embedding_dim = network.last_channel
        self.eval()

    def crops(self, images: list[torch.Tensor], boxes_list: list[torch.Tensor]) -> torch.Tensor:
        """(N, 3, h, w) crops of every box, bilinearly resampled (RoIAlign, aligned pixel centres)."""
        crops = [
            roi_align(image[None].float(), [boxes.float()], output_size=self.crop_size, spatial_scale=1.0,
                      sampling_ratio=2, aligned=True)
            for image, boxes in zip(images, boxes_list, strict=True)
            if len(boxes)
        ]
        if not crops:
            return images[0].new_zeros((0, 3, *self.crop_size))
        return torch.cat(crops)

    @torch.inference_mode()
    def extract_query_features(self, images: list[torch.Tensor], boxes_list: list[torch.Tensor]) -> torch.Tensor:
        crops = self.crops(images, boxes_list)
        features = [
            self.embed_crops(crops[start : start + self.batch_size]) for start in range(0, len(crops), self.batch_size)
        ]
        return torch.cat(features) if features else crops.new_zeros((0, self.embedding_dim))

    def embed_crops(self, crops: torch.Tensor) -> torch.Tensor:
        pooled = self.features((crops - self.mean) / self.std).mean(dim=(2, 3))
        return F.normalize(pooled, dim=1)
