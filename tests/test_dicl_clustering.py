"""DICL's clustering: the sparse k-reciprocal Jaccard distance against a direct implementation of
its definition, DBSCAN with outliers as singletons, the one-person-per-image rule, and scores."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from personsearch.methods.dicl.clustering import (
    ClusteringSettings,
    cluster_memory_features,
    jaccard_distance,
    one_person_per_image,
    pairwise_precision_recall,
    singletons_for_outliers,
)


def _reference_jaccard(features: np.ndarray, k1: int, k2: int) -> np.ndarray:
    """k-reciprocal re-ranking's Jaccard distance written straight from its definition (dense, loops)."""
    n = len(features)
    sims = features @ features.T
    dist = 2 - 2 * sims
    order = np.argsort(-sims - 10 * np.eye(n), axis=1, kind="stable")

    def reciprocal(i, k):
        forward = order[i, : k + 1]
        return np.array([j for j in forward if i in order[j, : k + 1]])

    weights = np.zeros((n, n))
    for i in range(n):
        own = reciprocal(i, k1)
        expanded = list(own)
        for c in own:
            candidate = reciprocal(c, int(round(k1 / 2)))
            if len(np.intersect1d(candidate, own)) > 2 / 3 * len(candidate):
                expanded.extend(candidate)
        expanded = np.unique(expanded)
        w = np.exp(-dist[i, expanded])
        weights[i, expanded] = w / w.sum()
    if k2 > 1:
        weights = np.stack([weights[order[i, :k2]].mean(axis=0) for i in range(n)])
    overlap = np.array([[np.minimum(weights[i], weights[j]).sum() for j in range(n)] for i in range(n)])
    return 1 - overlap / (2 - overlap)


def _blobs(seed=0, per=12, dim=8, spread=0.25):
    generator = np.random.default_rng(seed)
    centres = generator.normal(size=(3, dim))
    points = np.concatenate([c + spread * generator.normal(size=(per, dim)) for c in centres])
    return F.normalize(torch.tensor(points, dtype=torch.float32), dim=1), np.repeat(np.arange(3), per)


def test_sparse_jaccard_distance_equals_the_definition():
    features, _ = _blobs()
    sparse = jaccard_distance(features, k1=6, k2=3, block_rows=7).toarray()
    dense = _reference_jaccard(features.double().numpy(), 6, 3)
    stored = sparse > 0
    assert np.allclose(sparse[stored], np.maximum(dense[stored], 1e-9), atol=1e-5)
    assert np.allclose(dense[~stored], 1.0, atol=1e-6)  # pairs not stored share no neighbour: distance 1


def test_clustering_recovers_separated_identities_one_box_per_image():
    features, truth = _blobs()
    labels = cluster_memory_features(features, np.arange(len(truth)), ClusteringSettings(k1=6, k2=3, eps=0.7,
                                                                                        min_samples=3))
    scores = pairwise_precision_recall(labels, truth)
    assert scores == {"pair_precision": 1.0, "pair_recall": 1.0}


def test_outliers_become_singletons_after_the_real_clusters():
    assert singletons_for_outliers(np.array([0, -1, 1, -1, 0])).tolist() == [0, 2, 1, 3, 0]


def test_one_person_per_image_keeps_the_member_closest_to_the_centre():
    features = np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0]])
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    # one cluster; slots 0 and 1 are in image 7, slots 2 and 3 in image 9
    labels = one_person_per_image(np.array([0, 0, 0, 0]), np.array([7, 7, 9, 9]), features)
    # centre ~ (0.6, 0.6): slot 1 beats slot 0 in image 7, slot 2 beats slot 3 in image 9
    assert labels[1] == labels[2]
    assert len({labels[0], labels[3], labels[1]}) == 3
    assert sorted(np.unique(labels).tolist()) == list(range(3))


def test_pairwise_precision_recall_by_hand():
    labels = np.array([0, 0, 0, 1, 1])
    truth = np.array([5, 5, 6, 6, -1])  # the last box has no identity and is left out
    # predicted pairs: 3 (cluster 0), together with one identity: 1 -> precision 1/3; true pairs 2 -> recall 1/2
    assert pairwise_precision_recall(labels, truth) == pytest.approx({"pair_precision": 1 / 3, "pair_recall": 0.5})
