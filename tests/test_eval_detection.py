"""Detection AP and recall (SeqNet's eval_detection rules) on a hand-computed case."""

import numpy as np
import pytest

from personsearch.evaluation import average_precision, detection_metrics, paired_iou


def hand_case():
    """I1: g1, g2; d1 (.9) = g1, d2 (.8) on g1 (g1 prefers d1), d3 (.7) IoU .4 with g2,
    d5 (.6) IoU .9 with g2, d4 (.3) far away. I2: g3, no detection (a miss).
    I3: h1, h2; e1 (.95) IoU 9/11 with both (its best gt: h1, listed first), e2 (.5) = h1,
    so h1 takes e2 and h2 stays unmatched although e1 covers it."""
    gt_boxes = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [0, 0, 10, 10], [0, 0, 10, 10], [2, 0, 12, 10]],
                        np.float32)
    gt_ptr = np.array([0, 2, 3, 5])
    det_image = np.array([0, 0, 0, 0, 0, 2, 2])
    det_boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 8], [20, 0, 30, 4], [100, 100, 110, 110],
                          [20, 0, 30, 9], [1, 0, 11, 10], [0, 0, 10, 10]], np.float32)
    det_scores = np.array([0.9, 0.8, 0.7, 0.3, 0.6, 0.95, 0.5], np.float32)
    return gt_ptr, gt_boxes, det_image, det_boxes, det_scores


def test_hand_computed_default_threshold():
    m = detection_metrics(*hand_case())
    # matched: d1-g1, d5-g2, e2-h1 of 5 gts; ranking e1 F, d1 T, d2 F, d3 F, d5 T, e2 T
    assert (m.num_gt, m.num_matched) == (5, 3)
    assert m.recall == pytest.approx(0.6)
    assert m.ap == pytest.approx((1 / 2 + 2 / 5 + 3 / 6) / 3 * 0.6)


def test_low_threshold_adds_a_negative_at_the_bottom():
    m = detection_metrics(*hand_case(), det_thresh=0.01)
    assert m.recall == pytest.approx(0.6)
    assert m.ap == pytest.approx((1 / 2 + 2 / 5 + 3 / 6) / 3 * 0.6)


def test_higher_threshold_lets_h1_take_e1():
    m = detection_metrics(*hand_case(), det_thresh=0.55)
    # e2 is gone: e1-h1 matches; ranking e1 T, d1 T, d2 F, d3 F, d5 T
    assert m.num_matched == 3
    assert m.ap == pytest.approx((1 + 1 + 3 / 5) / 3 * 0.6)


def test_nothing_matched_gives_zero():
    gt_ptr, gt_boxes, det_image, det_boxes, det_scores = hand_case()
    m = detection_metrics(gt_ptr, gt_boxes, det_image, det_boxes + 500, det_scores)
    assert (m.ap, m.recall) == (0.0, 0.0)


def _loop_reference(gt_ptr, gt_boxes, det_image, det_boxes, det_scores, det_thresh):
    """SeqNet's eval_detection, loops and argmax, per image."""
    y_true, y_score, count_tp = [], [], 0
    for g in range(len(gt_ptr) - 1):
        gts = gt_boxes[gt_ptr[g]:gt_ptr[g + 1]]
        sel = np.flatnonzero((det_image == g) & (det_scores >= det_thresh))
        if len(sel) == 0:
            continue
        if len(gts) == 0:  # SeqNet never meets this case; its detections are all negatives
            y_true.extend([False] * len(sel))
            y_score.extend(det_scores[sel])
            continue
        ious = np.array([[paired_iou(gt[None], det_boxes[j][None])[0] for j in sel] for gt in gts])
        tf = ious >= 0.5
        for j in range(len(sel)):
            tf[np.arange(len(gts)) != np.argmax(ious[:, j]), j] = False
        for i in range(len(gts)):
            tf[i, np.arange(len(sel)) != np.argmax(ious[i])] = False
        y_true.extend(tf.any(axis=0))
        y_score.extend(det_scores[sel])
        count_tp += tf.sum()
    recall = count_tp / gt_ptr[-1]
    return recall, average_precision(y_true, y_score) * recall


@pytest.mark.parametrize("seed", range(5))
def test_matches_loop_reference(seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 5, size=12)
    gt_ptr = np.concatenate([[0], np.cumsum(counts)])
    xy = rng.uniform(0, 60, size=(gt_ptr[-1], 2))
    gt_boxes = np.concatenate([xy, xy + rng.uniform(10, 30, size=xy.shape)], axis=1)
    pick = rng.integers(0, len(gt_boxes), size=60)
    owner = np.repeat(np.arange(12), counts)
    det_image = np.where(rng.random(60) < 0.8, owner[pick], rng.integers(0, 12, size=60))
    anchor = gt_boxes[pick]
    det_boxes = anchor + rng.normal(scale=4, size=anchor.shape)
    det_boxes[:, 2:] = np.maximum(det_boxes[:, 2:], det_boxes[:, :2] + 1)
    det_scores = rng.random(60)
    for thresh in (0.01, 0.5):
        m = detection_metrics(gt_ptr, gt_boxes, det_image, det_boxes, det_scores, det_thresh=thresh)
        recall, ap = _loop_reference(gt_ptr, gt_boxes, det_image, det_boxes, det_scores, thresh)
        assert m.recall == pytest.approx(recall)
        assert m.ap == pytest.approx(ap)
