"""Detection quality on the search gallery, as SeqNet's `eval_detection` measures it.

In each image every detection (score >= det_thresh) is compared with every ground-truth
box; a (gt, detection) pair matches when IoU >= iou_thresh, the gt is the detection's
highest-IoU gt and the detection is the gt's highest-IoU detection (ties: the first
listed). recall = matched gts / all gts (images without detections included); AP =
sklearn-style AP over (score, is-matched) of all kept detections times recall, 0 when
nothing matched. SeqNet reports both at det_thresh=0.01 ("all" detections); the search
protocol's own score threshold is 0.5, the default here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from personsearch.evaluation.average_precision import average_precision
from personsearch.evaluation.boxes import paired_iou
from personsearch.evaluation.segments import expand_ranges, first_of_each_group


@dataclass(frozen=True)
class DetectionMetrics:
    ap: float  # fraction
    recall: float  # fraction
    num_gt: int
    num_matched: int


def detection_metrics(gt_ptr: np.ndarray, gt_boxes: np.ndarray, det_image_index: np.ndarray,
                      det_boxes: np.ndarray, det_scores: np.ndarray, *, det_thresh: float = 0.5,
                      iou_thresh: float = 0.5) -> DetectionMetrics:
    """gt of image g: gt_boxes[gt_ptr[g]:gt_ptr[g+1]] (G+1 pointers); detections as flat arrays."""
    gt_ptr = np.asarray(gt_ptr, dtype=np.int64)
    num_images = len(gt_ptr) - 1
    num_gt = int(gt_ptr[-1])
    if num_gt == 0:
        raise ValueError("detection metrics need at least one ground-truth box")
    kept = np.flatnonzero(np.asarray(det_scores) >= det_thresh)
    kept = kept[np.argsort(np.asarray(det_image_index)[kept], kind="stable")]
    image = np.asarray(det_image_index, dtype=np.int64)[kept]
    scores = np.asarray(det_scores, dtype=np.float64)[kept]
    if len(kept) and (image.min() < 0 or image.max() >= num_images):
        raise ValueError(f"det_image_index must lie in [0, {num_images})")

    # every (gt, detection) pair of the same image, detection-major, gts in listed order
    gt, det = expand_ranges(gt_ptr[image], gt_ptr[image + 1] - gt_ptr[image])
    iou = paired_iou(np.asarray(det_boxes)[kept][det], np.asarray(gt_boxes)[gt])
    best_gt = _first_max(group=det, value=iou, tie=gt)
    best_det = _first_max(group=gt, value=iou, tie=det)
    matched = (iou >= iou_thresh) & best_gt & best_det
    is_tp = np.zeros(len(kept), dtype=bool)
    is_tp[det[matched]] = True
    num_matched = int(matched.sum())
    recall = num_matched / num_gt
    ap = average_precision(is_tp, scores) * recall if num_matched else 0.0
    return DetectionMetrics(ap=ap, recall=recall, num_gt=num_gt, num_matched=num_matched)


def _first_max(group: np.ndarray, value: np.ndarray, tie: np.ndarray) -> np.ndarray:
    """Mask of the pairs holding their group's largest value (smallest `tie` among equals)."""
    order = np.lexsort((tie, -value, group))
    mask = np.zeros(len(group), dtype=bool)
    mask[order[first_of_each_group(group[order])]] = True
    return mask

