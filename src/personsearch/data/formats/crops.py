"""What the crop writers share: render crops once into a staging folder, then move each to the
name its format gives it (names may hold dataset ids known only once every crop is seen);
dataset id ranges; the seeded query/gallery split of test crops.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from personsearch.data.formats.writing import progress, save_image

STAGING = ".staging"


@dataclass(frozen=True)
class StagedCrop:
    index: int  # the world's crop index
    pid: int  # the world's identity
    camera: int  # the world's 0-based camera
    split: str
    captions: tuple[str, ...]
    path: Path  # where the image waits to be placed


def stage_crops(world, out: Path, *, suffix: str, workers: int, show_progress: bool, desc: str) -> list[StagedCrop]:
    staged = []
    crops = world.crops(workers=workers)
    for crop in progress(crops, total=world.num_crops, desc=desc, enabled=show_progress):
        path = out / STAGING / f"{crop.index:08d}{suffix}"
        save_image(crop.image, path, quality=crop.jpeg_quality)
        staged.append(
            StagedCrop(
                index=crop.index,
                pid=crop.pid,
                camera=crop.camera,
                split=crop.split,
                captions=tuple(crop.captions),
                path=path,
            )
        )
    return staged


def place(crop: StagedCrop, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.replace(crop.path, destination)


def finish_staging(out: Path) -> None:
    staging = out / STAGING
    if staging.is_dir():
        staging.rmdir()  # fails loudly if a staged crop was never placed


def dataset_ids(
    crops: list[StagedCrop], *, splits: tuple[str, ...], first: int, split_of: Callable[[str], str] = str
) -> dict[int, int]:
    """world pid -> dataset id: contiguous from `first`, one range per split in `splits` order
    (`split_of` maps a world split to the format's)."""
    ids: dict[int, int] = {}
    for split in splits:
        for pid in sorted({c.pid for c in crops if split_of(c.split) == split}):
            if pid in ids:
                raise ValueError(f"identity {pid} has crops in more than one split")
            ids[pid] = first + len(ids)
    return ids


def query_indices(crops: list[StagedCrop], *, seed: int) -> set[int]:
    """Crop indices of the queries: for each test identity seen by two or more cameras, one
    seeded crop of every camera that holds two or more of its crops. Every camera keeps at
    least one gallery crop, so every query has a match under another camera."""
    rng = np.random.default_rng(seed)
    by_pid: dict[int, dict[int, list[int]]] = {}
    for crop in crops:
        if crop.split == "test":
            by_pid.setdefault(crop.pid, {}).setdefault(crop.camera, []).append(crop.index)
    chosen = set()
    for pid in sorted(by_pid):
        cameras = by_pid[pid]
        if len(cameras) < 2:
            continue
        for camera in sorted(cameras):
            indices = cameras[camera]
            if len(indices) >= 2:
                chosen.add(indices[int(rng.integers(len(indices)))])
    return chosen


def per_identity_counter() -> Callable[[int], int]:
    """Numbers the images of each identity 0, 1, 2... in the order asked."""
    counts: dict[int, int] = {}

    def next_number(pid: int) -> int:
        counts[pid] = counts.get(pid, -1) + 1
        return counts[pid]

    return next_number
