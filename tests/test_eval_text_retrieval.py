"""Text-to-image retrieval metrics on hand-made similarity matrices."""

import numpy as np
import pytest

from personsearch.evaluation import TextRetrievalEvaluator, text_retrieval_metrics

GALLERY_IDS = np.array([1, 2, 1, 3])
QUERY_IDS = np.array([1, 2, 9])
SIM = np.array([
    [0.1, 0.9, 0.5, 0.3],  # order g1 g2 g3 g0: matches . x . x -> AP (1/2 + 2/4)/2, INP 2/4
    [0.2, 0.8, 0.8, 0.1],  # tie g1 = g2, stable: g1 (id 2) first -> R1 hit, AP 1, INP 1
    [0.0, 0.0, 0.0, 0.0],  # id 9 is not in the gallery: skipped
])


def test_hand_computed_metrics():
    out = text_retrieval_metrics(SIM, QUERY_IDS, GALLERY_IDS)
    assert out["R1"] == pytest.approx(50.0)
    assert out["R5"] == pytest.approx(100.0) and out["R10"] == pytest.approx(100.0)
    assert out["mAP"] == pytest.approx(100 * (0.5 + 1.0) / 2)
    assert out["mINP"] == pytest.approx(100 * (0.5 + 1.0) / 2)
    assert (out["num_queries"], out["num_skipped"]) == (2, 1)


def test_ties_keep_gallery_order():
    # swapping the tied columns puts the non-match first
    out = text_retrieval_metrics(SIM[1:2, [0, 2, 1, 3]], QUERY_IDS[1:2], GALLERY_IDS[[0, 2, 1, 3]])
    assert out["R1"] == 0.0
    assert out["mAP"] == pytest.approx(50.0)


def test_rank_k_and_chunks():
    rng = np.random.default_rng(0)
    sim = rng.normal(size=(37, 20))
    qids, gids = rng.integers(0, 5, size=37), rng.integers(0, 5, size=20)
    whole = text_retrieval_metrics(sim, qids, gids, ranks=(1, 3))
    assert text_retrieval_metrics(sim, qids, gids, ranks=(1, 3), chunk_size=4) == pytest.approx(whole)
    order = np.argsort(-sim, axis=1, kind="stable")
    match = gids[order] == qids[:, None]
    ok = match.any(axis=1)
    assert whole["R3"] == pytest.approx(100 * match[ok, :3].any(axis=1).mean())


def test_shape_error():
    with pytest.raises(ValueError, match="shape"):
        text_retrieval_metrics(SIM[:2], QUERY_IDS, GALLERY_IDS)


def test_evaluator_batches():
    rng = np.random.default_rng(1)
    q, g = rng.normal(size=(10, 8)), rng.normal(size=(6, 8))
    qids, gids = rng.integers(0, 3, size=10), rng.integers(0, 3, size=6)
    ev = TextRetrievalEvaluator()
    ev.process(query_feats=q[:4], query_ids=qids[:4], gallery_feats=g[:2], gallery_ids=gids[:2])
    ev.process(query_feats=q[4:], query_ids=qids[4:])
    ev.process(gallery_feats=g[2:], gallery_ids=gids[2:])
    assert ev.evaluate() == pytest.approx(text_retrieval_metrics(q @ g.T, qids, gids))
    ev.reset()
    with pytest.raises(ValueError, match="nothing to evaluate"):
        ev.evaluate()
    with pytest.raises(ValueError, match="together"):
        ev.process(query_feats=q)
