"""The pre-training Dataset: unified samples (`data.unify`) as one or two augmented views.

Each item is a list of views `(image, target)`: `image` float32 CHW in [0, 1], `target`
{"boxes", "pids", "source", "sample", "view"}. A crop is first placed on its canvas
(`data.canvas`), once, so both views show the same unified image. Views differ by an
independent horizontal flip (boxes follow) and SimSiam-style photometric changes (colour
jitter, grey scale, blur); geometry stays box-aligned so the same boxes pair across views.
Randomness comes from torch's generator (seeded per DataLoader worker).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

from personsearch.data.canvas import place_crop
from personsearch.data.errors import DatasetFormatError
from personsearch.data.scene_dataset import hflip_boxes, image_to_tensor, read_rgb_image
from personsearch.data.unify import UnifiedSources

VIEW_POLICIES = ("all", "unlabelled", "none")


@dataclass(frozen=True)
class ViewAugmentation:
    flip_prob: float = 0.5
    jitter_prob: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    grayscale_prob: float = 0.2
    blur_prob: float = 0.5
    blur_sigma: tuple[float, float] = (0.1, 2.0)


def _clip_boxes(boxes: np.ndarray, width: int, height: int, min_size: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Boxes clipped to the image, and which survive with both sides >= min_size."""
    clipped = boxes.copy()
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, width)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, height)
    keep = ((clipped[:, 2] - clipped[:, 0]) >= min_size) & ((clipped[:, 3] - clipped[:, 1]) >= min_size)
    return clipped, keep


class PretrainDataset(Dataset):
    def __init__(
        self,
        unified: UnifiedSources,
        *,
        views: str = "all",
        placement: str = "expand_resize",
        canvas_size: Sequence[int] = (256, 512),
        ratio_range: Sequence[float] = (1.5, 3.0),
        augmentation: ViewAugmentation = ViewAugmentation(),
    ) -> None:
        if views not in VIEW_POLICIES:
            raise ValueError(f"views must be one of {', '.join(VIEW_POLICIES)}; got {views!r}")
        self.unified = unified
        self.views = views
        self.placement, self.canvas_size, self.ratio_range = placement, tuple(canvas_size), tuple(ratio_range)
        self.augmentation = augmentation
        a = augmentation
        self._photometric = v2.Compose([
            v2.RandomApply([v2.ColorJitter(a.brightness, a.contrast, a.saturation, a.hue)], p=a.jitter_prob),
            v2.RandomGrayscale(p=a.grayscale_prob),
            v2.RandomApply([v2.GaussianBlur(kernel_size=9, sigma=a.blur_sigma)], p=a.blur_prob),
        ])

    def __len__(self) -> int:
        return len(self.unified.samples)

    def tasks(self) -> list[str]:
        return [self.unified.task_of(i) for i in range(len(self))]

    def num_views(self, index: int) -> int:
        if self.views == "all":
            return 2
        if self.views == "unlabelled":
            return 1 if self.unified.real_ids_of(index) else 2
        return 1

    def unified_image(self, index: int) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        """The sample as a scene: (image, boxes, pids) before the per-view augmentation."""
        sample = self.unified.samples[index]
        image = read_rgb_image(sample.image_path)
        if sample.is_crop:
            seed = int(torch.randint(0, 2**31 - 1, ()).item())
            image, box = place_crop(image, placement=self.placement, size=self.canvas_size,
                                    ratio_range=self.ratio_range, rng=np.random.default_rng(seed))
            return image_to_tensor(image), box[None, :], sample.pids
        boxes, keep = _clip_boxes(sample.boxes, image.width, image.height)
        if len(boxes) != len(sample.pids):
            raise DatasetFormatError(sample.image_path, f"{len(boxes)} boxes but {len(sample.pids)} identities")
        return image_to_tensor(image), boxes[keep], sample.pids[keep]

    def _view(self, image: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if torch.rand(()).item() < self.augmentation.flip_prob:
            image, boxes = image.flip(-1), hflip_boxes(boxes, image.shape[-1])
        return self._photometric(image).clamp(0.0, 1.0).contiguous(), boxes

    def __getitem__(self, index: int) -> list[tuple[torch.Tensor, dict[str, Any]]]:
        image, boxes, pids = self.unified_image(index)
        boxes_t = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
        pids_t = torch.as_tensor(pids, dtype=torch.int64).reshape(-1)
        source = self.unified.samples[index].source
        views = []
        for view in range(self.num_views(index)):
            view_image, view_boxes = self._view(image, boxes_t)
            views.append((view_image, {"boxes": view_boxes, "pids": pids_t, "source": source, "sample": index,
                                       "view": view}))
        return views


def collate_views(batch: list[list[tuple[torch.Tensor, dict[str, Any]]]]):
    """Every view of every sample, as the image and target lists the model takes."""
    flat = [view for views in batch for view in views]
    images, targets = zip(*flat)
    return list(images), list(targets)
