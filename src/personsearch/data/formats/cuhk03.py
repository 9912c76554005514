"""CUHK03 in the layout torchreid produces from `cuhk-03.mat` (new, "767/700" protocol):

    images_detected/1_001_1_01.png      camera pair _ pid _ view (1|2) _ image number
    images_labeled/1_001_1_01.png
    splits_new_detected.json            [{"train": [[path, label, view - 1], ...], "query": [...],
    splits_new_labeled.json               "gallery": [...], "num_train_pids": ..., ...}]

Training entries carry contiguous labels, query/gallery the dataset's ids. The paths in the JSON
are absolute where the files were made; the loader finds each image by name in images_<variant>/.
A crop's camera is numbered over all pairs: (pair - 1) * 2 + view.
"""

from __future__ import annotations

import re
from pathlib import Path

from personsearch.data.errors import DatasetFormatError
from personsearch.data.formats.captions import read_json_list
from personsearch.data.formats.crops import finish_staging, per_identity_counter, place, query_indices, stage_crops
from personsearch.data.formats.writing import WriteResult
from personsearch.data.records import CropData, CropRecord
from personsearch.utils.atomic import atomic_write_json

VARIANTS = ("detected", "labeled")
_NAME = re.compile(r"^(\d+)_(\d+)_([12])_(\d+)\.png$")


def _entries(file: Path, split: dict, key: str, image_dir: Path, *, check_images: bool) -> list[CropRecord]:
    if not isinstance(split.get(key), list):
        raise DatasetFormatError(file, f"split 0 has no {key!r} list")
    records = []
    for index, row in enumerate(split[key]):
        where = f"{key} {index}"
        if not (isinstance(row, list) and len(row) == 3 and isinstance(row[0], str) and all(isinstance(v, int) for v in row[1:])):
            raise DatasetFormatError(file, f"expected [path, pid, camid], got {row!r}", record=where)
        name = Path(row[0]).name
        match = _NAME.match(name)
        if match is None:
            raise DatasetFormatError(file, f"image name {name!r} does not read <pair>_<pid>_<view>_<n>.png", record=where)
        image = image_dir / name
        if check_images and not image.is_file():
            raise DatasetFormatError(file, f"image file not found: {image}", record=where)
        camera = (int(match.group(1)) - 1) * 2 + int(match.group(3))
        records.append(CropRecord(image_path=str(image), pid=row[1], camera=camera))
    return records


def load_cuhk03(root: str | Path, *, variant: str = "detected", check_images: bool = True) -> CropData:
    """variant: "detected" (DPM boxes, the usual benchmark) or "labeled" (hand-drawn boxes)."""
    if variant not in VARIANTS:
        raise ValueError(f"CUHK03 variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    root = Path(root)
    file = root / f"splits_new_{variant}.json"
    splits = read_json_list(file)
    if not splits or not isinstance(splits[0], dict):
        raise DatasetFormatError(file, "expected a list holding one split object")
    image_dir = root / f"images_{variant}"
    train = _entries(file, splits[0], "train", image_dir, check_images=check_images)
    pid_map = {pid: label for label, pid in enumerate(sorted({r.pid for r in train}))}
    return CropData(
        name="cuhk03",
        root=str(root),
        train=[CropRecord(image_path=r.image_path, pid=pid_map[r.pid], camera=r.camera) for r in train],
        query=_entries(file, splits[0], "query", image_dir, check_images=check_images),
        gallery=_entries(file, splits[0], "gallery", image_dir, check_images=check_images),
        num_train_pids=len(pid_map),
        train_pid_map=pid_map,
    )


def write_cuhk03(world, out: str | Path, *, workers: int = 2, show_progress: bool = True) -> WriteResult:
    """World camera c becomes pair c // 2 + 1, view c % 2 + 1; ids are world ids + 1. Both
    variants get the same pixels (a synthetic world has no separate detector boxes)."""
    out = Path(out).resolve()
    crops = stage_crops(world, out, suffix=".png", workers=workers, show_progress=show_progress, desc="cuhk03")
    queries = query_indices(crops, seed=world.seed)
    train_ids = sorted({c.pid for c in crops if c.split != "test"})
    labels = {pid: label for label, pid in enumerate(train_ids)}
    number = per_identity_counter()
    rows: dict[str, dict[str, list]] = {v: {"train": [], "query": [], "gallery": []} for v in VARIANTS}
    for crop in crops:
        view = crop.camera % 2 + 1
        name = f"{crop.camera // 2 + 1}_{crop.pid + 1:03d}_{view}_{number(crop.pid) + 1:02d}.png"
        if crop.split == "test":
            key, pid = ("query" if crop.index in queries else "gallery"), crop.pid + 1
        else:
            key, pid = "train", labels[crop.pid]
        data = crop.path.read_bytes()
        for variant in VARIANTS:
            destination = out / f"images_{variant}" / name
            if variant == VARIANTS[-1]:
                place(crop, destination)
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(data)
            rows[variant][key].append([str(destination), pid, view - 1])
    finish_staging(out)
    for variant, split in rows.items():
        summary = {}
        for key in ("train", "query", "gallery"):
            summary[f"num_{key}_pids"] = len({row[1] for row in split[key]})
            summary[f"num_{key}_imgs"] = len(split[key])
        atomic_write_json(out / f"splits_new_{variant}.json", [{**split, **summary}], indent=4)
    return WriteResult(root=str(out), num_images=len(crops))
