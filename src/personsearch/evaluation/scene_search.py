"""Scene person search metrics (CUHK-SYSU and PRW protocols), vectorised.

For each query: similarity = dot product of the query feature and every kept gallery
detection (score >= det_thresh); with weight_by_score the gallery features are first
multiplied by their detection scores (SeqNet's confidence-weighted similarity, so CBGM
also picks its images and builds its graphs on the weighted similarities). In each
gallery image holding the person, the detection of highest similarity among those with
IoU >= min(0.5, w*h/((w+10)*(h+10))) with the gt box is the one true positive (ties: the
detection listed first). AP = sklearn-style AP over the query's gallery detections times
n_tp / count_gt, 0 without a true positive. top-k = a true positive among the k most
similar detections; tied similarities rank against the query (a true positive tied with a
negative at rank k is not in the top k), as in the AP, which counts tied items together.
Queries whose gallery holds no ground truth (count_gt == 0) are skipped and counted.

One matrix product per chunk of queries gives all similarities; true positives are found
for a whole chunk at once from the detections of the ground-truth images only; AP needs,
per true positive, only the count of gallery detections at least as similar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from personsearch.evaluation.boxes import paired_iou, search_iou_threshold
from personsearch.evaluation.cbgm import CBGM, cbgm_rerank
from personsearch.evaluation.detections import GalleryDetections, QueryDetections, check_query_feats
from personsearch.evaluation.search_truth import SearchTruth
from personsearch.evaluation.segments import expand_ranges, first_of_each_group, group_pointers

DEFAULT_TOPK = (1, 5, 10)


@dataclass(frozen=True)
class SearchMetrics:
    """Per-query results; `ap` is a fraction, NaN for skipped queries."""

    ap: np.ndarray  # (Q,)
    hits: np.ndarray  # (Q, len(topk)) bool
    count_gt: np.ndarray  # (Q,)
    num_tp: np.ndarray  # (Q,)
    topk: tuple[int, ...]

    @property
    def evaluated(self) -> np.ndarray:
        return self.count_gt > 0

    def summary(self) -> dict[str, float | int]:
        """mAP and top-k in percent over the evaluated queries, and the query counts."""
        done = self.evaluated
        n = int(done.sum())
        out: dict[str, float | int] = {"mAP": 100.0 * float(self.ap[done].mean()) if n else 0.0}
        for j, k in enumerate(self.topk):
            out[f"top{k}"] = 100.0 * float(self.hits[done, j].mean()) if n else 0.0
        out["num_queries"] = n
        out["num_skipped"] = int(len(done) - n)
        return out


def scene_search_metrics(
    query_feats: np.ndarray,
    gallery: GalleryDetections,
    truth: SearchTruth,
    *,
    det_thresh: float = 0.5,
    weight_by_score: bool = False,
    topk: tuple[int, ...] = DEFAULT_TOPK,
    cbgm: CBGM | None = None,
    query_dets: QueryDetections | None = None,
    chunk_size: int = 256,
) -> SearchMetrics:
    """Score every query (rows of query_feats, in the order of `truth`) against `gallery`."""
    num_queries, num_images = truth.gallery_mask.shape
    check_query_feats(query_feats, gallery.dim)
    if len(query_feats) != num_queries or len(gallery.names) != num_images:
        raise ValueError(f"query_feats has {len(query_feats)} rows and the gallery {len(gallery.names)} "
                         f"images; the ground truth expects {num_queries} and {num_images}")
    if cbgm is not None and query_dets is None:
        raise ValueError("CBGM needs the detections of the query images (query_det_* arrays)")

    kept = np.flatnonzero(gallery.scores >= det_thresh)
    kept = kept[np.argsort(gallery.image_index[kept], kind="stable")]
    det_image = gallery.image_index[kept].astype(np.int64)
    det_boxes = gallery.boxes[kept]
    det_scores = gallery.scores[kept].astype(np.float32)
    det_feats = np.ascontiguousarray(gallery.feats[kept], dtype=np.float32)
    if weight_by_score:
        det_feats = det_feats * det_scores[:, None]
    image_ptr = group_pointers(det_image, num_images)
    qfeats = np.asarray(query_feats, dtype=np.float32)
    nodes = _cbgm_nodes(qfeats, query_dets, cbgm.k2) if cbgm is not None else None
    thresholds = search_iou_threshold(truth.gt_box)
    count_gt = truth.count_gt

    ap = np.full(num_queries, np.nan)
    hits = np.zeros((num_queries, len(topk)), dtype=bool)
    num_tp = np.zeros(num_queries, dtype=np.int64)
    ks = np.asarray(topk)
    for c0 in range(0, num_queries, chunk_size):
        c1 = min(c0 + chunk_size, num_queries)
        sims = qfeats[c0:c1] @ det_feats.T
        _mask_outside_gallery(sims, ~truth.gallery_mask[c0:c1], det_image, image_ptr)
        if nodes is not None:
            for i in range(c1 - c0):
                sims[i] = cbgm_rerank(sims[i], det_image, image_ptr, det_feats, nodes[c0 + i], cbgm.k1)
        tp_query, tp_sim = _true_positives(sims, c0, truth, image_ptr, det_boxes, thresholds)
        tp_ptr = group_pointers(tp_query, c1 - c0)
        for i in range(c1 - c0):
            q = c0 + i
            if count_gt[q] == 0:
                continue
            t = np.sort(tp_sim[tp_ptr[i]:tp_ptr[i + 1]])  # ascending
            num_tp[q] = len(t)
            if len(t) == 0:
                ap[q] = 0.0
                continue
            row = sims[i]
            above = np.sort(row[row >= t[0]])
            n_ge = len(above) - np.searchsorted(above, t, side="left")
            tp_ge = len(t) - np.searchsorted(t, t, side="left")
            ap[q] = float(np.sum(tp_ge / n_ge)) / count_gt[q]
            hits[q] = n_ge[-1] <= ks
    return SearchMetrics(ap=ap, hits=hits, count_gt=count_gt, num_tp=num_tp, topk=tuple(topk))


def _mask_outside_gallery(sims, outside, det_image, image_ptr):
    """-inf for each query's detections in images outside its gallery (outside: (Q, images) bool).

    PRW-style galleries leave out few images (the query's own, or its camera's): those
    detections are set directly; CUHK-SYSU-style galleries leave out most, masked densely.
    """
    query, image = np.nonzero(outside)
    if len(query) * 8 > outside.size:
        np.putmask(sims, outside[:, det_image], -np.inf)
        return
    lengths = image_ptr[image + 1] - image_ptr[image]
    columns, owner = expand_ranges(image_ptr[image], lengths)
    sims[query[owner], columns] = -np.inf


def _true_positives(sims, c0, truth, image_ptr, det_boxes, thresholds):
    """(local query index, similarity) of every true positive of the chunk starting at c0."""
    r0, r1 = truth.gt_ptr[c0], truth.gt_ptr[c0 + len(sims)]
    gt_query = np.repeat(np.arange(len(sims)), truth.count_gt[c0:c0 + len(sims)])
    gt_image = truth.gt_image[r0:r1]
    det, gt = expand_ranges(image_ptr[gt_image], image_ptr[gt_image + 1] - image_ptr[gt_image])
    hit = paired_iou(det_boxes[det], truth.gt_box[r0:r1][gt]) >= thresholds[r0:r1][gt]
    det, gt = det[hit], gt[hit]
    sim = sims[gt_query[gt], det]
    order = np.lexsort((det, -sim, gt))
    first = order[first_of_each_group(gt[order])]
    return gt_query[gt[first]], sim[first]


def _cbgm_nodes(qfeats, query_dets, k2) -> list[np.ndarray]:
    """Per query: its feature, then the first k2 - 1 detections of its image in the order given.

    As SeqNet's evaluation takes the first k2 rows of the query image's detections (the
    query box, then the detector's output in its own order, highest score first); no score
    threshold is applied here, the detector's own threshold applied when they were made.
    """
    query_dets.check(len(qfeats), qfeats.shape[1])
    keep = np.argsort(query_dets.image_index, kind="stable")
    ptr = group_pointers(query_dets.image_index[keep], len(qfeats))
    feats = np.asarray(query_dets.feats, dtype=np.float32)
    return [np.vstack([qfeats[q:q + 1], feats[keep[ptr[q]:min(ptr[q + 1], ptr[q] + k2 - 1)]]])
            for q in range(len(qfeats))]
