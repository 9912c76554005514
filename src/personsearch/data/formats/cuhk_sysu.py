"""CUHK-SYSU: `Image/SSM/*.jpg` scene images plus MATLAB annotations laid out as follows.

    Image/SSM/s1.jpg ...
    annotation/Images.mat                     Img: (imname, nAppear, box[(idlocate, ishard)])
    annotation/pool.mat                       pool: test image names (cell column)
    annotation/test/train_test/Train.mat      Train: cells of (idname, nAppear, scene[(imname, idlocate, ishard)])
    annotation/test/train_test/TestG{N}.mat   TestG{N}: (Query(imname, idlocate, ishard, idname),
                                              Gallery[(imname, idlocate, ishard)]), positives first

idlocate is (x, y, w, h); an empty idlocate in a gallery means the person is not in that image.
Training identities get labels 0.. in Train.mat order; test identities keep the 1-based
query index (the same in every TestG file), as the community's loaders number them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from personsearch.data.errors import DatasetFormatError
from personsearch.data.formats.boxes import clip_box, image_size, xywh_to_xyxy
from personsearch.data.formats.matfile import cell_column, mat_string, read_mat_variable, struct_array, write_mat
from personsearch.data.formats.problems import AnnotationProblems, tolerant_box
from personsearch.data.formats.writing import WriteResult, progress, save_image
from personsearch.data.records import UNLABELLED, GalleryEntry, SceneQuery, SceneRecord, SceneSearchData

GALLERY_SIZES = (50, 100, 500, 1000, 2000, 4000)
_PROTOCOL_DIR = Path("annotation", "test", "train_test")


# ----------------------------------------------------------------------------------- loading


@dataclass
class _Image:
    name: str
    raw: np.ndarray  # (K, 4) int64 x, y, w, h as in Images.mat, for matching protocol boxes
    boxes: np.ndarray  # (K, 4) float32 x1y1x2y2, checked
    pids: np.ndarray  # (K,) int64
    width: int | None
    height: int | None


def _images(root: Path, *, check_images: bool, problems: AnnotationProblems) -> dict[str, _Image]:
    file = root / "annotation" / "Images.mat"
    records = np.atleast_1d(read_mat_variable(file, "Img").squeeze())
    images: dict[str, _Image] = {}
    for index, record in enumerate(records):
        try:
            name = mat_string(record[0])
            box_field = record[2]
            raw = np.asarray(
                [np.asarray(b[0], dtype=np.float64).reshape(4) for b in (box_field[0] if box_field.size else [])],
                dtype=np.float64,
            ).reshape(-1, 4)
        except (IndexError, ValueError, TypeError) as exc:
            problems.handle(DatasetFormatError(file, f"malformed image record ({exc})", record=index),
                            "skipped the image")
            continue
        raw = raw[(raw[:, 2] > 0) & (raw[:, 3] > 0)]  # the protocol drops boxes with w or h <= 0
        width = height = None
        if check_images:
            try:
                width, height = image_size(root / "Image" / "SSM" / name, file=file, record=f"{index} ({name})")
            except DatasetFormatError as error:
                problems.handle(error, "skipped the image")
                continue
        boxes = [tolerant_box(box, width=width, height=height, file=file, record=f"{index} ({name})",
                              problems=problems) for box in xywh_to_xyxy(raw)]
        kept = [i for i, box in enumerate(boxes) if box is not None]
        images[name] = _Image(
            name=name,
            raw=np.round(raw[kept]).astype(np.int64).reshape(-1, 4),
            boxes=np.asarray([boxes[i] for i in kept], dtype=np.float32).reshape(-1, 4),
            pids=np.full(len(kept), UNLABELLED, dtype=np.int64),
            width=width,
            height=height,
        )
    return images


def _pool(root: Path, images: dict[str, _Image], problems: AnnotationProblems) -> list[str]:
    file = root / "annotation" / "pool.mat"
    names = []
    for index, entry in enumerate(np.atleast_1d(read_mat_variable(file, "pool").squeeze())):
        try:
            name = mat_string(entry)
            if name not in images:
                raise DatasetFormatError(file, f"image {name} is not in Images.mat (or was skipped)", record=index)
        except ValueError as exc:
            error = exc if isinstance(exc, DatasetFormatError) else DatasetFormatError(
                file, f"malformed image name ({exc})", record=index)
            problems.handle(error, "skipped the gallery image")
            continue
        names.append(name)
    return names


def _find_box(images: dict[str, _Image], name: str, idlocate, *, file: Path, record: str) -> tuple[_Image, int]:
    if name not in images:
        raise DatasetFormatError(file, f"image {name} is not in Images.mat", record=record)
    image = images[name]
    try:
        box = np.round(np.asarray(idlocate, dtype=np.float64).reshape(4)).astype(np.int64)
    except ValueError:
        raise DatasetFormatError(file, f"idlocate of {name} is not 4 numbers", record=record) from None
    if len(image.raw):
        distance = np.abs(image.raw - box).max(axis=1)
        best = int(distance.argmin())
        if distance[best] <= 1:
            return image, best
    raise DatasetFormatError(file, f"box {box.tolist()} (x, y, w, h) is not a box of {name} in Images.mat", record=record)


def _protocol_box(images: dict[str, _Image], name: str, idlocate, pid: int, *, file: Path, record: int,
                  problems: AnnotationProblems) -> np.ndarray | None:
    """The Images.mat box a protocol file names, labelled `pid`; tolerant: when Images.mat lacks
    it, the protocol's own box (clipped to the image), or None when there is nothing to use."""
    try:
        image, index = _find_box(images, name, idlocate, file=file, record=record)
    except DatasetFormatError as error:
        if name not in images:
            problems.handle(error, "skipped the protocol entry")
            return None
        try:
            box = xywh_to_xyxy(np.asarray(idlocate, dtype=np.float64).reshape(4))[0]
        except ValueError:
            problems.handle(error, "skipped the protocol entry")
            return None
        image = images[name]
        problems.handle(error, "used the protocol's box")
        return tolerant_box(box, width=image.width, height=image.height, file=file, record=record, problems=problems)
    image.pids[index] = pid
    return image.boxes[index].copy()


def _label_train(root: Path, images: dict[str, _Image], problems: AnnotationProblems) -> dict[int, int]:
    file = root / _PROTOCOL_DIR / "Train.mat"
    pid_map: dict[int, int] = {}
    for index, entry in enumerate(np.atleast_1d(read_mat_variable(file, "Train").squeeze())):
        pid_map[index + 1] = index
        try:
            scenes = np.atleast_1d(entry[0, 0][2].squeeze())
            rows = [(mat_string(imname), idlocate) for imname, idlocate, _ in scenes]
        except (IndexError, ValueError, TypeError) as exc:
            problems.handle(DatasetFormatError(file, f"malformed identity record ({exc})", record=index),
                            "skipped the identity's boxes")
            continue
        for name, idlocate in rows:
            try:
                image, box = _find_box(images, name, idlocate, file=file, record=index)
            except DatasetFormatError as error:
                problems.handle(error, "skipped the training box")
                continue
            image.pids[box] = index
    return pid_map


def _protocol_file(root: Path, gallery_size: int) -> tuple[Path, str]:
    if gallery_size == -1:
        for size in GALLERY_SIZES:
            if (root / _PROTOCOL_DIR / f"TestG{size}.mat").is_file():
                return root / _PROTOCOL_DIR / f"TestG{size}.mat", f"TestG{size}"
        gallery_size = GALLERY_SIZES[0]
    if gallery_size not in GALLERY_SIZES:
        choices = ", ".join(str(s) for s in (*GALLERY_SIZES, -1))
        raise ValueError(f"CUHK-SYSU gallery_size must be one of {choices} (-1 = the whole test set), got {gallery_size}")
    return root / _PROTOCOL_DIR / f"TestG{gallery_size}.mat", f"TestG{gallery_size}"


def _queries(
    root: Path, images: dict[str, _Image], pool: set[str], *, gallery_size: int, problems: AnnotationProblems
) -> tuple[list[SceneQuery], list[str]]:
    file, variable = _protocol_file(root, gallery_size)
    queries: list[SceneQuery] = []
    longest = 0
    for index, item in enumerate(np.atleast_1d(read_mat_variable(file, variable).squeeze())):
        pid = index + 1
        try:
            query = item["Query"][0, 0]
            query_name, query_box = mat_string(query[0]), query[1]
            gallery_rows = [(mat_string(imname), idlocate) for imname, idlocate, *_ in np.atleast_1d(item["Gallery"].squeeze())]
        except (IndexError, ValueError, TypeError, KeyError) as exc:
            problems.handle(DatasetFormatError(file, f"malformed query record ({exc})", record=index),
                            "skipped the query")
            continue
        if query_name not in pool:
            problems.handle(DatasetFormatError(file, f"query image {query_name} is not in pool.mat", record=index),
                            "skipped the query")
            continue
        box = _protocol_box(images, query_name, query_box, pid, file=file, record=index, problems=problems)
        if box is None:
            continue
        entries = []
        for name, idlocate in gallery_rows:
            if np.asarray(idlocate).size == 0:
                entries.append(GalleryEntry(name=name, gt_box=None))
                continue
            gt_box = _protocol_box(images, name, idlocate, pid, file=file, record=index, problems=problems)
            if gt_box is not None:
                entries.append(GalleryEntry(name=name, gt_box=gt_box))
        longest = max(longest, len(entries))
        queries.append(
            SceneQuery(
                name=query_name,
                image_path=str(root / "Image" / "SSM" / query_name),
                box=box,
                pid=pid,
                gallery=tuple(entries) if gallery_size != -1 else None,
            )
        )
    notes = []
    if gallery_size != -1 and queries and longest < gallery_size:
        notes.append(f"gallery size {gallery_size} capped at {longest}")
    return queries, notes


def _scene(root: Path, image: _Image) -> SceneRecord:
    return SceneRecord(
        name=image.name,
        image_path=str(root / "Image" / "SSM" / image.name),
        boxes=image.boxes,
        pids=image.pids,
        width=image.width,
        height=image.height,
    )


def load_cuhk_sysu(
    root: str | Path, *, gallery_size: int = 100, check_images: bool = True, strict: bool = False
) -> SceneSearchData:
    """Training scenes, the pool (gallery) scenes and the 1-per-identity queries of `TestG{gallery_size}`.

    gallery_size=-1: the whole test set is every query's gallery (`SceneQuery.gallery` is None).
    check_images reads each image's size from its header to validate and clip the boxes.
    strict=False (default) works around messy records with one warning line: boxes running
    past the image are clipped; a protocol box Images.mat lacks is taken from the protocol
    file (query, gallery) or skipped (training); unreadable records and images are skipped.
    strict=True raises at the first problem.
    """
    root = Path(root)
    problems = AnnotationProblems("cuhk-sysu", strict=strict)
    images = _images(root, check_images=check_images, problems=problems)
    pool = _pool(root, images, problems)
    pid_map = _label_train(root, images, problems)
    queries, notes = _queries(root, images, set(pool), gallery_size=gallery_size, problems=problems)
    problems.warn()
    train_names = sorted(set(images) - set(pool))
    return SceneSearchData(
        name="cuhk-sysu",
        root=str(root),
        train=[_scene(root, images[name]) for name in train_names],
        gallery=[_scene(root, images[name]) for name in pool],
        queries=queries,
        num_train_pids=len(pid_map),
        train_pid_map=pid_map,
        notes=notes,
    )


# ----------------------------------------------------------------------------------- writing


@dataclass
class _Written:
    name: str
    split: str
    people: list[tuple[int, tuple[int, int, int, int]]]  # (world pid, (x, y, w, h))


def _idlocate(box: tuple[int, int, int, int]) -> np.ndarray:
    return np.asarray([box], dtype=np.float64)


def _flag(value: int = 0) -> np.ndarray:
    return np.asarray([[value]], dtype=np.float64)


def _appearances(images: list[_Written], split: str) -> dict[int, list[int]]:
    """world pid -> indices (into `images`) of the `split` images showing the person."""
    seen: dict[int, list[int]] = {}
    for index, image in enumerate(images):
        if image.split != split:
            continue
        for pid, _ in image.people:
            if pid != UNLABELLED and index not in seen.setdefault(pid, []):
                seen[pid].append(index)
    return seen


def _box_of(image: _Written, pid: int) -> tuple[int, int, int, int]:
    return next(box for person, box in image.people if person == pid)


def _train_file(images: list[_Written]) -> np.ndarray:
    # Every CUHK-SYSU identity appears in at least two images; people seen once stay unlabelled.
    identities = [(pid, shown) for pid, shown in sorted(_appearances(images, "train").items()) if len(shown) >= 2]
    cells = []
    for pid, shown in identities:
        scene = struct_array(
            (1, len(shown)),
            ("imname", "idlocate", "ishard"),
            [(images[i].name, _idlocate(_box_of(images[i], pid)), _flag()) for i in shown],
        )
        cells.append(struct_array((1, 1), ("idname", "nAppear", "scene"), [(f"p{pid + 1}", _flag(len(shown)), scene)]))
    return cell_column(cells)


def _test_files(images: list[_Written], *, seed: int) -> tuple[dict[int, np.ndarray], list[str]]:
    rng = np.random.default_rng(seed)
    test_images = [i for i, image in enumerate(images) if image.split == "test"]
    plans = []  # (pid, query image, positives, shuffled distractors)
    for pid, shown in sorted(_appearances(images, "test").items()):
        if len(shown) < 2:
            continue
        query = int(shown[rng.integers(len(shown))])
        showing = set(shown)
        distractors = [i for i in test_images if i not in showing]
        order = rng.permutation(len(distractors))
        plans.append((pid, query, [i for i in shown if i != query], [distractors[k] for k in order]))
    files: dict[int, np.ndarray] = {}
    notes = []
    for size in GALLERY_SIZES:
        rows = []
        largest = 0
        for pid, query, positives, distractors in plans:
            chosen = distractors[: max(size - len(positives), 0)]
            gallery = [(images[i].name, _idlocate(_box_of(images[i], pid)), _flag()) for i in positives]
            gallery += [(images[i].name, np.zeros((1, 0)), _flag()) for i in chosen]
            largest = max(largest, len(gallery))
            query_record = struct_array(
                (1, 1),
                ("imname", "idlocate", "ishard", "idname"),
                [(images[query].name, _idlocate(_box_of(images[query], pid)), _flag(), f"p{pid + 1}")],
            )
            rows.append((query_record, struct_array((1, len(gallery)), ("imname", "idlocate", "ishard"), gallery)))
        if plans and largest < size:
            notes.append(f"TestG{size}: gallery capped at {largest} images (the test set is too small for {size})")
        files[size] = struct_array((1, len(rows)), ("Query", "Gallery"), rows)
    return files, notes


def write_cuhk_sysu(world, out: str | Path, *, workers: int = 2, show_progress: bool = True) -> WriteResult:
    """Lay `world` out as CUHK-SYSU: scenes become s1.jpg.., test scenes form the pool.

    Each test identity seen in two or more test images gets one query (seeded choice) and a
    TestG{N} gallery: the other images showing the person first, then seeded distractors.
    """
    out = Path(out)
    images: list[_Written] = []
    notes = []
    skipped = 0
    scenes = world.scenes(workers=workers)
    for scene in progress(scenes, total=world.num_scenes, desc="cuhk-sysu", enabled=show_progress):
        width, height = scene.image.size
        people = []
        for person in scene.people:
            box = clip_box(person.box, width=width, height=height)
            if box is not None:
                people.append((person.pid, (box[0], box[1], box[2] - box[0], box[3] - box[1])))
        if not people:  # every CUHK-SYSU image shows at least one person
            skipped += 1
            continue
        name = f"s{scene.index + 1}.jpg"
        save_image(scene.image, out / "Image" / "SSM" / name, quality=scene.jpeg_quality)
        images.append(_Written(name=name, split=scene.split, people=people))
    if skipped:
        notes.append(f"{skipped} scenes without any person were left out")
    img = struct_array(
        (1, len(images)),
        ("imname", "nAppear", "box"),
        [
            (
                image.name,
                _flag(len(image.people)),
                struct_array((1, len(image.people)), ("idlocate", "ishard"), [(_idlocate(b), _flag()) for _, b in image.people]),
            )
            for image in images
        ],
    )
    test_files, test_notes = _test_files(images, seed=world.seed)
    notes += test_notes
    write_mat(out / "annotation" / "Images.mat", {"Img": img})
    write_mat(out / "annotation" / "pool.mat", {"pool": cell_column([i.name for i in images if i.split == "test"])})
    write_mat(out / _PROTOCOL_DIR / "Train.mat", {"Train": _train_file(images)})
    for size, protocol in test_files.items():
        write_mat(out / _PROTOCOL_DIR / f"TestG{size}.mat", {f"TestG{size}": protocol})
    return WriteResult(root=str(out), num_images=len(images), notes=notes)
