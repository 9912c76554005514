"""Plain typed records shared by every loader, writer, trainer and evaluator.

Boxes are float32 x1, y1, x2, y2 in pixels. Identity conventions:
- `UNLABELLED` (-1) marks a person box without identity.
- Training splits carry contiguous labels 0..num_pids-1 (the loader remaps the
  dataset's own ids and keeps the mapping in `SceneSearchData.train_pid_map`).
- Test splits keep the dataset's own ids so queries and gallery boxes match.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

UNLABELLED = -1


@dataclass(frozen=True)
class SceneRecord:
    """One whole scene image with its person boxes."""

    name: str  # image name as the dataset spells it, e.g. "s1.jpg", "c1s1_000151.jpg"
    image_path: str
    boxes: np.ndarray  # (N, 4) float32
    pids: np.ndarray  # (N,) int64, UNLABELLED for unknown people
    camera: int = 0
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class GalleryEntry:
    """One image of a query's own gallery (CUHK-SYSU); gt_box None = the person is not in it."""

    name: str
    gt_box: np.ndarray | None


@dataclass(frozen=True)
class SceneQuery:
    """A query person: a ground-truth box in a scene image."""

    name: str  # scene image name
    image_path: str
    box: np.ndarray  # (4,) float32
    pid: int
    camera: int = 0
    # CUHK-SYSU: the query's own gallery (images holding the person first, then distractors).
    # None (PRW): the gallery is every test image except the query's own frame.
    gallery: tuple[GalleryEntry, ...] | None = None


@dataclass
class SceneSearchData:
    """A scene person search dataset: training scenes, gallery scenes and queries."""

    name: str
    root: str
    train: list[SceneRecord]
    gallery: list[SceneRecord]
    queries: list[SceneQuery]
    num_train_pids: int
    train_pid_map: dict[int, int] = field(default_factory=dict)  # dataset id -> contiguous label
    notes: list[str] = field(default_factory=list)  # e.g. "gallery size 4000 capped at 812"


@dataclass(frozen=True)
class CropRecord:
    """A person crop (re-ID sets, LUPerson): pid UNLABELLED when the set has no identities."""

    image_path: str
    pid: int
    camera: int = 0


@dataclass(frozen=True)
class CaptionRecord:
    """A person image with its descriptions (CUHK-PEDES, ICFG-PEDES, RSTPReid)."""

    image_path: str
    pid: int
    captions: tuple[str, ...]
    split: str  # "train" | "val" | "test"


@dataclass(frozen=True)
class DetectionRecord:
    """A scene image with person boxes only (CrowdHuman, EuroCity Persons)."""

    image_path: str
    boxes: np.ndarray  # (N, 4) float32 full-body boxes
    ignore: np.ndarray  # (N,) bool: crowd / ignore regions
    visible_boxes: np.ndarray | None = None  # (N, 4) when the format has them


@dataclass
class CaptionData:
    name: str
    root: str
    train: list[CaptionRecord]
    val: list[CaptionRecord]
    test: list[CaptionRecord]
    num_train_pids: int
    train_pid_map: dict[int, int] = field(default_factory=dict)


@dataclass
class CropData:
    name: str
    root: str
    train: list[CropRecord]
    query: list[CropRecord]
    gallery: list[CropRecord]
    num_train_pids: int
    train_pid_map: dict[int, int] = field(default_factory=dict)


@dataclass
class DetectionData:
    name: str
    root: str
    train: list[DetectionRecord]
    val: list[DetectionRecord]
