"""Text-to-image retrieval metrics (CUHK-PEDES, ICFG-PEDES, RSTPReid protocol).

Each query (caption) ranks the whole gallery by similarity, highest first; ties keep the
gallery order (stable sort), so results are deterministic. `match` = same identity.
- Rank-k: share of queries with a match in the top k.
- AP: sum over ranks r holding a match of (matches up to r) / r, divided by the number of
  relevant gallery items (no interpolation); mAP = mean.
- INP: (number of relevant items) / (rank of the last relevant item); mINP = mean.
All reported in percent. Queries without any relevant gallery item are left out of every
mean and counted in `num_skipped`.
"""

from __future__ import annotations

import numpy as np

DEFAULT_RANKS = (1, 5, 10)


def text_retrieval_metrics(sim: np.ndarray, query_ids: np.ndarray, gallery_ids: np.ndarray,
                           ranks: tuple[int, ...] = DEFAULT_RANKS,
                           chunk_size: int = 1024) -> dict[str, float | int]:
    """sim (Q, G) query-to-gallery similarity; ids (Q,) and (G,). Returns R{k}, mAP, mINP (%),
    num_queries (queries scored) and num_skipped (queries with no relevant item)."""
    sim = np.asarray(sim)
    query_ids = np.asarray(query_ids).ravel()
    gallery_ids = np.asarray(gallery_ids).ravel()
    if sim.ndim != 2 or sim.shape != (len(query_ids), len(gallery_ids)):
        raise ValueError(f"sim must have shape (len(query_ids), len(gallery_ids)) = "
                         f"({len(query_ids)}, {len(gallery_ids)}), got {sim.shape}")
    ranks = tuple(int(k) for k in ranks)
    hit_sums = np.zeros(len(ranks))
    ap_sum = inp_sum = 0.0
    scored = 0
    positions = np.arange(1, sim.shape[1] + 1)
    for c0 in range(0, len(query_ids), chunk_size):
        order = np.argsort(-sim[c0:c0 + chunk_size], axis=1, kind="stable")
        matches = gallery_ids[order] == query_ids[c0:c0 + chunk_size, None]
        num_rel = matches.sum(axis=1)
        valid = num_rel > 0
        matches, num_rel = matches[valid], num_rel[valid]
        scored += int(valid.sum())
        for j, k in enumerate(ranks):
            hit_sums[j] += matches[:, :k].any(axis=1).sum()
        cum = np.cumsum(matches, axis=1)
        ap_sum += float(np.sum(np.sum(np.where(matches, cum / positions, 0.0), axis=1) / num_rel))
        last = sim.shape[1] - np.argmax(matches[:, ::-1], axis=1)  # 1-based rank of the last match
        inp_sum += float(np.sum(num_rel / last))
    denom = max(scored, 1)
    out: dict[str, float | int] = {f"R{k}": 100.0 * hit_sums[j] / denom for j, k in enumerate(ranks)}
    out["mAP"] = 100.0 * ap_sum / denom
    out["mINP"] = 100.0 * inp_sum / denom
    out["num_queries"] = scored
    out["num_skipped"] = len(query_ids) - scored
    return out


class TextRetrievalEvaluator:
    """Collects query and gallery features batch by batch; `evaluate` scores them.

    Features should be L2-normalised: similarity is their dot product.
    """

    def __init__(self, ranks: tuple[int, ...] = DEFAULT_RANKS) -> None:
        self.ranks = ranks
        self.reset()

    def reset(self) -> None:
        self._queries: list[np.ndarray] = []
        self._query_ids: list[np.ndarray] = []
        self._gallery: list[np.ndarray] = []
        self._gallery_ids: list[np.ndarray] = []

    def process(self, *, query_feats=None, query_ids=None, gallery_feats=None, gallery_ids=None) -> None:
        """Add a batch of text queries and/or gallery images with their identities."""
        for feats, ids, feat_list, id_list, what in (
            (query_feats, query_ids, self._queries, self._query_ids, "query"),
            (gallery_feats, gallery_ids, self._gallery, self._gallery_ids, "gallery"),
        ):
            if (feats is None) != (ids is None):
                raise ValueError(f"{what}_feats and {what}_ids must be given together")
            if feats is None:
                continue
            feats = np.asarray(feats, dtype=np.float32)
            ids = np.asarray(ids).ravel()
            if feats.ndim != 2 or len(feats) != len(ids):
                raise ValueError(f"{what}_feats must be (N, D) with one id per row, got "
                                 f"{feats.shape} and {ids.shape}")
            feat_list.append(feats)
            id_list.append(ids)

    def evaluate(self) -> dict[str, float | int]:
        if not self._queries or not self._gallery:
            raise ValueError("nothing to evaluate: process query and gallery features first")
        queries, gallery = np.concatenate(self._queries), np.concatenate(self._gallery)
        if queries.shape[1] != gallery.shape[1]:
            raise ValueError(f"query features are {queries.shape[1]}-d, gallery features "
                             f"{gallery.shape[1]}-d")
        return text_retrieval_metrics(queries @ gallery.T, np.concatenate(self._query_ids),
                                      np.concatenate(self._gallery_ids), self.ranks)
