"""CrowdHuman: `Images/<ID>.jpg` and `annotation_train.odgt` / `annotation_val.odgt`.

Each odgt line is one JSON object: {"ID", "gtboxes": [{"tag": "person" | "mask", "fbox", "vbox",
"hbox" (all x, y, w, h), "extra": {"box_id", "occ", "ignore"?}, "head_attr": {...}}]}.
Full boxes (fbox) may extend past the image, as in the real annotations; visible boxes are
checked against the image. "mask" regions and extra.ignore = 1 boxes are ignore regions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from personsearch.data.errors import DatasetFormatError
from personsearch.data.formats.boxes import check_boxes, clip_box, image_size, xywh_to_xyxy
from personsearch.data.formats.detection import four_numbers, xywh
from personsearch.data.formats.writing import WriteResult, progress, save_image
from personsearch.data.records import DetectionData, DetectionRecord
from personsearch.utils.atomic import atomic_write_text

FILES = {"train": "annotation_train.odgt", "val": "annotation_val.odgt"}
TAGS = ("person", "mask")


def _record(root: Path, file: Path, line_number: int, line: str, *, check_images: bool) -> DetectionRecord:
    where = f"line {line_number}"
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DatasetFormatError(file, f"not valid JSON ({exc})", record=where) from None
    if not isinstance(entry, dict) or not isinstance(entry.get("ID"), str) or not isinstance(entry.get("gtboxes"), list):
        raise DatasetFormatError(file, "expected an object with a string ID and a gtboxes list", record=where)
    image_path = root / "Images" / f"{entry['ID']}.jpg"
    where = f"line {line_number} ({entry['ID']})"
    full, visible, ignore = [], [], []
    for index, gt in enumerate(entry["gtboxes"]):
        box_where = f"{where}, gtbox {index}"
        if not isinstance(gt, dict) or gt.get("tag") not in TAGS:
            raise DatasetFormatError(file, f"gtbox tag must be one of {', '.join(TAGS)}", record=box_where)
        fbox = xywh_to_xyxy(four_numbers(gt.get("fbox"), name="fbox", file=file, record=box_where))[0]
        vbox = xywh_to_xyxy(four_numbers(gt.get("vbox", gt.get("fbox")), name="vbox", file=file, record=box_where))[0]
        if fbox[2] <= fbox[0] or fbox[3] <= fbox[1]:
            raise DatasetFormatError(file, f"empty fbox {gt['fbox']}", record=box_where)
        extra = gt.get("extra", {})
        full.append(fbox)
        visible.append(vbox)
        ignore.append(gt["tag"] == "mask" or (isinstance(extra, dict) and extra.get("ignore", 0) == 1))
    width = height = None
    if check_images:
        width, height = image_size(image_path, file=file, record=where)
    visible_boxes = check_boxes(np.asarray(visible).reshape(-1, 4), width=width, height=height, file=file, record=where)
    return DetectionRecord(
        image_path=str(image_path),
        boxes=np.asarray(full, dtype=np.float32).reshape(-1, 4),
        ignore=np.asarray(ignore, dtype=bool),
        visible_boxes=visible_boxes,
    )


def _split(root: Path, name: str, *, check_images: bool) -> list[DetectionRecord]:
    file = root / name
    if not file.is_file():
        raise DatasetFormatError(file, "file not found")
    lines = file.read_text(encoding="utf-8").splitlines()
    return [_record(root, file, n, line, check_images=check_images) for n, line in enumerate(lines, start=1) if line.strip()]


def load_crowdhuman(root: str | Path, *, check_images: bool = True) -> DetectionData:
    root = Path(root)
    return DetectionData(
        name="crowdhuman",
        root=str(root),
        train=_split(root, FILES["train"], check_images=check_images),
        val=_split(root, FILES["val"], check_images=check_images),
    )


def write_crowdhuman(world, out: str | Path, *, workers: int = 2, show_progress: bool = True) -> WriteResult:
    """Train scenes go to annotation_train.odgt, test scenes to annotation_val.odgt."""
    out = Path(out)
    lines: dict[str, list[str]] = {"train": [], "val": []}
    scenes = world.scenes(workers=workers)
    for scene in progress(scenes, total=world.num_scenes, desc="crowdhuman", enabled=show_progress):
        image_id = f"{scene.index:06d},{scene.camera:02x}{scene.sequence:04x}{scene.frame:08x}"
        width, height = scene.image.size
        gtboxes = []
        for person in scene.people:
            visible = clip_box(person.visible_box, width=width, height=height)
            if visible is None:  # nothing of the person shows
                continue
            gtboxes.append(
                {
                    "fbox": xywh(person.box),
                    "tag": "person",
                    "hbox": xywh(person.head_box),
                    "extra": {"box_id": len(gtboxes), "occ": int(person.occlusion > 0)},
                    "vbox": xywh(visible),
                    "head_attr": {"ignore": 0, "occ": 0, "unsure": 0},
                }
            )
        save_image(scene.image, out / "Images" / f"{image_id}.jpg", quality=scene.jpeg_quality)
        split = "train" if scene.split == "train" else "val"
        lines[split].append(json.dumps({"ID": image_id, "gtboxes": gtboxes}))
    for split, name in FILES.items():
        atomic_write_text(out / name, "".join(line + "\n" for line in lines[split]))
    return WriteResult(root=str(out), num_images=sum(len(v) for v in lines.values()))
