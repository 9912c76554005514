"""Indexing work cut into shards: runs of consecutive pictures (files of a folder, frame ranges of a video).

A shard's key is a hash of its pictures (names, file sizes and times) and of the model and
settings, so a finished shard's result, kept on disk by `ShardStore`, is reused only for the
same work. `process_shard` is the one function every engine runs, locally or on a cluster.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from PIL import Image

from personsearch import media
from personsearch.index.embedders import Embedder
from personsearch.index.gallery_index import IndexedImage, PictureDetections, SkippedImage, split_picture_name
from personsearch.utils.atomic import atomic_savez


@dataclass(frozen=True)
class GalleryListing:
    root: Path
    pictures: list[media.FileState]  # in index order
    video_fps: dict[str, float]  # frame rate of each video, by name relative to root
    skipped: list[SkippedImage]  # videos of a folder that cannot be opened


@dataclass(frozen=True)
class Shard:
    key: str
    pictures: tuple[media.FileState, ...]


@dataclass(frozen=True)
class ShardResult:
    key: str
    found: list[PictureDetections]
    skipped: list[SkippedImage]


def _video_frames(root: Path, name: str, frame_stride: int) -> tuple[list[media.FileState], float | None]:
    path = root / name
    stat = path.stat()
    cv2, capture = media.open_video(path)
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(capture.get(cv2.CAP_PROP_FPS))
    finally:
        capture.release()
    if count <= 0:
        raise ValueError(f"video {path} does not say how many frames it has; re-encode it (e.g. with ffmpeg)")
    frames = [media.FileState(media.frame_name(name, frame), stat.st_size, stat.st_mtime_ns)
              for frame in range(0, count, frame_stride)]
    return frames, fps if fps > 0 else None


def list_pictures(gallery: str | Path, *, frame_stride: int = 1, recursive: bool = False) -> GalleryListing:
    """Every picture of a video, or of a folder (its images, and the frames of its videos).

    Video frames are every `frame_stride`-th frame up to the frame count the container states.
    """
    if frame_stride < 1:
        raise ValueError(f"frame_stride must be >= 1, got {frame_stride}")
    gallery = Path(gallery)
    root = media.gallery_root(gallery)
    if not gallery.is_dir():
        frames, fps = _video_frames(root, gallery.name, frame_stride)
        return GalleryListing(root=root, pictures=frames, video_fps={gallery.name: fps} if fps else {}, skipped=[])
    candidates = root.rglob("*") if recursive else root.iterdir()
    names = sorted(path.relative_to(root).as_posix() for path in candidates if path.is_file())
    pictures, video_fps, skipped = [], {}, []
    for name in names:
        if any(part.startswith(".") for part in Path(name).parts):
            continue
        suffix = Path(name).suffix.lower()
        if suffix in media.IMAGE_EXTENSIONS:
            stat = (root / name).stat()
            pictures.append(media.FileState(name, stat.st_size, stat.st_mtime_ns))
        elif suffix in media.VIDEO_EXTENSIONS:
            try:
                frames, fps = _video_frames(root, name, frame_stride)
            except ValueError as exc:
                skipped.append(SkippedImage(name=name, reason=str(exc)))
                continue
            pictures.extend(frames)
            if fps:
                video_fps[name] = fps
    return GalleryListing(root=root, pictures=pictures, video_fps=video_fps, skipped=skipped)


def make_shards(pictures: Sequence[media.FileState], *, shard_size: int, fingerprint: str) -> list[Shard]:
    """Consecutive runs of `shard_size` pictures; `fingerprint` names the model and settings."""
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    shards = []
    for start in range(0, len(pictures), shard_size):
        run = tuple(pictures[start:start + shard_size])
        digest = hashlib.sha256(fingerprint.encode())
        for state in run:
            digest.update(f"\0{state.name}\0{state.size}\0{state.mtime_ns}".encode())
        shards.append(Shard(key=digest.hexdigest()[:32], pictures=run))
    return shards


def read_pictures(root: Path, pictures: Sequence[media.FileState]) -> Iterator[tuple[media.FileState, Image.Image | None, str | None]]:
    """(picture, image, None) or (picture, None, reason) in order; frames of one video are read
    in one pass from the first wanted frame."""
    position = 0
    while position < len(pictures):
        video, _ = split_picture_name(pictures[position].name)
        if video is None:
            state = pictures[position]
            try:
                yield state, media.read_image(root / state.name), None
            except media.UnreadableImageError as exc:
                yield state, None, str(exc)
            position += 1
            continue
        run = []
        while position < len(pictures) and split_picture_name(pictures[position].name)[0] == video:
            run.append(pictures[position])
            position += 1
        yield from _read_frames(root / video, run)


def _read_frames(path: Path, run: list[media.FileState]) -> Iterator[tuple[media.FileState, Image.Image | None, str | None]]:
    wanted = [(split_picture_name(state.name)[1], state) for state in run]
    cv2, capture = media.open_video(path)
    try:
        frame = wanted[0][0]
        capture.set(cv2.CAP_PROP_POS_FRAMES, frame)
        if int(capture.get(cv2.CAP_PROP_POS_FRAMES)) != frame:  # no exact seek: decode from the start
            capture.release()
            cv2, capture = media.open_video(path)
            frame = 0
        for number, (target, state) in enumerate(wanted):
            while frame <= target:
                if not capture.grab():  # the container stated more frames than the stream holds
                    for _, missing in wanted[number:]:
                        yield missing, None, "past the last frame of the video"
                    return
                frame += 1
            ok, pixels = capture.retrieve()
            if ok and pixels is not None:
                yield state, Image.fromarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)), None
            else:
                yield state, None, "video frame could not be decoded"
    finally:
        capture.release()


def process_shard(embedder: Embedder, root: str | Path, shard: Shard, *, on_picture=None) -> ShardResult:
    """Read a shard's pictures and run them through the embedder in batches of `embedder.batch_size`."""
    found: list[PictureDetections] = []
    skipped: list[SkippedImage] = []
    pending: list[tuple[media.FileState, Image.Image]] = []

    def flush() -> None:
        for (state, image), (boxes, scores, features) in zip(pending, embedder([image for _, image in pending]),
                                                               strict=True):
            picture = IndexedImage(name=state.name, size=state.size, mtime_ns=state.mtime_ns, width=image.width,
                                   height=image.height)
            found.append(PictureDetections(image=picture, boxes=boxes, scores=scores, features=features))
        pending.clear()

    for state, image, error in read_pictures(Path(root), shard.pictures):
        if error is not None:
            skipped.append(SkippedImage(name=state.name, reason=error))
        else:
            pending.append((state, image))
            if len(pending) >= embedder.batch_size:
                flush()
        if on_picture is not None:
            on_picture()
    if pending:
        flush()
    return ShardResult(key=shard.key, found=found, skipped=skipped)


class ShardStore:
    """Finished shard results in a folder, one `<key>.npz` each, written atomically."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def save(self, result: ShardResult) -> None:
        dims = {item.features.shape[1] for item in result.found}
        dim = dims.pop() if len(dims) == 1 else 0
        meta = {"key": result.key, "pictures": [asdict(item.image) for item in result.found],
                "counts": [len(item.scores) for item in result.found],
                "skipped": [asdict(item) for item in result.skipped], "dim": dim}
        atomic_savez(
            self.path(result.key),
            features=np.concatenate([np.zeros((0, dim), np.float32)] + [item.features for item in result.found]),
            boxes=np.concatenate([np.zeros((0, 4), np.float32)] + [item.boxes for item in result.found]),
            scores=np.concatenate([np.zeros(0, np.float32)] + [item.scores for item in result.found]),
            metadata=np.array(json.dumps(meta)),
        )

    def load(self, key: str) -> ShardResult | None:
        """The stored result, or None when absent or unreadable (the shard is then run again)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["metadata"]))
                features, boxes, scores = data["features"], data["boxes"], data["scores"]
        except Exception:  # a partial or damaged shard file is simply recomputed
            return None
        if meta.get("key") != key:
            return None
        ends = np.cumsum([0] + meta["counts"])
        found = [PictureDetections(image=IndexedImage(**picture), boxes=boxes[a:b], scores=scores[a:b],
                                   features=features[a:b])
                 for picture, a, b in zip(meta["pictures"], ends[:-1], ends[1:])]
        return ShardResult(key=key, found=found, skipped=[SkippedImage(**item) for item in meta["skipped"]])

    def remove(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.path(key).unlink(missing_ok=True)
        if self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()
