"""RSTPReid: `imgs/<img_path>` and `data_captions.json`, a list of {"id", "img_path", "captions", "split"}."""

from __future__ import annotations

from pathlib import Path

from personsearch.data.formats.captions import caption_data, write_sidecar
from personsearch.data.formats.crops import dataset_ids, finish_staging, per_identity_counter, place, stage_crops
from personsearch.data.formats.writing import WriteResult
from personsearch.data.records import CaptionData
from personsearch.utils.atomic import atomic_write_json

ANNOTATION = "data_captions.json"
SPLITS = ("train", "val", "test")


def load_rstpreid(root: str | Path, *, check_images: bool = True, strict: bool = False) -> CaptionData:
    """strict=False skips bad entries with one warning line; strict=True raises at the first."""
    root = Path(root)
    return caption_data(
        name="rstpreid",
        root=root,
        file=root / ANNOTATION,
        path_key="img_path",
        image_dir=root / "imgs",
        splits=SPLITS,
        check_images=check_images,
        strict=strict,
    )


def write_rstpreid(world, out: str | Path, *, workers: int = 2, show_progress: bool = True) -> WriteResult:
    """Crops become imgs/<id>_c<camera>_<n>.jpg."""
    out = Path(out)
    crops = stage_crops(world, out, suffix=".jpg", workers=workers, show_progress=show_progress, desc="rstpreid")
    ids = dataset_ids(crops, splits=SPLITS, first=0)
    number = per_identity_counter()
    rows, file_paths = [], {}
    for crop in crops:
        pid = ids[crop.pid]
        img_path = f"{pid:04d}_c{crop.camera + 1}_{number(pid):04d}.jpg"
        place(crop, out / "imgs" / img_path)
        rows.append({"id": pid, "img_path": img_path, "captions": list(crop.captions), "split": crop.split})
        file_paths[img_path] = crop.index
    finish_staging(out)
    atomic_write_json(out / ANNOTATION, rows, indent=None)
    write_sidecar(out, world, file_paths)
    return WriteResult(root=str(out), num_images=len(crops))
