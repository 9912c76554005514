"""Scene search protocol on a hand-computed PRW-style case."""

import dataclasses

import numpy as np
import pytest

from personsearch.data.records import UNLABELLED, GalleryEntry, SceneQuery, SceneRecord, SceneSearchData
from personsearch.evaluation import (
    GalleryDetections,
    build_search_truth,
    scene_search_metrics,
)

DIM = 4


def feat(sim):
    """A unit feature whose dot product with the query feature e0 is `sim`."""
    return [sim, np.sqrt(1 - sim * sim), 0.0, 0.0]


def record(name, camera, boxes, pids):
    return SceneRecord(name=name, image_path=name, boxes=np.array(boxes, np.float32).reshape(-1, 4),
                       pids=np.array(pids, np.int64), camera=camera)


def hand_case():
    """Query pid 7 in frame Q (camera 1). Gallery:
    A (cam 1): person 7 at 100x200; det .9 IoU 0.5 (the first reaching 0.5: TP), det .6 IoU 1 (negative)
    B (cam 2): person 7 at 10x10 (threshold 0.25); det .5 IoU 0.3 (TP), det .8 elsewhere (negative)
    C (cam 2): person 7, its only detection scores 0.3 and is dropped (a miss, still in count_gt)
    D (cam 1): nobody; det .7 (negative), det .95 scoring 0.4 (dropped)
    Q (cam 1): the query's own frame, det .99, never part of its gallery
    A second query (pid 99) appears nowhere: skipped."""
    gallery = [
        record("A.jpg", 1, [[0, 0, 100, 200]], [7]),
        record("B.jpg", 2, [[0, 0, 10, 10], [50, 50, 60, 60]], [7, UNLABELLED]),
        record("C.jpg", 2, [[0, 0, 50, 100]], [7]),
        record("D.jpg", 1, [[0, 0, 50, 100]], [3]),
        record("Q.jpg", 1, [[0, 0, 50, 100]], [7]),
    ]
    queries = [
        SceneQuery(name="Q.jpg", image_path="Q.jpg", box=np.array([0, 0, 50, 100], np.float32), pid=7, camera=1),
        SceneQuery(name="D.jpg", image_path="D.jpg", box=np.array([0, 0, 50, 100], np.float32), pid=99, camera=1),
    ]
    data = SceneSearchData(name="hand", root="", train=[], gallery=gallery, queries=queries, num_train_pids=0)
    rows = [  # image, box, score, similarity to query 0
        (0, [0, 0, 100, 100], 0.9, 0.9),
        (0, [0, 0, 100, 200], 0.9, 0.6),
        (1, [0, 0, 10, 3], 0.9, 0.5),
        (1, [200, 200, 250, 300], 0.9, 0.8),
        (2, [0, 0, 50, 100], 0.3, 0.99),
        (3, [0, 0, 50, 100], 0.9, 0.7),
        (3, [60, 0, 110, 100], 0.4, 0.95),
        (4, [0, 0, 50, 100], 0.9, 0.99),
    ]
    dets = GalleryDetections(
        names=np.array([r.name for r in gallery]),
        image_index=np.array([r[0] for r in rows]),
        boxes=np.array([r[1] for r in rows], np.float32),
        scores=np.array([r[2] for r in rows], np.float32),
        feats=np.array([feat(r[3]) for r in rows], np.float32),
    )
    query_feats = np.array([feat(1.0), feat(0.0)], np.float32)
    return data, dets, query_feats


def test_all_gallery_protocol_hand_computed():
    data, dets, qf = hand_case()
    truth = build_search_truth(data, dets.names)
    m = scene_search_metrics(qf, dets, truth)
    # query 0: count_gt 3 (A, B, C); ranking .9 T, .8 F, .7 F, .6 F, .5 T
    assert m.count_gt.tolist() == [3, 0]
    assert m.num_tp[0] == 2
    assert m.ap[0] == pytest.approx((1 + 2 / 5) / 2 * 2 / 3)
    assert m.hits[0].tolist() == [True, True, True]
    s = m.summary()
    assert s["num_queries"] == 1 and s["num_skipped"] == 1
    assert s["mAP"] == pytest.approx(100 * 0.7 * 2 / 3)


def test_first_match_not_best_iou():
    # remove A's .9 detection (IoU 0.5): the .6 detection (IoU 1) becomes A's true positive
    data, dets, qf = hand_case()
    keep = np.arange(len(dets.scores)) != 0
    dets = GalleryDetections(dets.names, dets.image_index[keep], dets.boxes[keep], dets.scores[keep],
                             dets.feats[keep])
    m = scene_search_metrics(qf, dets, build_search_truth(data, dets.names))
    # ranking .8 F, .7 F, .6 T, .5 T
    assert m.ap[0] == pytest.approx((1 / 3 + 2 / 4) / 2 * 2 / 3)
    assert m.hits[0].tolist() == [False, True, True]


def test_same_overlap_misses_on_a_large_box():
    # IoU 0.3 is a hit on the 10x10 person (threshold 0.25), not on a 100x100 one (0.5)
    data, dets, qf = hand_case()
    big = dataclasses.replace(data.gallery[1], boxes=np.array([[0, 0, 100, 100], [50, 50, 60, 60]], np.float32))
    data.gallery[1] = big
    boxes = dets.boxes.copy()
    boxes[2] = [0, 0, 100, 30]  # IoU 0.3 with the 100x100 person, threshold 0.5 there
    dets = dataclasses.replace(dets, boxes=boxes)
    m = scene_search_metrics(qf, dets, build_search_truth(data, dets.names))
    assert m.num_tp[0] == 1
    assert m.ap[0] == pytest.approx(1 * 1 / 3)


def test_cross_camera_drops_query_camera():
    data, dets, qf = hand_case()
    truth = build_search_truth(data, dets.names, cross_camera=True)
    assert truth.gallery_mask[0].tolist() == [False, True, True, False, False]
    m = scene_search_metrics(qf, dets, truth)
    # gallery B, C: count_gt 2; ranking .8 F, .5 T
    assert m.count_gt[0] == 2
    assert m.ap[0] == pytest.approx(0.5 * 1 / 2)
    assert m.hits[0].tolist() == [False, True, True]


def test_detection_threshold_kwarg():
    data, dets, qf = hand_case()
    m = scene_search_metrics(qf, dets, build_search_truth(data, dets.names), det_thresh=0.2)
    # C's .99 detection now counts (TP in C), D's .95 is a negative: .99 T .95 F .9 T .8 F .7 F .6 F .5 T
    assert m.num_tp[0] == 3
    assert m.ap[0] == pytest.approx((1 + 2 / 3 + 3 / 7) / 3 * 3 / 3)


def test_weight_by_score_reorders():
    data, dets, qf = hand_case()
    scores = dets.scores.copy()
    scores[3] = 0.5  # B's negative: .8 * .5 = .4 falls below A's .6 * .9 = .54
    dets = dataclasses.replace(dets, scores=scores)
    m = scene_search_metrics(qf, dets, build_search_truth(data, dets.names, cross_camera=True),
                             weight_by_score=True)
    # cross camera: B only: .45 T, .40 F
    assert m.ap[0] == pytest.approx(1 * 1 / 2)
    assert m.hits[0].tolist() == [True, True, True]


def test_cuhk_own_gallery_skips_duplicates():
    data, dets, qf = hand_case()
    entries = (GalleryEntry("A.jpg", np.array([0, 0, 100, 200], np.float32)), GalleryEntry("D.jpg", None),
               GalleryEntry("D.jpg", None), GalleryEntry("A.jpg", np.array([0, 0, 100, 200], np.float32)))
    data.queries[0] = dataclasses.replace(data.queries[0], gallery=entries)
    data.queries[1] = dataclasses.replace(data.queries[1], gallery=(GalleryEntry("B.jpg", None),))
    truth = build_search_truth(data, dets.names)
    assert truth.count_gt.tolist() == [1, 0]
    m = scene_search_metrics(qf, dets, truth)
    # A and D: .9 T, .7 F, .6 F
    assert m.ap[0] == pytest.approx(1.0)
    assert m.summary()["num_skipped"] == 1


def test_unknown_own_gallery_image_is_an_error():
    data, dets, _ = hand_case()
    data.queries[0] = dataclasses.replace(data.queries[0], gallery=(GalleryEntry("nowhere.jpg", None),))
    with pytest.raises(ValueError, match="nowhere.jpg"):
        build_search_truth(data, dets.names)


def test_no_surviving_detection_scores_zero_not_skipped():
    data, dets, qf = hand_case()
    m = scene_search_metrics(qf, dets, build_search_truth(data, dets.names), det_thresh=1.0)
    assert m.ap[0] == 0.0 and m.num_tp[0] == 0 and not m.hits[0].any()
    assert m.summary()["num_queries"] == 1

