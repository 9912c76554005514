"""Market-1501: `bounding_box_train/`, `bounding_box_test/` and `query/` of crops named
`0002_c1s1_000451_03.jpg` (pid _ camera, sequence _ frame _ box). pid -1 marks junk images
(dropped), pid 0000 distractors (kept in the gallery with id 0). Other files (Thumbs.db) are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

from personsearch.data.errors import DatasetFormatError
from personsearch.data.formats.crops import finish_staging, place, query_indices, stage_crops
from personsearch.data.formats.writing import WriteResult
from personsearch.data.records import CropData, CropRecord

FOLDERS = {"train": "bounding_box_train", "gallery": "bounding_box_test", "query": "query"}
JUNK = -1
_NAME = re.compile(r"^(-1|\d{4})_c(\d+)s\d+_\d+_\d+\.jpg$")


def _read_folder(root: Path, folder: str) -> list[CropRecord]:
    directory = root / folder
    if not directory.is_dir():
        raise DatasetFormatError(directory, "folder not found")
    records = []
    for path in sorted(directory.glob("*.jpg")):
        match = _NAME.match(path.name)
        if match is None:
            raise DatasetFormatError(directory, "file name does not read <pid>_c<camera>s<seq>_<frame>_<box>.jpg", record=path.name)
        pid = int(match.group(1))
        if pid != JUNK:
            records.append(CropRecord(image_path=str(path), pid=pid, camera=int(match.group(2))))
    return records


def load_market1501(root: str | Path) -> CropData:
    root = Path(root)
    train = _read_folder(root, FOLDERS["train"])
    pid_map = {pid: label for label, pid in enumerate(sorted({r.pid for r in train}))}
    return CropData(
        name="market1501",
        root=str(root),
        train=[CropRecord(image_path=r.image_path, pid=pid_map[r.pid], camera=r.camera) for r in train],
        query=_read_folder(root, FOLDERS["query"]),
        gallery=_read_folder(root, FOLDERS["gallery"]),
        num_train_pids=len(pid_map),
        train_pid_map=pid_map,
    )


def write_market1501(world, out: str | Path, *, workers: int = 2, show_progress: bool = True) -> WriteResult:
    """pid = world id + 1 (0000 stays free for distractors); test crops split into query
    (one per identity and camera) and bounding_box_test."""
    out = Path(out)
    crops = stage_crops(world, out, suffix=".jpg", workers=workers, show_progress=show_progress, desc="market1501")
    queries = query_indices(crops, seed=world.seed)
    for crop in crops:
        if crop.split == "test":
            folder = FOLDERS["query"] if crop.index in queries else FOLDERS["gallery"]
        else:
            folder = FOLDERS["train"]
        place(crop, out / folder / f"{crop.pid + 1:04d}_c{crop.camera + 1}s1_{crop.index:06d}_01.jpg")
    finish_staging(out)
    for folder in FOLDERS.values():
        (out / folder).mkdir(parents=True, exist_ok=True)
    return WriteResult(root=str(out), num_images=len(crops))
