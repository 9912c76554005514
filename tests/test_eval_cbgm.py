"""CBGM on a hand-made case where context re-ranking turns a miss into a top-1 hit."""

import numpy as np
import pytest

from personsearch.data.records import SceneQuery, SceneRecord, SceneSearchData
from personsearch.evaluation import (
    CBGM,
    GalleryDetections,
    QueryDetections,
    build_search_truth,
    cbgm_rerank,
    scene_search_metrics,
)


def unit(*values):
    """A unit vector starting with `values`; the remainder goes to the last axis."""
    v = np.zeros(4)
    v[: len(values)] = values
    v[-1] = np.sqrt(1 - np.sum(np.square(values)))
    return v


Q = unit(1.0)  # the query person
C = unit(0.0, 1.0)  # the person standing next to it in the query image
A = unit(0.4)  # the query person in gallery image X, poorly seen: dot with Q = 0.4
B = unit(0.5, 0.8)  # the context person in X, who resembles the query: dot with Q = 0.5, with C = 0.8
Y = unit(0.45)  # a stranger in image Y


def case():
    gallery = [
        SceneRecord("X.jpg", "X.jpg", np.array([[0, 0, 50, 100], [100, 0, 150, 100]], np.float32),
                    np.array([7, 8]), camera=2),
        SceneRecord("Y.jpg", "Y.jpg", np.array([[0, 0, 50, 100]], np.float32), np.array([9]), camera=2),
    ]
    query = SceneQuery("q.jpg", "q.jpg", np.array([0, 0, 50, 100], np.float32), pid=7, camera=1)
    data = SceneSearchData("cbgm", "", [], gallery, [query], 0)
    dets = GalleryDetections(
        names=np.array(["X.jpg", "Y.jpg"]), image_index=np.array([0, 0, 1]),
        boxes=np.array([[0, 0, 50, 100], [100, 0, 150, 100], [0, 0, 50, 100]], np.float32),
        scores=np.ones(3, np.float32), feats=np.array([A, B, Y], np.float32))
    # the context person (score .9), then a detection that k2 = 2 leaves out (the first k2 - 1 count)
    query_dets = QueryDetections(image_index=np.array([0, 0]),
                                 boxes=np.array([[60, 0, 110, 100], [200, 0, 250, 100]], np.float32),
                                 scores=np.array([0.9, 0.3], np.float32),
                                 feats=np.array([C, unit(0.99)], np.float32))
    return data, dets, np.array([Q], np.float32), query_dets


def test_without_cbgm_the_true_person_ranks_third():
    data, dets, qf, _ = case()
    m = scene_search_metrics(qf, dets, build_search_truth(data, dets.names))
    # .5 F, .45 F, .4 T
    assert m.ap[0] == pytest.approx(1 / 3)
    assert m.hits[0].tolist() == [False, True, True]


@pytest.mark.parametrize("k1", [1, 10])
def test_cbgm_moves_the_true_person_to_the_top(k1):
    data, dets, qf, qd = case()
    m = scene_search_metrics(qf, dets, build_search_truth(data, dets.names), cbgm=CBGM(k1=k1, k2=2),
                             query_dets=qd)
    # in X, Q-A + C-B (0.4 + 0.8) beats Q-B + C-A (0.5 + 0): A takes the largest matched weight 0.8
    assert m.ap[0] == pytest.approx(1.0)
    assert m.hits[0].tolist() == [True, True, True]


def test_cbgm_rerank_values():
    data, dets, qf, qd = case()
    sims = dets.feats @ qf[0]
    ptr = np.array([0, 2, 3])
    out = cbgm_rerank(sims, dets.image_index, ptr, dets.feats, np.stack([Q, C]).astype(np.float32), k1=3)
    # Y has one detection: the query takes it, the largest matched weight is its own 0.45
    np.testing.assert_allclose(out, [0.8, 0.5, 0.45], atol=1e-6)
    # with the query node alone there is no context: nothing changes
    np.testing.assert_allclose(cbgm_rerank(sims, dets.image_index, ptr, dets.feats, Q[None], k1=3), sims)


def test_k2_one_means_no_context():
    data, dets, qf, qd = case()
    m = scene_search_metrics(qf, dets, build_search_truth(data, dets.names), cbgm=CBGM(k1=10, k2=1),
                             query_dets=qd)
    assert m.ap[0] == pytest.approx(1 / 3)


def test_cbgm_needs_query_detections():
    data, dets, qf, _ = case()
    with pytest.raises(ValueError, match="query_det"):
        scene_search_metrics(qf, dets, build_search_truth(data, dets.names), cbgm=CBGM(10, 3))


def test_cbgm_matches_loop_reference():
    import sys
    from pathlib import Path

    pytest.importorskip("sklearn")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from reference_protocol import reference_search
    from synthetic_search import per_image_lists, seqnet_query_lists, synthetic_search_problem

    data, dets, qf, qd = synthetic_search_problem(num_images=80, num_queries=40, num_pids=12, dim=16, seed=3)
    ours = scene_search_metrics(qf, dets, build_search_truth(data, dets.names), cbgm=CBGM(30, 4),
                                query_dets=qd).summary()
    boxes_scores, feats = per_image_lists(dets)
    ctx, ctx_feats = seqnet_query_lists(data, qf, qd)
    ref = reference_search(data, boxes_scores, feats, qf, query_dets=ctx, query_det_feats=ctx_feats, k1=30, k2=4)
    plain = scene_search_metrics(qf, dets, build_search_truth(data, dets.names)).summary()
    assert ours["mAP"] != pytest.approx(plain["mAP"])  # the re-ranking did something
    for key in ("mAP", "top1", "top5", "top10"):
        assert ours[key] == pytest.approx(ref[key], abs=1e-4), key
