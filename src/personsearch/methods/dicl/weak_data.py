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

from personsearch.data.scene_dataset import SceneDataset


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


class WeakSceneDataset(SceneDataset):
    """Items `(image, {"boxes": (N, 4) float32, "slots": (N,) int64})`; optional horizontal flip."""

    def box_labels(self, record: WeakSceneRecord) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        boxes = torch.from_numpy(record.boxes.copy())
        slots = torch.arange(record.first_slot, record.first_slot + len(boxes), dtype=torch.int64)
        return boxes, {"slots": slots}
