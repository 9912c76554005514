"""Offline proximity data generation: the input dataset plus, for each training image, up to
`per_image` edited copies (new identity each), written as a CUHK-PEDES dataset under `out`
(`imgs/` + `reid_raw.json`) that the normal loader reads."""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from personsearch.data.formats.cuhk_pedes import ANNOTATION, write_cuhk_pedes_annotations
from personsearch.data.records import CaptionData, CaptionRecord
from personsearch.text.proximity.editors import ProximityEditor
from personsearch.utils.atomic import atomic_path, atomic_write_json

PROXIMITY_DIR = "proximity"
LOG_NAME = "proximity_pairs.json"


@dataclass
class ProximityResult:
    root: str
    num_source_images: int
    num_generated: int
    num_skipped: int  # training images the editor could not edit


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _relative(record: CaptionRecord, root: Path) -> str:
    path = Path(record.image_path)
    for base in (root / "imgs", root):
        try:
            return str(path.relative_to(base))
        except ValueError:
            continue
    raise ValueError(f"image {path} is not under the dataset root {root}")


def generate_proximity_dataset(data: CaptionData, *, editor: ProximityEditor, out: str | Path, per_image: int = 1,
                               seed: int = 0, progress: bool = True) -> ProximityResult:
    if per_image < 1:
        raise ValueError(f"per_image must be >= 1, got {per_image}")
    root, out = Path(data.root), Path(out)
    if out.resolve() == root.resolve():
        raise ValueError("--out must differ from --root (the input dataset is never modified)")
    train_ids = {label: pid for pid, label in data.train_pid_map.items()}
    entries, log = [], []
    for split in ("train", "val", "test"):
        for record in getattr(data, split):
            rel = _relative(record, root)
            _link_or_copy(Path(record.image_path), out / "imgs" / rel)
            pid = train_ids.get(record.pid, record.pid) if split == "train" else record.pid
            entries.append({"split": split, "captions": list(record.captions), "file_path": rel, "id": int(pid)})
    # CUHK-PEDES ids are >= 1: shift every id when the source format is 0-based.
    shift = 1 if min(e["id"] for e in entries) < 1 else 0
    for entry in entries:
        entry["id"] += shift
    next_id = max(e["id"] for e in entries) + 1
    generated = skipped = 0
    for index, record in enumerate(tqdm(data.train, desc="proximity", disable=not progress, leave=False)):
        made = 0
        for k in range(per_image):
            pair = editor.edit(record, random.Random(f"{seed}:{index}:{k}"))
            if pair is None or not pair.captions:
                break
            rel = f"{PROXIMITY_DIR}/{index:06d}_{k}.jpg"
            with atomic_path(out / "imgs" / rel, suffix=".jpg") as tmp:
                pair.image.convert("RGB").save(tmp, format="JPEG", quality=95)
            entries.append({"split": "train", "captions": list(pair.captions), "file_path": rel, "id": next_id})
            log.append({"file_path": rel, "source": _relative(record, root), "attribute": pair.attribute,
                        "old_value": pair.old_value, "new_value": pair.new_value, "id": next_id})
            next_id += 1
            made += 1
        generated += made
        skipped += made == 0
    write_cuhk_pedes_annotations(out / ANNOTATION, entries)
    atomic_write_json(out / LOG_NAME, log)
    return ProximityResult(root=str(out), num_source_images=len(data.train), num_generated=generated,
                           num_skipped=skipped)
