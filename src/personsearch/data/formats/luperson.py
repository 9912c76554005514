"""LUPerson-like data: one folder of unlabelled person crops (.jpg / .png, any sub-folders)."""

from __future__ import annotations

from pathlib import Path

from personsearch.data.errors import DatasetFormatError
from personsearch.data.formats.crops import finish_staging, place, stage_crops
from personsearch.data.formats.writing import WriteResult
from personsearch.data.records import UNLABELLED, CropData, CropRecord

SUFFIXES = (".jpg", ".jpeg", ".png")


def load_luperson(root: str | Path) -> CropData:
    """Every image under `root` becomes a training crop without identity (pid UNLABELLED)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetFormatError(root, "folder not found")
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and not p.name.startswith("."))
    if not paths:
        raise DatasetFormatError(root, f"no images ({', '.join(SUFFIXES)}) in the folder")
    return CropData(
        name="luperson",
        root=str(root),
        train=[CropRecord(image_path=str(p), pid=UNLABELLED) for p in paths],
        query=[],
        gallery=[],
        num_train_pids=0,
    )


def write_luperson(world, out: str | Path, *, workers: int = 2, show_progress: bool = True) -> WriteResult:
    """Every crop of the world, identities dropped: `<index>.jpg` in one folder."""
    out = Path(out)
    crops = stage_crops(world, out, suffix=".jpg", workers=workers, show_progress=show_progress, desc="luperson")
    for crop in crops:
        place(crop, out / f"{crop.index:08d}.jpg")
    finish_staging(out)
    return WriteResult(root=str(out), num_images=len(crops))
