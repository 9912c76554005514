"""Training scenes with boxes and NO identities, for weakly supervised training.

`strip_identities` reads only each record's name, image path and boxes; the records it
returns have no identity field at all, so nothing downstream can read one. Every box gets a
memory slot: slots are numbered image by image, in record order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from personsearch.data.scene_dataset import hflip_boxes, image_to_tensor, read_rgb_image


@dataclass(frozen=True)
class WeakSceneRecord:
    """A training scene: person boxes without identities; box k owns memory slot first_slot + k."""

    name: str
    image_path: str
    boxes: np.ndarray  # (N, 4) float32
    first_slot: int


def strip_identities(records: Sequence) -> list[WeakSceneRecord]:
    """Weak records from scene records (anything with name, image_path and boxes)."""
    weak, slot = [], 0
    for record in records:
        boxes = np.asarray(record.boxes, dtype=np.float32).reshape(-1, 4)
        weak.append(WeakSceneRecord(name=record.name, image_path=record.image_path, boxes=boxes, first_slot=slot))
        slot += len(boxes)
    return weak


def count_slots(records: Sequence[WeakSceneRecord]) -> int:
    return sum(len(r.boxes) for r in records)


def image_of_slot(records: Sequence[WeakSceneRecord]) -> np.ndarray:
    """(num_slots,) index of the record each slot's box belongs to."""
    return np.repeat(np.arange(len(records)), [len(r.boxes) for r in records]).astype(np.int64)


class WeakSceneDataset(Dataset):
    """Items `(image, {"boxes": (N, 4) float32, "slots": (N,) int64})`; optional horizontal flip."""

    def __init__(self, records: Sequence[WeakSceneRecord], *, flip_prob: float = 0.0) -> None:
        if not 0.0 <= flip_prob <= 1.0:
            raise ValueError(f"flip_prob must be in [0, 1], got {flip_prob}")
        self.records = list(records)
        self.flip_prob = flip_prob

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        record = self.records[index]
        image = image_to_tensor(read_rgb_image(record.image_path))
        boxes = torch.from_numpy(record.boxes.copy())
        slots = torch.arange(record.first_slot, record.first_slot + len(boxes), dtype=torch.int64)
        if self.flip_prob > 0.0 and torch.rand(()).item() < self.flip_prob:
            image = image.flip(-1)
            boxes = hflip_boxes(boxes, image.shape[-1])
        return image, {"boxes": boxes, "slots": slots}
