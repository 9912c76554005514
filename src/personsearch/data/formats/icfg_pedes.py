"""ICFG-PEDES: `imgs/...` and `ICFG-PEDES.json` (the CUHK-PEDES fields, 0-based ids, train/test only)."""

from __future__ import annotations

from pathlib import Path

from personsearch.data.formats.captions import caption_data, tokenize, write_sidecar
from personsearch.data.formats.crops import dataset_ids, finish_staging, per_identity_counter, place, stage_crops
from personsearch.data.formats.msmt17 import msmt_name
from personsearch.data.formats.writing import WriteResult
from personsearch.data.records import CaptionData
from personsearch.utils.atomic import atomic_write_json

ANNOTATION = "ICFG-PEDES.json"
SPLITS = ("train", "test")


def load_icfg_pedes(root: str | Path, *, check_images: bool = True, strict: bool = False) -> CaptionData:
    """strict=False skips bad entries with one warning line; strict=True raises at the first."""
    root = Path(root)
    return caption_data(
        name="icfg-pedes",
        root=root,
        file=root / ANNOTATION,
        path_key="file_path",
        image_dir=root / "imgs",
        splits=SPLITS,
        check_images=check_images,
        strict=strict,
    )


def _split(world_split: str) -> str:
    return "test" if world_split == "test" else "train"


def write_icfg_pedes(world, out: str | Path, *, workers: int = 2, show_progress: bool = True) -> WriteResult:
    """Crops become imgs/<split>/<id>/<MSMT17-style name>.jpg (ICFG-PEDES images come from
    MSMT17); crops of a world validation split join train, since ICFG-PEDES has none."""
    out = Path(out)
    crops = stage_crops(world, out, suffix=".jpg", workers=workers, show_progress=show_progress, desc="icfg-pedes")
    ids = dataset_ids(crops, splits=SPLITS, first=0, split_of=_split)
    number = per_identity_counter()
    rows, file_paths = [], {}
    for crop in crops:
        pid = ids[crop.pid]
        file_path = f"{_split(crop.split)}/{msmt_name(pid=pid, number=number(pid), camera=crop.camera, index=crop.index)}"
        place(crop, out / "imgs" / file_path)
        rows.append(
            {
                "id": pid,
                "file_path": file_path,
                "captions": list(crop.captions),
                "processed_tokens": [tokenize(t) for t in crop.captions],
                "split": _split(crop.split),
            }
        )
        file_paths[file_path] = crop.index
    finish_staging(out)
    atomic_write_json(out / ANNOTATION, rows, indent=None)
    write_sidecar(out, world, file_paths)
    return WriteResult(root=str(out), num_images=len(crops))
