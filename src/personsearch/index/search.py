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
    if query_feature.shape[0] != index.feature_dim:
        raise ValueError(
            f"query feature has dimension {query_feature.shape[0]}, the index {index.feature_dim}: "
            "was the index built with another model?"
        )
    similarity = index.features.astype(np.float32) @ query_feature
    if weight_by_detection:
        similarity = similarity * index.scores
    order = np.argsort(-similarity, kind="stable")[:top_k]
    return [
        Hit(
            image=index.location(int(index.image_index[i])),
            box=tuple(float(v) for v in index.boxes[i]),
            score=float(similarity[i]),
            detection_score=float(index.scores[i]),
            rank=rank,
        )
        for rank, i in enumerate(order, start=1)
    ]
