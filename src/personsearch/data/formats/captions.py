"""What the text-person datasets (CUHK-PEDES, ICFG-PEDES, RSTPReid) share: reading a JSON list
of caption entries into CaptionData, tokenising, and the `synth_meta.json` sidecar that lets
a world re-render the images it wrote.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from personsearch.data.errors import DatasetFormatError
from personsearch.data.formats.problems import AnnotationProblems
from personsearch.data.formats.writing import world_meta
from personsearch.data.records import CaptionData, CaptionRecord
from personsearch.utils.atomic import atomic_write_json

SIDECAR = "synth_meta.json"
_WORD = re.compile(r"[a-z0-9]+")


def tokenize(caption: str) -> list[str]:
    """Lower-case words without punctuation, as in the datasets' `processed_tokens`."""
    return _WORD.findall(caption.lower())


def read_json_list(file: Path) -> list:
    if not file.is_file():
        raise DatasetFormatError(file, "file not found")
    try:
        entries = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetFormatError(file, f"not valid JSON ({exc})") from None
    if not isinstance(entries, list):
        raise DatasetFormatError(file, f"expected a JSON list of entries, got {type(entries).__name__}")
    return entries


def caption_data(
    *,
    name: str,
    root: Path,
    file: Path,
    path_key: str,
    image_dir: Path,
    splits: tuple[str, ...],
    check_images: bool,
    strict: bool = False,
) -> CaptionData:
    """Training ids become contiguous labels (map kept); val and test keep the dataset's ids.

    strict=False skips a bad entry (and empty captions of an otherwise good one) with one
    warning line for all of them; strict=True raises at the first.
    """
    problems = AnnotationProblems(name, strict=strict)
    by_split: dict[str, list[CaptionRecord]] = {split: [] for split in ("train", "val", "test")}
    for index, entry in enumerate(read_json_list(file)):
        try:
            record = _caption_record(entry, index, file=file, path_key=path_key, image_dir=image_dir, splits=splits,
                                     check_images=check_images, problems=problems)
        except DatasetFormatError as error:
            problems.handle(error, "skipped the entry")
            continue
        by_split[record.split].append(record)
    problems.warn()
    pid_map = {pid: label for label, pid in enumerate(sorted({r.pid for r in by_split["train"]}))}
    train = [
        CaptionRecord(image_path=r.image_path, pid=pid_map[r.pid], captions=r.captions, split=r.split)
        for r in by_split["train"]
    ]
    return CaptionData(
        name=name,
        root=str(root),
        train=train,
        val=by_split["val"],
        test=by_split["test"],
        num_train_pids=len(pid_map),
        train_pid_map=pid_map,
    )


def _caption_record(entry, index: int, *, file: Path, path_key: str, image_dir: Path, splits: tuple[str, ...],
                    check_images: bool, problems: AnnotationProblems) -> CaptionRecord:
    if not isinstance(entry, dict):
        raise DatasetFormatError(file, f"entry is a {type(entry).__name__}, not an object", record=index)
    missing = [key for key in ("id", path_key, "captions", "split") if key not in entry]
    if missing:
        raise DatasetFormatError(file, f"missing field(s) {', '.join(missing)}", record=index)
    pid, path, captions, split = entry["id"], entry[path_key], entry["captions"], entry["split"]
    if not isinstance(pid, int) or isinstance(pid, bool) or pid < 0:
        raise DatasetFormatError(file, f"id {pid!r} is not a non-negative integer", record=index)
    if split not in splits:
        raise DatasetFormatError(file, f"split {split!r} is not one of {', '.join(splits)}", record=index)
    if not isinstance(path, str) or not path:
        raise DatasetFormatError(file, f"{path_key} {path!r} is not a file path", record=index)
    if not isinstance(captions, list) or not captions:
        raise DatasetFormatError(file, "captions must be a non-empty list of non-empty strings", record=index)
    usable = [c for c in captions if isinstance(c, str) and c.strip()]
    if len(usable) < len(captions):
        error = DatasetFormatError(file, "captions must be a non-empty list of non-empty strings", record=index)
        if not usable:
            raise error
        problems.handle(error, "dropped empty captions")
    image_path = image_dir / path
    if check_images and not image_path.is_file():
        raise DatasetFormatError(file, f"image file not found: {image_path}", record=index)
    return CaptionRecord(image_path=str(image_path), pid=pid, captions=tuple(usable), split=split)


def write_sidecar(out: Path, world, file_paths: dict[str, int]) -> None:
    """`synth_meta.json`: {"world": {"size", "seed"}, "images": {file_path: {"crop_index": i}}}."""
    atomic_write_json(
        out / SIDECAR,
        {"world": world_meta(world), "images": {path: {"crop_index": i} for path, i in file_paths.items()}},
    )
