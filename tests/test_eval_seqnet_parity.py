"""Scene search with and without CBGM and confidence weighting, PRW and CUHK-SYSU style,
against the SeqNet-style loop reference (inputs in SeqNet's layout: weighted features are
pre-multiplied by the scores, the query box heads the query image's detections)."""

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from personsearch.data.records import GalleryEntry
from personsearch.evaluation import CBGM, SearchResults, build_search_truth, scene_search_metrics
from personsearch.evaluation.scene_evaluator import evaluate_search_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
pytest.importorskip("sklearn")
from reference_protocol import reference_search  # noqa: E402
from synthetic_search import per_image_lists, seqnet_query_lists, synthetic_search_problem  # noqa: E402

KEYS = ("mAP", "top1", "top5", "top10", "num_queries", "num_skipped")


def _cuhk_style(data, rng):
    """Each query gets its own gallery: the images holding it plus 15 distractors."""
    queries = []
    for q in data.queries:
        holding = [GalleryEntry(r.name, r.boxes[r.pids == q.pid][0]) for r in data.gallery
                   if q.pid in r.pids and r.name != q.name]
        others = [GalleryEntry(r.name, None) for r in data.gallery if q.pid not in r.pids and r.name != q.name]
        picked = [others[i] for i in rng.choice(len(others), size=15, replace=False)]
        queries.append(dataclasses.replace(q, gallery=tuple(holding + picked)))
    return dataclasses.replace(data, queries=queries)


def _problem(style, seed):
    data, dets, qf, qd = synthetic_search_problem(num_images=60, num_queries=30, num_pids=10, dim=16, seed=seed)
    # shuffle the query-image detections so that "the first k2 - 1 in the given order" is not "the best scores"
    order = np.random.default_rng(seed).permutation(len(qd.scores))
    qd = dataclasses.replace(qd, image_index=qd.image_index[order], boxes=qd.boxes[order],
                             scores=qd.scores[order], feats=qd.feats[order])
    if style == "cuhk-sysu":
        data = _cuhk_style(data, np.random.default_rng(seed))
    return data, dets, qf, qd


@pytest.mark.parametrize("style,k1,k2", [("prw", 30, 4), ("cuhk-sysu", 10, 3)])
@pytest.mark.parametrize("cbgm", [False, True])
@pytest.mark.parametrize("weight_by_score", [False, True])
def test_matches_seqnet_reference(style, k1, k2, cbgm, weight_by_score):
    data, dets, qf, qd = _problem(style, seed=11 if style == "prw" else 12)
    ours = scene_search_metrics(qf, dets, build_search_truth(data, dets.names), weight_by_score=weight_by_score,
                                cbgm=CBGM(k1, k2) if cbgm else None, query_dets=qd, chunk_size=8).summary()
    boxes_scores, feats = per_image_lists(dets)
    ctx, ctx_feats = seqnet_query_lists(data, qf, qd)
    ref = reference_search(data, boxes_scores, feats, qf, weight_by_score=weight_by_score,
                           query_dets=ctx if cbgm else None, query_det_feats=ctx_feats if cbgm else None,
                           k1=k1 if cbgm else None, k2=k2 if cbgm else None)
    for key in KEYS:
        assert ours[key] == pytest.approx(ref[key], abs=1e-4), key


@pytest.mark.parametrize("style,k1,k2", [("prw", 30, 4), ("cuhk-sysu", 10, 3)])
def test_weighting_changes_cbgm(style, k1, k2):
    """CBGM on weighted similarities is not CBGM on plain ones followed by weighting (the old order)."""
    data, dets, qf, qd = _problem(style, seed=13)
    truth = build_search_truth(data, dets.names)
    weighted = scene_search_metrics(qf, dets, truth, weight_by_score=True, cbgm=CBGM(k1, k2), query_dets=qd)
    plain = scene_search_metrics(qf, dets, truth, weight_by_score=False, cbgm=CBGM(k1, k2), query_dets=qd)
    assert not np.allclose(weighted.ap, plain.ap)


def test_evaluate_search_results_passes_both_options():
    data, dets, qf, qd = _problem("prw", seed=14)
    report = evaluate_search_results(SearchResults(dets, qf, qd), data, weight_by_score=True, cbgm=CBGM(30, 4))
    boxes_scores, feats = per_image_lists(dets)
    ctx, ctx_feats = seqnet_query_lists(data, qf, qd)
    ref = reference_search(data, boxes_scores, feats, qf, weight_by_score=True, query_dets=ctx,
                           query_det_feats=ctx_feats, k1=30, k2=4)
    assert report["mAP"] == pytest.approx(ref["mAP"], abs=1e-4)
    assert report["top1"] == pytest.approx(ref["top1"], abs=1e-4)
