"""Scene search metrics on random problems against a loop implementation in SeqNet's style."""

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from personsearch.data.records import GalleryEntry
from personsearch.evaluation import build_search_truth, scene_search_metrics

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
pytest.importorskip("sklearn")
from reference_protocol import reference_search  # noqa: E402
from synthetic_search import per_image_lists, synthetic_search_problem  # noqa: E402


def _with_own_galleries(data, rng):
    """CUHK-SYSU style: each query gets the images holding it, distractors and a duplicate."""
    queries = []
    for q in data.queries:
        holding = [GalleryEntry(r.name, r.boxes[r.pids == q.pid][0]) for r in data.gallery
                   if q.pid in r.pids and r.name != q.name]
        others = [GalleryEntry(r.name, None) for r in data.gallery if q.pid not in r.pids]
        picked = [others[i] for i in rng.choice(len(others), size=15, replace=False)]
        queries.append(dataclasses.replace(q, gallery=tuple(holding + picked + picked[:1])))
    return dataclasses.replace(data, queries=queries)


@pytest.mark.parametrize("seed,cross_camera,own_gallery", [(0, False, False), (1, True, False), (2, False, True)])
def test_matches_loop_reference(seed, cross_camera, own_gallery):
    data, dets, qf, _ = synthetic_search_problem(num_images=80, num_queries=40, num_pids=12, dim=16, seed=seed)
    if own_gallery:
        data = _with_own_galleries(data, np.random.default_rng(seed))
    ours = scene_search_metrics(qf, dets, build_search_truth(data, dets.names, cross_camera=cross_camera),
                                chunk_size=7).summary()
    boxes_scores, feats = per_image_lists(dets)
    ref = reference_search(data, boxes_scores, feats, qf, cross_camera=cross_camera)
    for key in ("mAP", "top1", "top5", "top10", "num_queries", "num_skipped"):
        assert ours[key] == pytest.approx(ref[key], abs=1e-4), key

