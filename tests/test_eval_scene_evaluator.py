"""SceneSearchEvaluator: per-image outputs in, the same report as the array function out."""

import numpy as np
import pytest
import torch

from personsearch.evaluation import SceneSearchEvaluator, SearchResults, evaluate_search_results
from test_eval_scene_search import hand_case


def outputs():
    data, dets, qf = hand_case()
    per_image = []
    for g, name in enumerate(dets.names):
        rows = dets.image_index == g
        per_image.append({"image_name": name, "boxes": torch.from_numpy(dets.boxes[rows]),
                          "scores": torch.from_numpy(dets.scores[rows]),
                          "embeddings": torch.from_numpy(dets.feats[rows])})
    queries = [{"query_index": q, "query_embedding": qf[q]} for q in range(len(qf))]
    return data, dets, qf, per_image, queries


def test_matches_array_function():
    data, dets, qf, per_image, queries = outputs()
    ev = SceneSearchEvaluator(data, cross_camera=True)
    ev.process(per_image[::-1])
    ev.process(queries)
    expected = evaluate_search_results(SearchResults(dets, qf), data, cross_camera=True)
    assert ev.evaluate() == pytest.approx(expected)
    assert expected["mAP"] == pytest.approx(25.0)


def test_reset_and_missing_outputs():
    data, _, _, per_image, queries = outputs()
    ev = SceneSearchEvaluator(data)
    ev.process(per_image)
    with pytest.raises(ValueError, match="2 queries were not processed"):
        ev.evaluate()
    ev.process(queries)
    ev.reset()
    ev.process(per_image[:3] + queries)
    with pytest.raises(ValueError, match="gallery images of hand are missing"):
        ev.evaluate()
    with pytest.raises(ValueError, match="image_name"):
        ev.process([{"boxes": np.zeros((0, 4))}])
