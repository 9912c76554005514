"""The gallery index on disk: detections, features and the pictures they came from, in one file.

One `.npz` file, written atomically, holds the arrays
- `features` (M, D) float16 or float32, L2-normalised person embeddings,
- `boxes` (M, 4) float32 x1, y1, x2, y2 in scene pixels,
- `scores` (M,) float32 detection scores,
- `image_index` (M,) int64 position of each detection's picture in `images`,
and `metadata`, a JSON string: format version, model identity, gallery root,
score threshold, frame stride, the pictures (name, size, mtime, width, height)
and the pictures skipped as unreadable with the reason.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from personsearch.utils.atomic import atomic_savez

FORMAT_VERSION = 1
FEATURE_DTYPES = ("float16", "float32")


class IndexFormatError(ValueError):
    pass


class IndexModelMismatchError(ValueError):
    pass


@dataclass(frozen=True)
class IndexedImage:
    name: str  # relative to the gallery root; video frames are "video.avi#frame000123"
    size: int
    mtime_ns: int
    width: int
    height: int


@dataclass(frozen=True)
class SkippedImage:
    name: str
    reason: str


@dataclass
class GalleryIndex:
    root: str
    model_id: str
    score_threshold: float
    frame_stride: int
    features: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    image_index: np.ndarray
    images: list[IndexedImage]
    skipped: list[SkippedImage] = field(default_factory=list)
    # How the last build went: {"processed": n, "reused": n, "skipped": n}.
    stats: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        count = len(self.features)
        if self.features.ndim != 2 or self.boxes.shape != (count, 4) or self.scores.shape != (count,):
            raise IndexFormatError(
                f"inconsistent index arrays: features {self.features.shape}, boxes {self.boxes.shape}, "
                f"scores {self.scores.shape}"
            )
        if self.image_index.shape != (count,) or (count and not 0 <= self.image_index.min() <= self.image_index.max() < len(self.images)):
            raise IndexFormatError("index image_index does not match its image list")
        if self.features.dtype.name not in FEATURE_DTYPES:
            raise IndexFormatError(f"feature dtype must be one of {FEATURE_DTYPES}, got {self.features.dtype}")

    @property
    def num_detections(self) -> int:
        return len(self.features)

    @property
    def feature_dim(self) -> int:
        return self.features.shape[1]

    def location(self, image_position: int) -> str:
        """Where picture `image_position` can be re-opened (see `personsearch.media.open_images`)."""
        return str(Path(self.root) / self.images[image_position].name)

    def metadata(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "model_id": self.model_id,
            "root": self.root,
            "score_threshold": self.score_threshold,
            "frame_stride": self.frame_stride,
            "images": [asdict(image) for image in self.images],
            "skipped": [asdict(item) for item in self.skipped],
            "stats": self.stats,
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        atomic_savez(
            path,
            features=self.features,
            boxes=self.boxes.astype(np.float32),
            scores=self.scores.astype(np.float32),
            image_index=self.image_index.astype(np.int64),
            metadata=np.array(json.dumps(self.metadata())),
        )
        return path

    @classmethod
    def load(cls, path: str | Path, model_id: str | None = None) -> "GalleryIndex":
        """Read an index; with `model_id`, refuse one built by a different model."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in ("features", "boxes", "scores", "image_index", "metadata")}
        except FileNotFoundError:
            raise
        except (OSError, KeyError, ValueError) as exc:
            raise IndexFormatError(f"{path}: not a personsearch gallery index ({exc})") from None
        try:
            meta = json.loads(str(arrays["metadata"]))
        except json.JSONDecodeError as exc:
            raise IndexFormatError(f"{path}: index metadata is not valid JSON ({exc})") from None
        version = meta.get("format_version") if isinstance(meta, dict) else None
        if version != FORMAT_VERSION:
            raise IndexFormatError(
                f"{path}: index format version {version} is not supported (this personsearch reads "
                f"version {FORMAT_VERSION}); delete the file and index the gallery again"
            )
        if model_id is not None and meta["model_id"] != model_id:
            raise IndexModelMismatchError(
                f"{path}: index was built with model {meta['model_id']}, not with the current model "
                f"{model_id}; index the gallery again with this model or pass the matching checkpoint"
            )
        return cls(
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
        )
