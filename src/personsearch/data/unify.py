"""Data unification for pre-training (PretrainPS): detection sets and re-ID crop sets become
scene-search training samples with boxes and identities, tagged with their source and task.

- Detection sets (CrowdHuman, EuroCity Persons): every person box (ignore regions left out) is
  a new identity of its own.
- Labelled re-ID sets (Market-1501, MSMT17, CUHK03): each crop keeps its training identity,
  moved into a range of its own so no two sources share an identity.
- Unlabelled re-ID sets (LUPerson): each crop is a new identity of its own.

Identities "of its own" (detection boxes and unlabelled crops) have no second sample to learn
from in the OIM table; `instance_ids="table"` still gives each its own table row (as the paper
does), `instance_ids="queue"` marks them unlabelled instead, so they only enter OIM's circular
queue as negatives. Either way the contrastive term is what teaches re-ID on these sources.
Crops are placed on a canvas when loaded (`data.canvas`), which gives their box.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from personsearch.data.catalog import dataset_kind, load_dataset
from personsearch.data.records import UNLABELLED, CropData, DetectionData

TASKS = ("detection", "reid")
INSTANCE_IDS = ("table", "queue")


@dataclass(frozen=True)
class SourceInfo:
    name: str  # the source's name in the config, e.g. "crowdhuman"
    format: str  # catalog format
    task: str  # "detection" | "reid"
    real_ids: bool  # the source has identities shared by several samples
    num_images: int
    num_boxes: int
    num_identities: int  # identities (table rows) the source adds


@dataclass(frozen=True)
class UnifiedSample:
    """One pre-training image. Detection images carry their boxes; a crop (`is_crop`) has one
    person whose box is set where the crop lands on its canvas."""

    image_path: str
    boxes: np.ndarray  # (N, 4) float32, x1y1x2y2 pixels of the image (empty for crops)
    pids: np.ndarray  # (N,) int64 (crops: (1,)), global identities or UNLABELLED
    source: int  # index into UnifiedSources.sources
    is_crop: bool


@dataclass
class UnifiedSources:
    sources: list[SourceInfo]
    samples: list[UnifiedSample]
    num_pids: int  # OIM table rows over every source (at least 1)

    def task_of(self, index: int) -> str:
        return self.sources[self.samples[index].source].task

    def real_ids_of(self, index: int) -> bool:
        return self.sources[self.samples[index].source].real_ids

    def domain_labels(self, task: str) -> dict[int, int]:
        """source index -> 0-based domain label among the sources of `task`."""
        return {i: n for n, i in enumerate(i for i, s in enumerate(self.sources) if s.task == task)}


def _detection_samples(data: DetectionData, source: int, first_pid: int, instance_ids: str):
    samples, next_pid, num_boxes = [], first_pid, 0
    for record in data.train:
        keep = ~np.asarray(record.ignore, dtype=bool)
        boxes = np.asarray(record.boxes, dtype=np.float32).reshape(-1, 4)[keep]
        if instance_ids == "table":
            pids = np.arange(next_pid, next_pid + len(boxes), dtype=np.int64)
            next_pid += len(boxes)
        else:
            pids = np.full(len(boxes), UNLABELLED, dtype=np.int64)
        num_boxes += len(boxes)
        samples.append(UnifiedSample(image_path=record.image_path, boxes=boxes, pids=pids, source=source, is_crop=False))
    return samples, next_pid - first_pid, num_boxes


def _crop_samples(data: CropData, source: int, first_pid: int, instance_ids: str):
    labelled = data.num_train_pids > 0 and all(r.pid != UNLABELLED for r in data.train)
    samples = []
    for n, record in enumerate(data.train):
        if labelled:
            pid = first_pid + record.pid
        else:
            pid = first_pid + n if instance_ids == "table" else UNLABELLED
        samples.append(UnifiedSample(image_path=record.image_path, boxes=np.zeros((0, 4), np.float32),
                                     pids=np.array([pid], dtype=np.int64), source=source, is_crop=True))
    if labelled:
        added = data.num_train_pids
    else:
        added = len(samples) if instance_ids == "table" else 0
    return samples, added, labelled


def unify_sources(datasets: Mapping[str, tuple[str, DetectionData | CropData]], *, instance_ids: str = "table"
                  ) -> UnifiedSources:
    """`datasets`: source name -> (catalog format, loaded data), in the order sources are numbered."""
    if instance_ids not in INSTANCE_IDS:
        raise ValueError(f"instance_ids must be one of {', '.join(INSTANCE_IDS)}; got {instance_ids!r}")
    if not datasets:
        raise ValueError("pre-training needs at least one source dataset")
    sources, samples, next_pid = [], [], 0
    for index, (name, (fmt, data)) in enumerate(datasets.items()):
        kind = dataset_kind(fmt)
        if kind == "detection":
            found, added, num_boxes = _detection_samples(data, index, next_pid, instance_ids)
            info = SourceInfo(name=name, format=fmt, task="detection", real_ids=False, num_images=len(found),
                              num_boxes=num_boxes, num_identities=added)
        elif kind == "crop":
            found, added, labelled = _crop_samples(data, index, next_pid, instance_ids)
            info = SourceInfo(name=name, format=fmt, task="reid", real_ids=labelled, num_images=len(found),
                              num_boxes=len(found), num_identities=added)
        else:
            raise ValueError(f"source {name!r}: format {fmt!r} is a {kind} dataset; pre-training takes "
                             "detection sets (crowdhuman, ecp) and crop sets (market1501, msmt17, cuhk03, luperson)")
        if not found:
            raise ValueError(f"source {name!r} ({fmt} at {data.root}): its training split is empty")
        sources.append(info)
        samples += found
        next_pid += added
    return UnifiedSources(sources=sources, samples=samples, num_pids=max(next_pid, 1))


def subset_training_images(data: DetectionData | CropData, *, max_images: int, seed: int,
                           source: str = "source") -> DetectionData | CropData:
    """`data` with at most `max_images` of its training images, drawn uniformly without replacement
    by `seed` and kept in their loading order (a function of the folder's contents and the seed
    only); the whole split when it is not larger. A labelled source keeps its identity range, so
    the table rows of identities left out stay unused."""
    if isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 1:
        raise ValueError(f"source {source!r}: max_images must be a whole number >= 1; got {max_images!r}")
    if len(data.train) <= max_images:
        return data
    keep = np.sort(np.random.default_rng(seed).choice(len(data.train), size=max_images, replace=False))
    return replace(data, train=[data.train[i] for i in keep.tolist()])


def load_sources(source_cfgs: Mapping[str, Mapping[str, Any]], *, instance_ids: str = "table") -> UnifiedSources:
    """Each source config: `format` (catalog name), `root`, optional `loader` keyword arguments,
    optional `max_images` (a random subset of that many training images, e.g. the paper's 30k
    LUPerson crops) drawn with `subset_seed` (default 0)."""
    datasets = {}
    for name, cfg in source_cfgs.items():
        fmt, root = cfg.get("format"), cfg.get("root")
        if not fmt:
            raise ValueError(f"source {name!r} needs a `format` (a catalog name); got {dict(cfg)}")
        if not root:
            raise ValueError(f"source {name!r} needs a root: add data.sources.{name}.root=/path/to/{fmt} "
                             f"(or drop it with data.sources.{name}=null)")
        if not Path(root).exists():
            raise FileNotFoundError(f"source {name!r}: {root} does not exist")
        data = load_dataset(fmt, root, **dict(cfg.get("loader") or {}))
        if cfg.get("max_images") is not None:
            data = subset_training_images(data, max_images=cfg["max_images"], seed=int(cfg.get("subset_seed") or 0),
                                          source=name)
        datasets[name] = (fmt, data)
    return unify_sources(datasets, instance_ids=instance_ids)
