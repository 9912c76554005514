"""PRW: `frames/*.jpg`, one `annotations/<frame>.jpg.mat` per frame, split lists, query_info.txt.

    frames/c1s1_000151.jpg                 camera = the number after "c"
    annotations/c1s1_000151.jpg.mat        box_new (else anno_file, else anno_previous): rows [pid, x, y, w, h]
    frame_train.mat / frame_test.mat       img_index_train / img_index_test: frame names without extension
    query_info.txt                         "pid x y w h frame" per line, CRLF line endings

pid -2 marks an unlabelled person; negative coordinates are clipped to 0. Training ids are
remapped to contiguous labels (the map is kept); test ids stay as they are.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from personsearch.data.errors import DatasetFormatError
from personsearch.data.formats.boxes import check_boxes, clip_box, image_size, xywh_to_xyxy
from personsearch.data.formats.matfile import cell_column, mat_string, read_mat_variable, write_mat
from personsearch.data.formats.problems import AnnotationProblems, tolerant_box
from personsearch.data.formats.writing import WriteResult, progress, save_image
from personsearch.data.records import UNLABELLED, SceneQuery, SceneRecord, SceneSearchData
from personsearch.utils.atomic import atomic_write_text

PRW_UNLABELLED = -2
BOX_KEYS = ("box_new", "anno_file", "anno_previous")
_CAMERA = re.compile(r"c(\d+)")


def camera_of(name: str, *, file: Path, record: str | int) -> int:
    match = _CAMERA.match(name)
    if match is None:
        raise DatasetFormatError(file, f"frame name {name!r} does not start with c<camera>", record=record)
    return int(match.group(1))


# ----------------------------------------------------------------------------------- loading


def _frame_names(file: Path, variable: str) -> list[str]:
    names = []
    for index, entry in enumerate(np.atleast_1d(read_mat_variable(file, variable).squeeze())):
        try:
            names.append(mat_string(entry))
        except ValueError as exc:
            raise DatasetFormatError(file, f"malformed frame name ({exc})", record=index) from None
    return names


def _frame(root: Path, stem: str, *, check_images: bool, problems: AnnotationProblems) -> SceneRecord | None:
    """The frame's record with the file's pids (-2 -> UNLABELLED); None when a tolerant load skips it."""
    name = f"{stem}.jpg"
    file = root / "annotations" / f"{name}.mat"
    try:
        rows = np.asarray(read_mat_variable(file, *BOX_KEYS), dtype=np.float64)
        if rows.size == 0:
            rows = rows.reshape(0, 5)
        if rows.ndim != 2 or rows.shape[1] != 5:
            raise DatasetFormatError(file, f"box array has shape {rows.shape}, expected (N, 5) rows [pid, x, y, w, h]")
        width = height = None
        if check_images:
            width, height = image_size(root / "frames" / name, file=file, record=name)
        camera = camera_of(name, file=file, record=name)
    except (DatasetFormatError, ValueError) as exc:
        error = exc if isinstance(exc, DatasetFormatError) else DatasetFormatError(file, str(exc))
        problems.handle(error, "skipped the frame")
        return None
    pid_column = rows[:, 0]
    if np.all((pid_column == np.round(pid_column)) & ((pid_column >= 0) | (pid_column == PRW_UNLABELLED))):
        try:  # the usual case, every box valid: checked at once
            boxes = check_boxes(xywh_to_xyxy(rows[:, 1:]), width=width, height=height, file=file, record=name)
        except DatasetFormatError:
            boxes = None
        if boxes is not None:
            pids = np.where(pid_column == PRW_UNLABELLED, UNLABELLED, pid_column).astype(np.int64)
            return SceneRecord(name=name, image_path=str(root / "frames" / name), boxes=boxes, pids=pids,
                               camera=camera, width=width, height=height)
    boxes, pids = [], []
    for index, row in enumerate(rows):
        pid = row[0]
        if pid != np.round(pid) or (pid < 0 and pid != PRW_UNLABELLED):
            problems.handle(DatasetFormatError(file, f"invalid pid {pid} (expected -2 or a positive id)", record=index),
                            "skipped the box")
            continue
        box = tolerant_box(xywh_to_xyxy(row[1:]), width=width, height=height, file=file, record=index,
                           problems=problems)
        if box is not None:
            boxes.append(box)
            pids.append(UNLABELLED if pid == PRW_UNLABELLED else int(pid))
    return SceneRecord(
        name=name,
        image_path=str(root / "frames" / name),
        boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        pids=np.asarray(pids, dtype=np.int64),
        camera=camera,
        width=width,
        height=height,
    )


def _queries(root: Path, test: dict[str, SceneRecord], problems: AnnotationProblems) -> list[SceneQuery]:
    file = root / "query_info.txt"
    if not file.is_file():
        raise DatasetFormatError(file, "file not found")
    queries = []
    for line_number, line in enumerate(file.read_bytes().decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        record = f"line {line_number}"
        fields = line.split()
        try:
            if len(fields) != 6:
                raise ValueError(f"{len(fields)} fields")
            pid = int(fields[0])
            x, y, w, h = (float(v) for v in fields[1:5])
        except ValueError as exc:
            problems.handle(DatasetFormatError(file, f"malformed line {line!r}, expected 'pid x y w h frame' ({exc})",
                                               record=record), "skipped the query")
            continue
        name = f"{fields[5]}.jpg"
        if name not in test:
            problems.handle(DatasetFormatError(file, f"query frame {fields[5]} is not in frame_test.mat (or was "
                                                     "skipped)", record=record), "skipped the query")
            continue
        scene = test[name]
        box = tolerant_box(xywh_to_xyxy([x, y, w, h]), width=scene.width, height=scene.height, file=file,
                           record=record, problems=problems)
        if box is not None:
            queries.append(SceneQuery(name=name, image_path=scene.image_path, box=box, pid=pid, camera=scene.camera))
    return queries


def load_prw(root: str | Path, *, check_images: bool = True, strict: bool = False,
             read_train: bool = True) -> SceneSearchData:
    """Training frames (contiguous labels), test frames (original ids) and the queries.

    read_train=False leaves the training frames unread (`train` is empty): what scoring needs.

    Every query's gallery is all test frames except its own (`SceneQuery.gallery` is None).
    strict=False (default) skips unreadable frames, bad boxes and query lines, and clips boxes
    running past the image, with one warning line; strict=True raises at the first problem.
    """
    root = Path(root)
    problems = AnnotationProblems("prw", strict=strict)

    def frames(file_name: str, variable: str) -> list[SceneRecord]:
        found = (_frame(root, stem, check_images=check_images, problems=problems)
                 for stem in _frame_names(root / file_name, variable))
        return [frame for frame in found if frame is not None]

    train = frames("frame_train.mat", "img_index_train") if read_train else []
    test = frames("frame_test.mat", "img_index_test")
    train_ids = sorted({int(p) for scene in train for p in scene.pids if p != UNLABELLED})
    pid_map = {pid: label for label, pid in enumerate(train_ids)}
    relabelled = [
        SceneRecord(
            name=scene.name,
            image_path=scene.image_path,
            boxes=scene.boxes,
            pids=np.asarray([pid_map.get(int(p), UNLABELLED) for p in scene.pids], dtype=np.int64),
            camera=scene.camera,
            width=scene.width,
            height=scene.height,
        )
        for scene in train
    ]
    queries = _queries(root, {scene.name: scene for scene in test}, problems)
    problems.warn()
    return SceneSearchData(
        name="prw",
        root=str(root),
        train=relabelled,
        gallery=test,
        queries=queries,
        num_train_pids=len(pid_map),
        train_pid_map=pid_map,
    )


# ----------------------------------------------------------------------------------- writing


def _number(value: int) -> str:
    return str(int(value))


def _choose_queries(frames: list[tuple[str, int, list[tuple[int, tuple[int, int, int, int]]]]], *, seed: int) -> list[str]:
    """One query line per test identity seen in >= 2 frames, preferring a frame whose person
    also appears under another camera."""
    rng = np.random.default_rng(seed)
    shown: dict[int, list[int]] = {}
    for index, (_, _, people) in enumerate(frames):
        for pid, _ in people:
            if pid != PRW_UNLABELLED and index not in shown.setdefault(pid, []):
                shown[pid].append(index)
    lines = []
    for pid, indices in sorted(shown.items()):
        if len(indices) < 2:
            continue
        cameras = {frames[i][1] for i in indices}
        preferred = [i for i in indices if cameras - {frames[i][1]}] or indices
        choice = preferred[int(rng.integers(len(preferred)))]
        stem, _, people = frames[choice]
        x, y, w, h = next(box for person, box in people if person == pid)
        lines.append(" ".join([_number(pid), _number(x), _number(y), _number(w), _number(h), stem]))
    return lines


def write_prw(world, out: str | Path, *, workers: int = 2, show_progress: bool = True) -> WriteResult:
    """Lay `world` out as PRW: pids are world ids + 1, unlabelled people -2."""
    out = Path(out)
    splits: dict[str, list[tuple[str, int, list]]] = {"train": [], "test": []}
    annotations: dict[str, np.ndarray] = {}
    skipped = 0
    scenes = world.scenes(workers=workers)
    for scene in progress(scenes, total=world.num_scenes, desc="prw", enabled=show_progress):
        stem = f"c{scene.camera + 1}s{scene.sequence + 1}_{scene.frame:06d}"
        if stem in annotations:
            raise ValueError(f"two scenes map to the same PRW frame name {stem}")
        width, height = scene.image.size
        people = []
        for person in scene.people:
            box = clip_box(person.box, width=width, height=height)
            if box is not None:
                pid = PRW_UNLABELLED if person.pid == UNLABELLED else person.pid + 1
                people.append((pid, (box[0], box[1], box[2] - box[0], box[3] - box[1])))
        if not people:  # PRW frames all show someone
            skipped += 1
            continue
        save_image(scene.image, out / "frames" / f"{stem}.jpg", quality=scene.jpeg_quality)
        annotations[stem] = np.asarray([[pid, *box] for pid, box in people], dtype=np.float64)
        splits[scene.split].append((stem, scene.camera, people))
    for stem, rows in annotations.items():
        write_mat(out / "annotations" / f"{stem}.jpg.mat", {"box_new": rows})
    write_mat(out / "frame_train.mat", {"img_index_train": cell_column([f[0] for f in splits["train"]])})
    write_mat(out / "frame_test.mat", {"img_index_test": cell_column([f[0] for f in splits["test"]])})
    lines = _choose_queries(splits["test"], seed=world.seed)
    atomic_write_text(out / "query_info.txt", "".join(line + "\r\n" for line in lines), newline="")
    notes = [f"{skipped} scenes without any person were left out"] if skipped else []
    return WriteResult(root=str(out), num_images=len(annotations), notes=notes)
