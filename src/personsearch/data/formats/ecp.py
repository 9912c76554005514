"""EuroCity Persons (day): `ECP/day/img/{train,val}/<city>/<city>_<n>.png` with one label file
`ECP/day/labels/{train,val}/<city>/<city>_<n>.json` per image.

A label file: {"identity": "frame", "imagewidth", "imageheight", "tags", "children": [{"identity",
"x0", "y0", "x1", "y1", "tags": ["occluded>40", "truncated>10", ...], "children": [...]}]}.
Pedestrians and riders are person boxes; "person-group-far-away" and
"rider+vehicle-group-far-away" are ignore regions; vehicles and other objects are skipped.
The loader's `root` is the folder that holds `ECP/`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from personsearch.data.errors import DatasetFormatError
from personsearch.data.formats.boxes import check_boxes, clip_box
from personsearch.data.formats.writing import WriteResult, progress, save_image
from personsearch.data.records import DetectionData, DetectionRecord
from personsearch.utils.atomic import atomic_write_json

PERSONS = ("pedestrian", "rider")
IGNORE_REGIONS = ("person-group-far-away", "rider+vehicle-group-far-away")
SPLITS = ("train", "val")
CITIES = (
    "amsterdam", "barcelona", "basel", "berlin", "bologna", "bratislava", "brno", "budapest", "dresden",
    "firenze", "hamburg", "koeln", "leipzig", "ljubljana", "lyon", "marseille", "milano", "montpellier",
    "nuernberg", "pisa", "potsdam", "prague", "roma", "stuttgart", "szczecin", "torino", "toulouse", "ulm",
    "wuerzburg", "zagreb", "zuerich",
)
_BUCKETS = (80, 40, 10)  # the percentages ECP's occluded>N / truncated>N tags use


def _record(root: Path, split: str, file: Path, *, check_images: bool) -> DetectionRecord:
    try:
        frame = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetFormatError(file, f"not valid JSON ({exc})") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("children"), list):
        raise DatasetFormatError(file, "expected an object with a children list")
    width, height = frame.get("imagewidth"), frame.get("imageheight")
    if not isinstance(width, int) or not isinstance(height, int) or width <= 0 or height <= 0:
        raise DatasetFormatError(file, f"bad imagewidth/imageheight {width!r} x {height!r}")
    image_path = root / "ECP" / "day" / "img" / split / file.parent.name / f"{file.stem}.png"
    if check_images and not image_path.is_file():
        raise DatasetFormatError(file, f"image file not found: {image_path}")
    boxes, ignore = [], []
    for index, child in enumerate(frame["children"]):
        identity = child.get("identity") if isinstance(child, dict) else None
        if identity not in PERSONS and identity not in IGNORE_REGIONS:
            continue
        try:
            box = [float(child[key]) for key in ("x0", "y0", "x1", "y1")]
        except (KeyError, TypeError, ValueError):
            raise DatasetFormatError(file, "x0, y0, x1, y1 must all be numbers", record=f"child {index}") from None
        boxes.append(check_boxes(np.asarray(box), width=width, height=height, file=file, record=f"child {index}")[0])
        ignore.append(identity in IGNORE_REGIONS)
    return DetectionRecord(
        image_path=str(image_path),
        boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        ignore=np.asarray(ignore, dtype=bool),
    )


def _split(root: Path, split: str, *, check_images: bool) -> list[DetectionRecord]:
    labels = root / "ECP" / "day" / "labels" / split
    if not labels.is_dir():
        raise DatasetFormatError(labels, "label folder not found")
    return [_record(root, split, file, check_images=check_images) for file in sorted(labels.glob("*/*.json"))]


def load_ecp(root: str | Path, *, check_images: bool = True) -> DetectionData:
    root = Path(root)
    return DetectionData(
        name="ecp",
        root=str(root),
        train=_split(root, "train", check_images=check_images),
        val=_split(root, "val", check_images=check_images),
    )


def _tag(kind: str, fraction: float) -> list[str]:
    return [f"{kind}>{bucket}" for bucket in _BUCKETS if fraction * 100 > bucket][:1]


def write_ecp(world, out: str | Path, *, workers: int = 2, show_progress: bool = True) -> WriteResult:
    """Train scenes go to train/, test scenes to val/; a scene's camera picks its city."""
    out = Path(out)
    labels: dict[Path, dict] = {}
    scenes = world.scenes(workers=workers)
    for scene in progress(scenes, total=world.num_scenes, desc="ecp", enabled=show_progress):
        split = "train" if scene.split == "train" else "val"
        city = CITIES[scene.camera % len(CITIES)]
        name = f"{city}_{scene.index:05d}"
        width, height = scene.image.size
        children = []
        for person in scene.people:
            box = clip_box(person.box, width=width, height=height)
            if box is None:
                continue
            x1, y1, x2, y2 = person.box
            full_area = max((x2 - x1) * (y2 - y1), 1e-6)
            truncation = 1 - (box[2] - box[0]) * (box[3] - box[1]) / full_area if person.truncated else 0.0
            children.append(
                {
                    "identity": "pedestrian",
                    "x0": box[0],
                    "y0": box[1],
                    "x1": box[2],
                    "y1": box[3],
                    "tags": _tag("occluded", person.occlusion) + _tag("truncated", max(truncation, 0.0)),
                    "children": [],
                }
            )
        save_image(scene.image, out / "ECP" / "day" / "img" / split / city / f"{name}.png", quality=scene.jpeg_quality)
        labels[out / "ECP" / "day" / "labels" / split / city / f"{name}.json"] = {
            "identity": "frame",
            "imagewidth": width,
            "imageheight": height,
            "tags": [],
            "children": children,
        }
    for path, frame in labels.items():
        atomic_write_json(path, frame)
    for split in SPLITS:
        (out / "ECP" / "day" / "labels" / split).mkdir(parents=True, exist_ok=True)
    return WriteResult(root=str(out), num_images=len(labels))
