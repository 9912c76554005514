"""MSMT17 (V1): `MSMT17_V1/{train,test}/<pid>/<name>.jpg` and list files of `path pid` lines.

    MSMT17_V1/list_train.txt, list_val.txt      paths relative to train/ (val: held-out images of train ids)
    MSMT17_V1/list_query.txt, list_gallery.txt  paths relative to test/
    names: 0000_000_01_0303morning_0015_0.jpg   pid _ image number _ camera _ time _ frame _ 0

Train and test ids are numbered separately from 0. The loader's `root` holds `MSMT17_V1/`.
"""

from __future__ import annotations

from pathlib import Path

from personsearch.data.errors import DatasetFormatError
from personsearch.data.formats.crops import finish_staging, per_identity_counter, place, query_indices, stage_crops
from personsearch.data.formats.writing import WriteResult
from personsearch.data.records import CropData, CropRecord
from personsearch.utils.atomic import atomic_write_text

FOLDER = "MSMT17_V1"
VAL_EVERY = 10  # every 10th training image of the world goes to list_val.txt


def msmt_name(*, pid: int, number: int, camera: int, index: int) -> str:
    """`<pid>/<pid>_<number>_<camera 1-based>_0303morning_<frame>_0.jpg` (camera = the world's 0-based one)."""
    return f"{pid:04d}/{pid:04d}_{number:03d}_{camera + 1:02d}_0303morning_{index:04d}_0.jpg"


def _read_list(root: Path, list_name: str, image_folder: str, *, check_images: bool) -> list[CropRecord]:
    file = root / FOLDER / list_name
    if not file.is_file():
        raise DatasetFormatError(file, "file not found")
    records = []
    for line_number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {line_number}"
        fields = line.split()
        try:
            if len(fields) != 2:
                raise ValueError(f"{len(fields)} fields")
            path, pid = fields[0], int(fields[1])
            camera = int(Path(path).name.split("_")[2])
        except (ValueError, IndexError) as exc:
            raise DatasetFormatError(file, f"malformed line {line!r}, expected '<pid>/<name>.jpg pid' ({exc})", record=where) from None
        if pid < 0:
            raise DatasetFormatError(file, f"negative pid {pid}", record=where)
        image = root / FOLDER / image_folder / path
        if check_images and not image.is_file():
            raise DatasetFormatError(file, f"image file not found: {image}", record=where)
        records.append(CropRecord(image_path=str(image), pid=pid, camera=camera))
    return records


def load_msmt17(root: str | Path, *, include_val: bool = False, check_images: bool = True) -> CropData:
    """include_val adds list_val.txt to training (published results leave it out)."""
    root = Path(root)
    train = _read_list(root, "list_train.txt", "train", check_images=check_images)
    if include_val:
        train += _read_list(root, "list_val.txt", "train", check_images=check_images)
    pid_map = {pid: label for label, pid in enumerate(sorted({r.pid for r in train}))}
    return CropData(
        name="msmt17",
        root=str(root),
        train=[CropRecord(image_path=r.image_path, pid=pid_map[r.pid], camera=r.camera) for r in train],
        query=_read_list(root, "list_query.txt", "test", check_images=check_images),
        gallery=_read_list(root, "list_gallery.txt", "test", check_images=check_images),
        num_train_pids=len(pid_map),
        train_pid_map=pid_map,
    )


def write_msmt17(world, out: str | Path, *, workers: int = 2, show_progress: bool = True) -> WriteResult:
    """Test crops are split into query (one per identity and camera) and gallery."""
    out = Path(out)
    crops = stage_crops(world, out, suffix=".jpg", workers=workers, show_progress=show_progress, desc="msmt17")
    queries = query_indices(crops, seed=world.seed)
    lists: dict[str, list[str]] = {"list_train.txt": [], "list_val.txt": [], "list_query.txt": [], "list_gallery.txt": []}
    ids = {
        split: {pid: i for i, pid in enumerate(sorted({c.pid for c in crops if (c.split == "test") == (split == "test")}))}
        for split in ("train", "test")
    }
    number = per_identity_counter()
    train_seen = 0
    for crop in crops:
        folder = "test" if crop.split == "test" else "train"
        pid = ids[folder][crop.pid]
        relative = msmt_name(pid=pid, number=number(crop.pid), camera=crop.camera, index=crop.index)
        place(crop, out / FOLDER / folder / relative)
        if folder == "test":
            lists["list_query.txt" if crop.index in queries else "list_gallery.txt"].append(f"{relative} {pid}")
        else:
            train_seen += 1
            lists["list_val.txt" if train_seen % VAL_EVERY == 0 else "list_train.txt"].append(f"{relative} {pid}")
    finish_staging(out)
    for name, lines in lists.items():
        atomic_write_text(out / FOLDER / name, "".join(line + "\n" for line in lines))
    return WriteResult(root=str(out), num_images=len(crops))
