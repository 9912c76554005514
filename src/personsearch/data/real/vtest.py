"""Real campus footage (vtest.avi) with identities checked by eye, laid out as PRW.

The annotation (`vtest_annotations.json`, shipped in the package) covers every 20th frame of
the video: person boxes [pid, x, y, w, h] (pid -2 = a person not given an identity) and the
query list. The video itself is not shipped; `scripts/fetch_vtest.sh` gets it and
`scripts/build_real_set.py` writes the PRW layout (frames/, annotations/*.jpg.mat,
frame_train.mat, frame_test.mat, query_info.txt) that `load_prw` reads. How the boxes and
identities were made, and the set's limits: docs/real_set.md.

Protocol: PRW's, except that a query's gallery holds only frames at least `min_gap_seconds`
away from the query frame, so that the frames next to the query (the same walk, seconds
apart, nearly the same picture) cannot answer it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from personsearch.data.errors import DatasetFormatError
from personsearch.data.formats.matfile import cell_column, write_mat
from personsearch.data.formats.prw import PRW_UNLABELLED, load_prw
from personsearch.data.formats.writing import save_image
from personsearch.data.records import GalleryEntry, SceneSearchData
from personsearch.utils.atomic import atomic_write_json, atomic_write_text

ANNOTATION_FILE = "vtest_annotations.json"
SET_INFO_FILE = "real_set.json"  # written beside the PRW files: fps and the gap rule


@dataclass(frozen=True)
class RealQuery:
    frame: int
    pid: int
    box_xywh: tuple[int, int, int, int]


@dataclass(frozen=True)
class RealSetAnnotation:
    video: str
    video_sha256: str
    width: int
    height: int
    fps: float
    num_video_frames: int
    min_gap_seconds: float
    identities: dict[int, str]  # pid -> what the person looks like
    frames: dict[int, np.ndarray]  # video frame index -> (N, 5) rows [pid, x, y, w, h]
    queries: tuple[RealQuery, ...]


def frame_stem(frame: int) -> str:
    """PRW frame name (without extension) of a video frame: one camera, one sequence."""
    return f"c1s1_{frame:06d}"


def frame_of_stem(stem: str) -> int:
    return int(Path(stem).stem.split("_")[-1])


def annotation_path() -> Path:
    return Path(str(resources.files("personsearch.data.real") / ANNOTATION_FILE))


def load_annotation(path: str | Path | None = None) -> RealSetAnnotation:
    """Read and check the annotation (boxes inside the frame, known pids, queries on annotated boxes)."""
    path = Path(path) if path is not None else annotation_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetFormatError(path, f"not a readable JSON annotation ({exc})") from None
    try:
        width, height = int(raw["width"]), int(raw["height"])
        identities = {int(k): str(v) for k, v in raw["identities"].items()}
        frames = {}
        for key, rows in raw["frames"].items():
            array = np.asarray(rows, dtype=np.int64).reshape(-1, 5)
            for index, (pid, x, y, w, h) in enumerate(array):
                if pid != PRW_UNLABELLED and pid not in identities:
                    raise DatasetFormatError(path, f"frame {key}: unknown pid {pid}", record=index)
                if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width or y + h > height:
                    raise DatasetFormatError(path, f"frame {key}: box {[x, y, w, h]} outside {width}x{height}", record=index)
            frames[int(key)] = array
        queries = tuple(
            RealQuery(frame=int(q["frame"]), pid=int(q["pid"]), box_xywh=tuple(int(v) for v in q["box_xywh"]))
            for q in raw["queries"]
        )
        annotation = RealSetAnnotation(
            video=str(raw["video"]), video_sha256=str(raw["video_sha256"]), width=width, height=height,
            fps=float(raw["fps"]), num_video_frames=int(raw["num_video_frames"]),
            min_gap_seconds=float(raw["min_gap_seconds"]), identities=identities, frames=frames, queries=queries,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetFormatError(path, f"malformed annotation ({type(exc).__name__}: {exc})") from None
    for index, query in enumerate(annotation.queries):
        rows = annotation.frames.get(query.frame)
        if rows is None or not any(row[0] == query.pid and tuple(row[1:]) == query.box_xywh for row in rows):
            raise DatasetFormatError(path, f"query box {query.box_xywh} of pid {query.pid} is not annotated in frame {query.frame}",
                                     record=f"query {index}")
    return annotation


def write_prw_layout(annotation: RealSetAnnotation, out: str | Path, frames: Iterator[tuple[int, Image.Image]]) -> Path:
    """Write the annotated frames (`frames` yields (video frame index, picture) for at least every
    annotated index) and their annotation in PRW's layout. All frames are test frames."""
    out = Path(out)
    wanted = set(annotation.frames)
    written = set()
    for index, image in frames:
        if index not in wanted:
            continue
        if image.size != (annotation.width, annotation.height):
            raise ValueError(f"frame {index} is {image.size[0]}x{image.size[1]}, the annotation expects "
                             f"{annotation.width}x{annotation.height}")
        save_image(image.convert("RGB"), out / "frames" / f"{frame_stem(index)}.jpg", quality=95)
        written.add(index)
    if written != wanted:
        raise ValueError(f"{len(wanted - written)} annotated frames were not supplied, e.g. {sorted(wanted - written)[:5]}")
    stems = [frame_stem(index) for index in sorted(annotation.frames)]
    for index in sorted(annotation.frames):
        write_mat(out / "annotations" / f"{frame_stem(index)}.jpg.mat",
                  {"box_new": annotation.frames[index].astype(np.float64)})
    write_mat(out / "frame_train.mat", {"img_index_train": cell_column([])})
    write_mat(out / "frame_test.mat", {"img_index_test": cell_column(stems)})
    lines = [" ".join(str(v) for v in (q.pid, *q.box_xywh, frame_stem(q.frame))) for q in annotation.queries]
    atomic_write_text(out / "query_info.txt", "".join(line + "\r\n" for line in lines), newline="")
    atomic_write_json(out / SET_INFO_FILE, {"video": annotation.video, "video_sha256": annotation.video_sha256,
                                            "fps": annotation.fps, "min_gap_seconds": annotation.min_gap_seconds})
    return out


def video_frames(video: str | Path, wanted: set[int], *, expected_sha256: str | None = None) -> Iterator[tuple[int, Image.Image]]:
    """(index, picture) for the `wanted` frame indices of a video, read in order."""
    from personsearch import media

    video = Path(video)
    if expected_sha256 is not None:
        digest = hashlib.sha256(video.read_bytes()).hexdigest()
        if digest != expected_sha256:
            raise ValueError(f"{video} has sha256 {digest}; the annotation was made on {expected_sha256}")
    cv2, capture = media.open_video(video)
    try:
        index = 0
        last = max(wanted)
        while index <= last:
            ok, pixels = capture.read()
            if not ok:
                raise ValueError(f"{video} ended at frame {index}; the annotation needs frame {last}")
            if index in wanted:
                yield index, Image.fromarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB))
            index += 1
    finally:
        capture.release()


def blank_frames(annotation: RealSetAnnotation, *, colour: tuple[int, int, int] = (128, 128, 128)) -> Iterator[tuple[int, Image.Image]]:
    """Plain pictures of the annotated size, for checking the layout without the video."""
    for index in sorted(annotation.frames):
        yield index, Image.new("RGB", (annotation.width, annotation.height), colour)


def time_separated_galleries(data: SceneSearchData, *, fps: float, min_gap_seconds: float) -> SceneSearchData:
    """Give every query its own gallery: the gallery frames at least `min_gap_seconds` from its frame."""
    min_gap_frames = min_gap_seconds * fps
    queries = []
    for query in data.queries:
        here = frame_of_stem(query.name)
        entries = []
        for record in data.gallery:
            if abs(frame_of_stem(record.name) - here) < min_gap_frames:
                continue
            hits = np.nonzero(record.pids == query.pid)[0]
            entries.append(GalleryEntry(name=record.name, gt_box=record.boxes[hits[0]] if hits.size else None))
        entries.sort(key=lambda entry: entry.gt_box is None)  # images holding the person first
        queries.append(replace(query, gallery=tuple(entries)))
    return replace(data, name="vtest-real", queries=queries)


def load_real_set(root: str | Path, *, min_gap_seconds: float | None = None, check_images: bool = True) -> SceneSearchData:
    """The real set from its PRW layout, each query with its time-separated gallery.
    `min_gap_seconds` overrides the annotation's rule (0 gives PRW's own all-frames gallery)."""
    root = Path(root)
    info_file = root / SET_INFO_FILE
    try:
        info = json.loads(info_file.read_text(encoding="utf-8"))
        fps, gap = float(info["fps"]), float(info["min_gap_seconds"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DatasetFormatError(info_file, f"missing or malformed ({exc}); rebuild with scripts/build_real_set.py") from None
    data = load_prw(root, check_images=check_images)
    gap = gap if min_gap_seconds is None else min_gap_seconds
    if gap <= 0:
        return replace(data, name="vtest-real")
    return time_separated_galleries(data, fps=fps, min_gap_seconds=gap)


def build_real_set(video: str | Path, out: str | Path, *, annotation: RealSetAnnotation | None = None) -> Path:
    """Extract the annotated frames of `video` (checked against the annotation's checksum) and
    write the PRW layout under `out`."""
    annotation = annotation or load_annotation()
    frames = video_frames(video, set(annotation.frames), expected_sha256=annotation.video_sha256)
    return write_prw_layout(annotation, out, frames)
