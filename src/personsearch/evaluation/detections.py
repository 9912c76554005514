"""Flat-array containers for a model's outputs on the search gallery and on the query images.

Every gallery image is one entry of `names`; its detections are the rows of the `det_*`
arrays whose `image_index` points at it (an image may have no rows). Query images (used by
CBGM only) are indexed by query position in the dataset's query order.
Validation raises ValueError naming the array and the problem; callers add the file name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _check_float(name: str, array: np.ndarray, shape: tuple[int | None, ...]) -> None:
    if array.dtype.kind != "f":
        raise ValueError(f"{name}: expected a float array, got dtype {array.dtype}")
    if array.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, array.shape)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise ValueError(f"{name}: expected shape {want}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: contains NaN or infinite values")


def _check_index(name: str, array: np.ndarray, length: int, bound: int, bound_name: str) -> None:
    if array.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected an integer array, got dtype {array.dtype}")
    if array.shape != (length,):
        raise ValueError(f"{name}: expected shape ({length},), got {array.shape}")
    if length and (array.min() < 0 or array.max() >= bound):
        raise ValueError(f"{name}: values must lie in [0, {bound}) (the number of {bound_name})")


def _check_rows(prefix: str, index: np.ndarray, boxes: np.ndarray, scores: np.ndarray,
                feats: np.ndarray, bound: int, bound_name: str, dim: int | None) -> None:
    if index.ndim != 1:
        raise ValueError(f"{prefix}image_index: expected a 1-d array, got shape {index.shape}")
    n = len(index)
    _check_index(f"{prefix}image_index", index, n, bound, bound_name)
    _check_float(f"{prefix}boxes", boxes, (n, 4))
    _check_float(f"{prefix}scores", scores, (n,))
    _check_float(f"{prefix}feats", feats, (n, dim))


@dataclass(frozen=True)
class GalleryDetections:
    """Detections on the gallery images.

    names (G,) str; image_index (M,) int into names; boxes (M, 4) x1y1x2y2; scores (M,);
    feats (M, D), L2-normalised by the model (similarity is a plain dot product).
    """

    names: np.ndarray
    image_index: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    feats: np.ndarray

    def __post_init__(self) -> None:
        if self.names.dtype.kind != "U" or self.names.ndim != 1:
            raise ValueError(f"gallery_names: expected a 1-d str array, got dtype {self.names.dtype}, "
                             f"shape {self.names.shape}")
        unique, counts = np.unique(self.names, return_counts=True)
        if len(unique) != len(self.names):
            raise ValueError(f"gallery_names: duplicate names, e.g. {unique[counts > 1][0]!r}")
        _check_rows("det_", self.image_index, self.boxes, self.scores, self.feats,
                    len(self.names), "gallery images", None)

    @property
    def dim(self) -> int:
        return int(self.feats.shape[1])


@dataclass(frozen=True)
class QueryDetections:
    """Detections on the query images (context people for CBGM).

    image_index (K,) int: position of the query (in the dataset's query order) whose image
    holds the detection; boxes (K, 4); scores (K,); feats (K, D). They need not include the
    query person: the query feature itself is always the first node of the CBGM graph.
    """

    image_index: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    feats: np.ndarray

    def check(self, num_queries: int, dim: int) -> None:
        _check_rows("query_det_", self.image_index, self.boxes, self.scores, self.feats,
                    num_queries, "queries", dim)


def check_query_feats(query_feats: np.ndarray, dim: int) -> None:
    _check_float("query_feats", query_feats, (None, dim))
