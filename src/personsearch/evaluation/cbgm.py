"""Context bipartite graph matching (CBGM), SeqNet's test-time re-ranking.

For the gallery images owning the k1 detections most similar to the query, the query
person plus up to k2 - 1 context people of the query image (the first ones the detector
returned, i.e. the highest scores) are matched to the image's detections with
Kuhn-Munkres on feature dot products (maximum total weight). If the query is matched to
detection j, j's similarity becomes the largest weight among the matched edges. As in
SeqNet the k1 images are those of the k1 best detections (so at most k1 images); with
confidence weighting the gallery features arrive already multiplied by their scores, so
the k1 images and the graph weights are SeqNet's weighted similarities, while the query
image's people stay unweighted (SeqNet does not weight the query image's detections).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CBGM:
    k1: int  # images of the k1 most similar detections are re-ranked
    k2: int  # graph nodes on the query side: the query person and k2 - 1 context people

    def __post_init__(self) -> None:
        if self.k1 < 1 or self.k2 < 1:
            raise ValueError(f"CBGM needs k1 >= 1 and k2 >= 1, got k1={self.k1}, k2={self.k2}")


CBGM_PRESETS = {"cuhk-sysu": CBGM(k1=10, k2=3), "prw": CBGM(k1=30, k2=4)}


def cbgm_rerank(sims: np.ndarray, det_image: np.ndarray, image_ptr: np.ndarray,
                feats: np.ndarray, query_nodes: np.ndarray, k1: int) -> np.ndarray:
    """Re-ranked copy of `sims` (M,), one query's similarity to every detection.

    Detections are grouped by image: det_image (M,) is sorted and image g's detections are
    rows image_ptr[g]:image_ptr[g+1] of feats (M, D). Detections outside the query's gallery
    carry -inf and are never selected. query_nodes (n, D): row 0 is the query feature.
    """
    from scipy.optimize import linear_sum_assignment  # a third of a second to import: only when re-ranking

    out = np.array(sims, copy=True)
    gallery = np.flatnonzero(np.isfinite(out))
    if gallery.size > k1:
        gallery = gallery[np.argpartition(-out[gallery], k1 - 1)[:k1]]
    for g in np.unique(det_image[gallery]):
        lo, hi = image_ptr[g], image_ptr[g + 1]
        weights = query_nodes @ feats[lo:hi].T
        rows, cols = linear_sum_assignment(weights, maximize=True)
        if rows[0] == 0:  # rows come back sorted, so the query node, when matched, is first
            out[lo + cols[0]] = weights[rows, cols].max()
    return out
