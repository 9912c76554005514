"""Scene search evaluation of a model's outputs against a dataset: the function behind
`personsearch eval-results` and an evaluator object (reset / process / evaluate) for
evaluation loops that see one image at a time.

Reported (percent): mAP, top1, top5, top10, num_queries (scored), num_skipped (no
ground truth in the gallery); det_ap and det_recall when the gallery has annotated boxes.
det_ap follows SeqNet's reported figure (detections with score >= 0.01, "all"); det_recall
is measured at the search threshold (det_thresh, 0.5), i.e. on the detections searched.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

from personsearch.data.records import SceneSearchData
from personsearch.evaluation.cbgm import CBGM
from personsearch.evaluation.detection import detection_metrics
from personsearch.evaluation.detections import GalleryDetections, QueryDetections
from personsearch.evaluation.results_file import SearchResults, check_against_dataset
from personsearch.evaluation.scene_search import scene_search_metrics
from personsearch.evaluation.search_truth import build_search_truth

DET_AP_THRESH = 0.01


def evaluate_search_results(results: SearchResults, data: SceneSearchData, *, cross_camera: bool = False,
                            det_thresh: float = 0.5, weight_by_score: bool = False,
                            cbgm: CBGM | None = None, source: str = "results") -> dict[str, Any]:
    check_against_dataset(results, data, source)
    gallery = results.gallery
    truth = build_search_truth(data, gallery.names, cross_camera=cross_camera)
    metrics = scene_search_metrics(results.query_feats, gallery, truth, det_thresh=det_thresh,
                                   weight_by_score=weight_by_score, cbgm=cbgm,
                                   query_dets=results.query_dets)
    report: dict[str, Any] = metrics.summary()
    records = {r.name: r for r in data.gallery}
    gt_boxes = [np.asarray(records[str(n)].boxes, dtype=np.float64).reshape(-1, 4) for n in gallery.names]
    gt_ptr = np.concatenate([[0], np.cumsum([len(b) for b in gt_boxes])])
    if gt_ptr[-1] > 0:
        boxes = np.concatenate(gt_boxes)
        args = (gt_ptr, boxes, gallery.image_index, gallery.boxes, gallery.scores)
        report["det_ap"] = 100.0 * detection_metrics(*args, det_thresh=DET_AP_THRESH).ap
        report["det_recall"] = 100.0 * detection_metrics(*args, det_thresh=det_thresh).recall
    return report


class SceneSearchEvaluator:
    """Collects per-image model outputs, then scores them like `evaluate_search_results`.

    `process` takes dicts (numpy arrays or CPU tensors):
    - a gallery image: {"image_name": str, "boxes": (N, 4), "scores": (N,), "embeddings": (N, D)};
    - a query: {"query_index": int (position in data.queries), "query_embedding": (D,)}, plus,
      for CBGM, the detections of the query image as "boxes", "scores", "embeddings".
    """

    def __init__(self, data: SceneSearchData, *, cross_camera: bool = False, det_thresh: float = 0.5,
                 weight_by_score: bool = False, cbgm: CBGM | None = None) -> None:
        self.data = data
        self.options = dict(cross_camera=cross_camera, det_thresh=det_thresh,
                            weight_by_score=weight_by_score, cbgm=cbgm)
        self.reset()

    def reset(self) -> None:
        self._gallery: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._queries: dict[int, np.ndarray] = {}
        self._query_dets: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def process(self, outputs: Iterable[Mapping[str, Any]]) -> None:
        for out in outputs:
            if "image_name" in out:
                self._gallery[str(out["image_name"])] = _detections(out)
            elif "query_index" in out:
                q = int(out["query_index"])
                self._queries[q] = np.asarray(out["query_embedding"], dtype=np.float32).ravel()
                if "boxes" in out:
                    self._query_dets[q] = _detections(out)
            else:
                raise ValueError("each output needs an 'image_name' (gallery) or a 'query_index' (query)")

    def evaluate(self) -> dict[str, Any]:
        num_queries = len(self.data.queries)
        missing = sorted(set(range(num_queries)) - set(self._queries))
        if missing:
            raise ValueError(f"{len(missing)} queries were not processed, e.g. {missing[:3]}")
        names = np.array(sorted(self._gallery), dtype=str)
        gallery = GalleryDetections(names, *_flatten([self._gallery[n] for n in names]))
        query_feats = np.stack([self._queries[q] for q in range(num_queries)])
        query_dets = None
        if self._query_dets:
            query_dets = QueryDetections(*_flatten([self._query_dets.get(q) for q in range(num_queries)]))
        results = SearchResults(gallery, query_feats, query_dets)
        results.check()
        return evaluate_search_results(results, self.data, source="evaluator", **self.options)


def _detections(out: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    boxes = np.asarray(out["boxes"], dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(out["scores"], dtype=np.float32).ravel()
    feats = np.asarray(out["embeddings"], dtype=np.float32)
    feats = feats.reshape(len(boxes), -1) if feats.size else np.zeros((len(boxes), 0), np.float32)
    return boxes, scores, feats


def _flatten(per_image: list) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(image_index, boxes, scores, feats) flat arrays from per-image triples (None = no detections)."""
    present = [(i, d) for i, d in enumerate(per_image) if d is not None and len(d[0])]
    if not present:
        raise ValueError("no detections were processed")
    index = np.concatenate([np.full(len(d[0]), i, dtype=np.int64) for i, d in present])
    return (index, *(np.concatenate([d[k] for _, d in present]) for k in range(3)))
