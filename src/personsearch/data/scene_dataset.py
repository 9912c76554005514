"""A torch Dataset over `SceneRecord` lists for one-step person search models.

Each item is `(image, target)`: `image` a float32 CHW tensor in [0, 1] (RGB, full
resolution; resizing and multi-scale belong to the model's transform) and `target`
`{"boxes": (N, 4) float32, "pids": (N,) int64}`. Training can flip images
horizontally (boxes flipped with them) and jitter colours or erase parts of person boxes
(`personsearch.data.scene_augment`); the coins come from torch's generator, so they are seeded
per DataLoader worker and reproducible.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from personsearch.data.errors import DatasetFormatError
from personsearch.data.records import SceneRecord
from personsearch.data.scene_augment import SceneAugment, augment_scene


def read_rgb_image(path: str) -> Image.Image:
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DatasetFormatError(path, f"cannot read image ({type(exc).__name__}: {exc})") from exc


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    array = np.asarray(image, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


def hflip_boxes(boxes: torch.Tensor, width: int) -> torch.Tensor:
    flipped = boxes.clone()
    flipped[:, 0] = width - boxes[:, 2]
    flipped[:, 2] = width - boxes[:, 0]
    return flipped


class SceneDataset(Dataset):
    def __init__(
        self, records: Sequence[SceneRecord], *, flip_prob: float = 0.0, augment: SceneAugment | None = None
    ) -> None:
        if not 0.0 <= flip_prob <= 1.0:
            raise ValueError(f"flip_prob must be in [0, 1], got {flip_prob}")
        self.records = list(records)
        self.flip_prob = flip_prob
        self.augment = augment or SceneAugment()

    def __len__(self) -> int:
        return len(self.records)

    def box_labels(self, record: SceneRecord) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The record's (N, 4) boxes and its per-box labels (here `pids`); subclasses label boxes otherwise."""
        boxes = torch.as_tensor(np.asarray(record.boxes, dtype=np.float32).reshape(-1, 4))
        pids = torch.as_tensor(np.asarray(record.pids, dtype=np.int64).reshape(-1))
        if len(boxes) != len(pids):
            raise DatasetFormatError(record.image_path, f"{len(boxes)} boxes but {len(pids)} pids", record.name)
        return boxes, {"pids": pids}

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        record = self.records[index]
        image = image_to_tensor(read_rgb_image(record.image_path))
        boxes, labels = self.box_labels(record)
        if self.flip_prob > 0.0 and torch.rand(()).item() < self.flip_prob:
            image = image.flip(-1)
            boxes = hflip_boxes(boxes, image.shape[-1])
        return augment_scene(image, boxes, self.augment), {"boxes": boxes, **labels}


def collate_scenes(batch: list[tuple[torch.Tensor, dict[str, torch.Tensor]]]):
    """Images and targets as lists (scenes differ in size and box count)."""
    images, targets = zip(*batch)
    return list(images), list(targets)
