"""Ranking a gallery index against one query feature, and checking query boxes."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from personsearch.index.gallery_index import GalleryIndex


@dataclass(frozen=True)
class Hit:
    """One ranked detection: `image` re-opens with `personsearch.media.open_images`."""

    image: str
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in scene pixels
    score: float  # cosine similarity to the query (times detection_score when confidence-weighted)
    detection_score: float
    rank: int  # 1 = best
    entry_id: int = -1  # the entry's id in the gallery index (GalleryIndex.record)
    frame: int | None = None  # for video frames: the frame number
    time_s: float | None = None  # for video frames: seconds from the start, when the frame rate is known


def validate_box(box, width: int, height: int) -> tuple[float, float, float, float]:
    """The box as four floats; ValueError if it is malformed, degenerate or outside the image."""
    try:
        x1, y1, x2, y2 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f"query box must be four numbers x1, y1, x2, y2, got {box!r}") from None
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise ValueError(f"query box has non-finite coordinates: {box!r}")
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"query box {box!r} is degenerate: need x2 > x1 and y2 > y1")
    if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
        raise ValueError(f"query box {box!r} lies outside the query image ({width}x{height} pixels)")
    return x1, y1, x2, y2


def search_index(
    index: GalleryIndex,
    query_feature: np.ndarray,
    *,
    top_k: int = 10,
    weight_by_detection: bool = False,
) -> list[Hit]:
    """The `top_k` gallery detections by cosine similarity to an L2-normalised (D,) query feature.

    With `weight_by_detection`, similarities are multiplied by detection scores so that
    confident detections rank above doubtful ones of similar appearance. Ties keep index order.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    query_feature = np.asarray(query_feature, dtype=np.float32).reshape(-1)
    if index.num_detections == 0:
        return []
    scores, positions = index.nearest(query_feature[None], top_k, weight_by_detection=weight_by_detection)
    hits = []
    for rank, (score, position) in enumerate(zip(scores[0], positions[0]), start=1):
        entry = index.record(int(index.ids[position]))
        hits.append(Hit(image=entry.location, box=entry.box, score=float(score), detection_score=entry.score,
                        rank=rank, entry_id=entry.id, frame=entry.frame, time_s=entry.time_s))
    return hits
