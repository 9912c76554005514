"""CUHK-PEDES: `imgs/<subdir>/...` and `reid_raw.json`, a list of
{"split", "captions", "file_path" (relative to imgs/), "processed_tokens", "id"}.

Ids are 1-based and contiguous by split range (train first, then val, then test).
"""

from __future__ import annotations

from pathlib import Path

from personsearch.data.formats.captions import caption_data, tokenize, write_sidecar
from personsearch.data.formats.crops import dataset_ids, finish_staging, place, stage_crops
from personsearch.data.formats.writing import WriteResult
from personsearch.data.records import CaptionData
from personsearch.utils.atomic import atomic_write_json

ANNOTATION = "reid_raw.json"
SPLITS = ("train", "val", "test")


def load_cuhk_pedes(root: str | Path, *, check_images: bool = True, strict: bool = False) -> CaptionData:
    """strict=False skips bad entries with one warning line; strict=True raises at the first."""
    root = Path(root)
    return caption_data(
        name="cuhk-pedes",
        root=root,
        file=root / ANNOTATION,
        path_key="file_path",
        image_dir=root / "imgs",
        splits=SPLITS,
        check_images=check_images,
        strict=strict,
    )


def write_cuhk_pedes_annotations(path: str | Path, entries: list[dict]) -> None:
    """Write `reid_raw.json` (at `path`) from plain dicts with split, captions, file_path and id;
    `processed_tokens` is derived from the captions when an entry lacks it."""
    rows = []
    for index, entry in enumerate(entries):
        missing = [key for key in ("split", "captions", "file_path", "id") if key not in entry]
        if missing:
            raise ValueError(f"CUHK-PEDES entry {index} lacks {', '.join(missing)}")
        if entry["split"] not in SPLITS:
            raise ValueError(f"CUHK-PEDES entry {index}: split {entry['split']!r} is not one of {', '.join(SPLITS)}")
        if not isinstance(entry["id"], int) or entry["id"] < 1:
            raise ValueError(f"CUHK-PEDES entry {index}: id {entry['id']!r} must be an integer >= 1")
        captions = [str(c) for c in entry["captions"]]
        if not captions:
            raise ValueError(f"CUHK-PEDES entry {index} has no caption")
        rows.append(
            {
                "split": entry["split"],
                "captions": captions,
                "file_path": str(entry["file_path"]),
                "processed_tokens": entry.get("processed_tokens", [tokenize(c) for c in captions]),
                "id": entry["id"],
            }
        )
    atomic_write_json(path, rows, indent=None)


def write_cuhk_pedes(world, out: str | Path, *, workers: int = 2, show_progress: bool = True) -> WriteResult:
    """Crops become imgs/<split>_query/p<id>_s<n>.jpg; a world without a val split gives an empty val."""
    out = Path(out)
    crops = stage_crops(world, out, suffix=".jpg", workers=workers, show_progress=show_progress, desc="cuhk-pedes")
    ids = dataset_ids(crops, splits=SPLITS, first=1)
    entries, file_paths = [], {}
    for crop in crops:
        file_path = f"{crop.split}_query/p{ids[crop.pid]}_s{crop.index + 1}.jpg"
        place(crop, out / "imgs" / file_path)
        entries.append({"split": crop.split, "captions": list(crop.captions), "file_path": file_path, "id": ids[crop.pid]})
        file_paths[file_path] = crop.index
    finish_staging(out)
    write_cuhk_pedes_annotations(out / ANNOTATION, entries)
    write_sidecar(out, world, file_paths)
    return WriteResult(root=str(out), num_images=len(crops))
