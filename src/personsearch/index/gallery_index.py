"""The gallery index: every person box of a gallery, its feature, and where it came from.

One index serves image queries (features from a person search model) and text queries
(features from a text model's image encoder). Each entry is one box in one picture, with a
stable int64 id: `record(id)` gives (picture, video and frame for video pictures, box, score).
Pictures are images of a folder ("cam1/0001.jpg") or frames of a video
("clip.avi#frame000123"); whole videos or pictures can be added and removed.

On disk: one `.npz` file, written atomically, with
- `features` (M, D) float16 or float32, L2-normalised,
- `boxes` (M, 4) float32 x1, y1, x2, y2 in picture pixels, `scores` (M,) detection scores,
- `image_index` (M,) int64 position of each entry's picture in `images`, `ids` (M,) int64,
- `vectors` the serialised faiss index when it is approximate (an exact one is rebuilt on load),
- `metadata` JSON: format version, model fingerprint, gallery root, settings, pictures,
  skipped pictures, video frame rates, faiss factory string and nprobe,
- `checksum`: sha256 of everything above; a file that does not match is refused as corrupt.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from personsearch.index.vector_index import VectorIndex, choose_factory, lists_of
from personsearch.utils.atomic import atomic_savez

FORMAT_VERSION = 2
FEATURE_DTYPES = ("float16", "float32")
FRAME_SEPARATOR = "#frame"  # as personsearch.media names video frames
CANDIDATES_PER_RESULT = 4  # an approximate search proposes 4k candidates for k results (at least 64)
MIN_CANDIDATES = 64


class IndexFormatError(ValueError):
    pass


class IndexCorruptError(IndexFormatError):
    pass


class IndexModelMismatchError(ValueError):
    pass


@dataclass(frozen=True)
class IndexedImage:
    name: str  # relative to the gallery root; video frames are "video.avi#frame000123"
    size: int  # of the file (the whole video for frames)
    mtime_ns: int
    width: int
    height: int


@dataclass(frozen=True)
class SkippedImage:
    name: str
    reason: str


@dataclass(frozen=True)
class PictureDetections:
    """What a model found in one picture: the unit added to an index."""

    image: IndexedImage
    boxes: np.ndarray  # (K, 4) float32
    scores: np.ndarray  # (K,) float32
    features: np.ndarray  # (K, D) float32, L2-normalised


@dataclass(frozen=True)
class Entry:
    """One indexed person box."""

    id: int
    picture: str  # picture name relative to the root
    location: str  # re-opens the picture with personsearch.media.open_images
    video: str | None  # video name relative to the root, for video frames
    frame: int | None  # frame number in that video
    time_s: float | None  # frame / fps when the video's frame rate is known
    box: tuple[float, float, float, float]
    score: float


def split_picture_name(name: str) -> tuple[str | None, int | None]:
    """"clip.avi#frame000123" -> ("clip.avi", 123); an image name -> (None, None)."""
    video, separator, frame = name.rpartition(FRAME_SEPARATOR)
    if separator and video and frame.isdigit():
        return video, int(frame)
    return None, None


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        digest.update(memoryview(array).cast("B") if array.size else b"")
    return digest.hexdigest()


@dataclass
class GalleryIndex:
    root: str
    model_id: str  # fingerprint of the model (and detector) that made the features
    score_threshold: float
    frame_stride: int
    features: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    image_index: np.ndarray
    images: list[IndexedImage]
    skipped: list[SkippedImage] = field(default_factory=list)
    # How the last build went: {"processed": n, "reused": n, "skipped": n, ...}.
    stats: dict[str, int] = field(default_factory=dict)
    ids: np.ndarray | None = None  # (M,) ascending; default 0..M-1
    next_id: int | None = None
    video_fps: dict[str, float] = field(default_factory=dict)
    factory: str | None = None  # a fixed faiss factory string; None chooses by size
    nprobe: int | None = None  # a fixed nprobe for IVF indexes; None: a quarter of the lists
    _vectors: VectorIndex | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        count = len(self.features)
        if self.ids is None:
            self.ids = np.arange(count, dtype=np.int64)
        if self.next_id is None:
            self.next_id = int(self.ids[-1]) + 1 if count else 0
        if self.features.ndim != 2 or self.boxes.shape != (count, 4) or self.scores.shape != (count,):
            raise IndexFormatError(
                f"inconsistent index arrays: features {self.features.shape}, boxes {self.boxes.shape}, "
                f"scores {self.scores.shape}"
            )
        if self.image_index.shape != (count,) or (count and not 0 <= self.image_index.min() <= self.image_index.max() < len(self.images)):
            raise IndexFormatError("index image_index does not match its image list")
        if self.ids.shape != (count,) or (count > 1 and not np.all(np.diff(self.ids) > 0)) or (count and self.ids[-1] >= self.next_id):
            raise IndexFormatError("index ids must be unique, ascending and below next_id")
        if self.features.dtype.name not in FEATURE_DTYPES:
            raise IndexFormatError(f"feature dtype must be one of {FEATURE_DTYPES}, got {self.features.dtype}")

    @classmethod
    def empty(cls, *, root: str | Path, model_id: str, feature_dim: int, score_threshold: float = 0.0,
              frame_stride: int = 1, feature_dtype: str = "float16", factory: str | None = None,
              nprobe: int | None = None) -> "GalleryIndex":
        return cls(root=str(root), model_id=model_id, score_threshold=score_threshold, frame_stride=frame_stride,
                   features=np.zeros((0, feature_dim), feature_dtype), boxes=np.zeros((0, 4), np.float32),
                   scores=np.zeros(0, np.float32), image_index=np.zeros(0, np.int64), images=[],
                   factory=factory, nprobe=nprobe)

    @property
    def num_detections(self) -> int:
        return len(self.features)

    @property
    def feature_dim(self) -> int:
        return self.features.shape[1]

    def location(self, image_position: int) -> str:
        """Where picture `image_position` can be re-opened (see `personsearch.media.open_images`)."""
        return str(Path(self.root) / self.images[image_position].name)

    # -- entries -------------------------------------------------------------------------

    def positions_of(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Positions of entry ids in the arrays; KeyError naming an unknown id."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        positions = np.searchsorted(self.ids, ids)
        known = positions < len(self.ids)
        known[known] = self.ids[positions[known]] == ids[known]
        if not known.all():
            raise KeyError(f"no entry with id {int(ids[np.argmin(known)])} in the gallery index")
        return positions

    def record(self, entry_id: int) -> Entry:
        position = int(self.positions_of([entry_id])[0])
        picture = self.images[int(self.image_index[position])]
        video, frame = split_picture_name(picture.name)
        fps = self.video_fps.get(video) if video is not None else None
        return Entry(id=int(entry_id), picture=picture.name, location=str(Path(self.root) / picture.name),
                     video=video, frame=frame, time_s=frame / fps if fps else None,
                     box=tuple(float(v) for v in self.boxes[position]), score=float(self.scores[position]))

    # -- incremental changes ---------------------------------------------------------------

    def add_pictures(self, found: Sequence[PictureDetections]) -> np.ndarray:
        """Append pictures and their boxes (a picture already indexed is replaced); returns the new ids."""
        self.remove_pictures([item.image.name for item in found])
        counts = [len(item.scores) for item in found]
        total = int(sum(counts))
        new_ids = np.arange(self.next_id, self.next_id + total, dtype=np.int64)
        if not found:
            return new_ids
        dim = self.feature_dim if self.num_detections else found[0].features.shape[1]
        for item in found:
            if item.features.ndim != 2 or item.features.shape[1] != dim:
                raise ValueError(f"{item.image.name}: features of shape {item.features.shape}, the index holds "
                                 f"dimension {dim}")
        features = np.concatenate([self.features.reshape(-1, dim)] + [item.features.reshape(-1, dim) for item in found])
        self.features = features.astype(self.features.dtype)
        self.boxes = np.concatenate([self.boxes] + [np.asarray(item.boxes, np.float32).reshape(-1, 4) for item in found])
        self.scores = np.concatenate([self.scores] + [np.asarray(item.scores, np.float32) for item in found])
        first = len(self.images)
        self.image_index = np.concatenate(
            [self.image_index] + [np.full(n, first + i, np.int64) for i, n in enumerate(counts)])
        self.images = self.images + [item.image for item in found]
        self.ids = np.concatenate([self.ids, new_ids])
        self.next_id += total
        if self._vectors is not None and total:
            if self._vectors.suits(self.num_detections) or self.factory is not None:
                self._vectors.add(self.features[-total:].astype(np.float32), new_ids)
            else:
                self._vectors = None  # rebuilt with a factory fitting the new size on next use
        return new_ids

    def remove_pictures(self, names: Iterable[str]) -> int:
        """Drop pictures by name; a video's name drops all its frames. Returns the entries removed."""
        names = set(names)
        if not names:
            return 0
        drop_picture = np.array([image.name in names or split_picture_name(image.name)[0] in names
                                 for image in self.images], dtype=bool)
        if not drop_picture.any():
            return 0
        drop = drop_picture[self.image_index] if self.num_detections else np.zeros(0, bool)
        removed_ids = self.ids[drop]
        new_position = np.cumsum(~drop_picture) - 1
        keep = ~drop
        self.features, self.boxes, self.scores = self.features[keep], self.boxes[keep], self.scores[keep]
        self.image_index = new_position[self.image_index[keep]]
        self.ids = self.ids[keep]
        self.images = [image for image, dropped in zip(self.images, drop_picture) if not dropped]
        if self._vectors is not None:
            if self._vectors.suits(self.num_detections) or self.factory is not None:
                self._vectors.remove(removed_ids)
            else:
                self._vectors = None
        return int(drop.sum())

    # -- search ---------------------------------------------------------------------------

    @property
    def vectors(self) -> VectorIndex:
        """The faiss index over the features, built on first use."""
        if self._vectors is None:
            factory = self.factory or choose_factory(self.num_detections)
            self._vectors = VectorIndex.build(self.features.astype(np.float32), self.ids, factory=factory,
                                              nprobe=self.nprobe)
        return self._vectors

    @property
    def exact(self) -> bool:
        """Whether searches compare the query with every entry (else with the nprobe nearest IVF lists)."""
        factory = self._vectors.factory if self._vectors is not None else self.factory or choose_factory(self.num_detections)
        return lists_of(factory) is None

    def nearest(self, queries: np.ndarray, k: int, *, weight_by_detection: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(scores (Q, k'), positions (Q, k')) of the best entries for each (D,) query, best first.

        k' = min(k, entries). Ties keep index order. An approximate index proposes
        `CANDIDATES_PER_RESULT` x k candidates, re-scored with the stored features. With
        `weight_by_detection` the similarity is multiplied by the detection score (candidates
        re-ranked: all entries for exact indexes).
        """
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if queries.shape[1] != self.feature_dim:
            raise ValueError(
                f"query feature has dimension {queries.shape[1]}, the index {self.feature_dim}: "
                "was the index built with another model?"
            )
        count = self.num_detections
        k = min(int(k), count)
        if k == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        exact = self.exact
        wanted = k if exact else min(count, max(CANDIDATES_PER_RESULT * k, MIN_CANDIDATES))
        if weight_by_detection and exact:
            wanted = count
        similarity, ids = self.vectors.search(queries, wanted)
        scores_out = np.zeros((len(queries), k), np.float32)
        positions_out = np.zeros((len(queries), k), np.int64)
        for row, query in enumerate(queries):
            valid = ids[row] >= 0
            positions = np.searchsorted(self.ids, ids[row][valid])
            scores = similarity[row][valid] if exact else self.features[positions].astype(np.float32) @ query
            if weight_by_detection:
                scores = scores * self.scores[positions]
            order = np.lexsort((positions, -scores))[:k]
            if len(order) < k:
                raise ValueError(f"the vector index returned {len(order)} results for {k} wanted: "
                                 "raise nprobe or rebuild the index")
            scores_out[row], positions_out[row] = scores[order], positions[order]
        return scores_out, positions_out

    # -- files ----------------------------------------------------------------------------

    def metadata(self) -> dict:
        vectors = self._vectors
        return {
            "format_version": FORMAT_VERSION,
            "model_id": self.model_id,
            "root": self.root,
            "score_threshold": self.score_threshold,
            "frame_stride": self.frame_stride,
            "images": [asdict(image) for image in self.images],
            "skipped": [asdict(item) for item in self.skipped],
            "stats": self.stats,
            "next_id": self.next_id,
            "video_fps": self.video_fps,
            "factory": self.factory,
            "nprobe": self.nprobe,
            "vector_factory": vectors.factory if vectors is not None else None,
            "vector_nprobe": vectors.nprobe if vectors is not None else None,
        }

    def save(self, path: str | Path) -> Path:
        """Write atomically; approximate faiss indexes are stored (their training is not redone on load)."""
        path = Path(path)
        approximate = self.num_detections > 0 and not self.exact
        arrays = {
            "features": self.features,
            "boxes": self.boxes.astype(np.float32),
            "scores": self.scores.astype(np.float32),
            "image_index": self.image_index.astype(np.int64),
            "ids": self.ids.astype(np.int64),
            "vectors": self.vectors.to_bytes() if approximate else np.zeros(0, np.uint8),
            "metadata": np.array(json.dumps(self.metadata())),
        }
        atomic_savez(path, checksum=np.array(_checksum(arrays)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path, model_id: str | None = None) -> "GalleryIndex":
        """Read an index; refuse a corrupt one and, with `model_id`, one built by a different model."""
        path = Path(path)
        names = ("features", "boxes", "scores", "image_index", "ids", "vectors", "metadata")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["metadata"]))
                version = meta.get("format_version") if isinstance(meta, dict) else None
                if version != FORMAT_VERSION:
                    raise IndexFormatError(
                        f"{path}: index format version {version} is not supported (this personsearch reads "
                        f"version {FORMAT_VERSION}); delete the file and index the gallery again"
                    )
                arrays = {key: data[key] for key in names}
                stored_checksum = str(data["checksum"])
        except FileNotFoundError:
            raise
        except IndexFormatError:
            raise
        except json.JSONDecodeError as exc:
            raise IndexFormatError(f"{path}: index metadata is not valid JSON ({exc})") from None
        except zipfile.BadZipFile as exc:
            raise IndexCorruptError(f"{path}: the index file is corrupt ({exc}); index the gallery again") from None
        except (OSError, KeyError, ValueError, EOFError) as exc:
            raise IndexFormatError(f"{path}: not a personsearch gallery index ({exc})") from None
        if _checksum(arrays) != stored_checksum:
            raise IndexCorruptError(
                f"{path}: the index file is corrupt (its checksum does not match its contents); "
                "index the gallery again"
            )
        if model_id is not None and meta["model_id"] != model_id:
            raise IndexModelMismatchError(
                f"{path}: index was built with model {meta['model_id']}, not with the current model "
                f"{model_id}; index the gallery again with this model or pass the matching checkpoint"
            )
        index = cls(
            root=meta["root"],
            model_id=meta["model_id"],
            score_threshold=float(meta["score_threshold"]),
            frame_stride=int(meta["frame_stride"]),
            features=arrays["features"],
            boxes=arrays["boxes"],
            scores=arrays["scores"],
            image_index=arrays["image_index"],
            images=[IndexedImage(**image) for image in meta["images"]],
            skipped=[SkippedImage(**item) for item in meta["skipped"]],
            stats=dict(meta.get("stats", {})),
            ids=arrays["ids"],
            next_id=int(meta["next_id"]),
            video_fps={str(k): float(v) for k, v in meta.get("video_fps", {}).items()},
            factory=meta.get("factory"),
            nprobe=meta.get("nprobe"),
        )
        if len(arrays["vectors"]):
            index._vectors = VectorIndex.from_bytes(arrays["vectors"], factory=meta["vector_factory"],
                                                    nprobe=int(meta["vector_nprobe"]))
            if index._vectors.count != index.num_detections:
                raise IndexCorruptError(f"{path}: the vector index holds {index._vectors.count} vectors for "
                                        f"{index.num_detections} entries; index the gallery again")
        return index

