"""Pseudo identities from memory features: k-reciprocal Jaccard distance, DBSCAN, DICL's rules.

The Jaccard distance of k-reciprocal re-ranking (Zhong et al., CVPR 2017) is computed on
sparse matrices: k-NN by blocked matrix products in torch, reciprocal sets and their
expansion as sparse boolean algebra, and the Jaccard overlap sum_j min(V_ij, V_kj) only for
pairs that share a neighbour (every other pair is at distance 1). DBSCAN (scikit-learn) then
runs on that sparse precomputed distance graph, so memory grows with N x neighbours, not N^2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

PAIR_CHUNK = 5_000_000  # (row, row) contributions accumulated per step of the Jaccard sum


@dataclass(frozen=True)
class ClusteringSettings:
    k1: int = 30
    k2: int = 6
    eps: float = 0.7
    min_samples: int = 4
    block_rows: int = 1024  # rows per k-NN matrix product


def knn_indices(features: torch.Tensor, k: int, block_rows: int = 1024) -> np.ndarray:
    """(N, k) indices of each row's k most similar rows (itself first for distinct rows), by cosine."""
    features = F.normalize(features.float(), dim=1)
    k = min(k, features.shape[0])
    out = []
    for start in range(0, features.shape[0], block_rows):
        block = features[start:start + block_rows] @ features.t()
        rows = torch.arange(block.shape[0])
        block[rows, start + rows] = float("inf")  # a row is its own first neighbour even among duplicates
        out.append(block.topk(k, dim=1).indices)
    return torch.cat(out).numpy()


def _neighbour_matrix(knn: np.ndarray, k: int) -> sp.csr_matrix:
    n = knn.shape[0]
    cols = knn[:, :k]
    return sp.csr_matrix((np.ones(cols.size, dtype=np.float32), (np.repeat(np.arange(n), cols.shape[1]),
                                                                  cols.ravel())), shape=(n, n))


def _reciprocal(knn: np.ndarray, k: int) -> sp.csr_matrix:
    """R[i, j] = 1 when j is among i's k+1 nearest and i among j's (the k-reciprocal set)."""
    neighbours = _neighbour_matrix(knn, k + 1)
    return neighbours.multiply(neighbours.T).tocsr()


def _pair_values(features: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    sims = np.empty(rows.shape[0], dtype=np.float32)
    for start in range(0, rows.shape[0], 1_000_000):
        r, c = rows[start:start + 1_000_000], cols[start:start + 1_000_000]
        sims[start:start + 1_000_000] = np.einsum("ij,ij->i", features[r], features[c])
    return sims


def _jaccard_overlap(weights: sp.csr_matrix) -> sp.csr_matrix:
    """S[i, k] = sum_j min(W[i, j], W[k, j]) for every pair sharing a column, via each column's row pairs."""
    n = weights.shape[0]
    columns = weights.tocsc()
    columns.sort_indices()
    lengths = np.diff(columns.indptr)
    result = sp.csr_matrix((n, n), dtype=np.float64)
    start_col = 0
    while start_col < n:
        # take columns while their pair count fits the chunk
        pair_counts = lengths[start_col:].astype(np.int64) ** 2
        stop = start_col + max(1, int(np.searchsorted(np.cumsum(pair_counts), PAIR_CHUNK, side="right")))
        lo, hi = columns.indptr[start_col], columns.indptr[stop]
        entry_rows = columns.indices[lo:hi]
        entry_values = columns.data[lo:hi]
        entry_lengths = np.repeat(lengths[start_col:stop], lengths[start_col:stop])
        entry_starts = np.repeat(columns.indptr[start_col:stop] - lo, lengths[start_col:stop])
        left = np.repeat(np.arange(hi - lo), entry_lengths)
        offsets = np.arange(left.shape[0]) - np.repeat(np.cumsum(entry_lengths) - entry_lengths, entry_lengths)
        right = entry_starts[left] + offsets
        values = np.minimum(entry_values[left], entry_values[right])
        result = result + sp.csr_matrix((values, (entry_rows[left], entry_rows[right])), shape=(n, n))
        start_col = stop
    return result


def jaccard_distance(features: torch.Tensor, *, k1: int = 30, k2: int = 6, block_rows: int = 1024) -> sp.csr_matrix:
    """Sparse (N, N) k-reciprocal Jaccard distances of L2-normalised features; pairs not stored are at
    distance 1. Stored distances are kept > 0 so that DBSCAN's sparse input keeps them as neighbours."""
    n = features.shape[0]
    features = F.normalize(features.float(), dim=1)
    knn = knn_indices(features, max(k1, k2) + 1, block_rows)
    reciprocal = _reciprocal(knn, k1)
    half = _reciprocal(knn, int(round(k1 / 2)))
    # expansion: add a candidate's half-size reciprocal set when 2/3 of it lies in the row's set
    overlap = (reciprocal @ half.T).tocsr()
    half_sizes = np.asarray(half.sum(axis=1)).ravel()
    candidates = reciprocal.tocoo()
    shared = np.asarray(overlap[candidates.row, candidates.col]).ravel()
    accepted = shared > (2.0 / 3.0) * half_sizes[candidates.col]
    expand = sp.csr_matrix((np.ones(int(accepted.sum()), dtype=np.float32),
                            (candidates.row[accepted], candidates.col[accepted])), shape=(n, n))
    expanded = ((reciprocal + expand @ half) > 0).tocoo()
    # weights: exp(-squared distance) over the expanded set, each row summing to 1
    array = features.numpy()
    squared = 2.0 - 2.0 * _pair_values(array, expanded.row, expanded.col)
    weights = sp.csr_matrix((np.exp(-squared), (expanded.row, expanded.col)), shape=(n, n))
    weights = sp.diags(1.0 / np.asarray(weights.sum(axis=1)).ravel()) @ weights
    if k2 > 1:  # local query expansion: average the rows of the k2 nearest neighbours
        weights = (_neighbour_matrix(knn, k2) @ weights) / float(k2)
    overlap_sum = _jaccard_overlap(weights.tocsr()).tocoo()
    distance = 1.0 - overlap_sum.data / (2.0 - overlap_sum.data)
    distance = np.clip(distance, 1e-9, 1.0)
    return sp.csr_matrix((distance, (overlap_sum.row, overlap_sum.col)), shape=(n, n))


def dbscan_labels(distance: sp.csr_matrix, *, eps: float, min_samples: int) -> np.ndarray:
    """DBSCAN on a sparse precomputed distance graph; outliers labelled -1."""
    try:
        from sklearn.cluster import DBSCAN
        from sklearn.neighbors import sort_graph_by_row_values
    except ImportError:
        raise ImportError("DICL's clustering needs scikit-learn: pip install 'personsearch[dicl]'") from None

    graph = sort_graph_by_row_values(distance.copy(), warn_when_not_sorted=False)
    return DBSCAN(eps=eps, min_samples=min_samples, metric="precomputed").fit_predict(graph)


def singletons_for_outliers(labels: np.ndarray) -> np.ndarray:
    """Each DBSCAN outlier (-1) becomes its own cluster, numbered after the real ones."""
    labels = labels.copy()
    outliers = np.flatnonzero(labels < 0)
    labels[outliers] = labels.max(initial=-1) + 1 + np.arange(outliers.size)
    return labels


def one_person_per_image(labels: np.ndarray, image_of_slot: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Where several boxes of one image share a cluster, keep the one closest to the cluster's centre
    (normalised mean of its members) and make the others singletons. Returns contiguous labels."""
    labels = labels.copy()
    next_label = labels.max(initial=-1) + 1
    order = np.lexsort((image_of_slot, labels))
    sorted_labels, sorted_images = labels[order], image_of_slot[order]
    same_group = (sorted_labels[1:] == sorted_labels[:-1]) & (sorted_images[1:] == sorted_images[:-1])
    conflicted = set(sorted_labels[1:][same_group].tolist())
    for cluster in conflicted:
        members = np.flatnonzero(labels == cluster)
        centre = features[members].mean(axis=0)
        centre /= max(np.linalg.norm(centre), 1e-12)
        closeness = features[members] @ centre
        for image in np.unique(image_of_slot[members]):
            in_image = np.flatnonzero(image_of_slot[members] == image)
            if in_image.size < 2:
                continue
            keep = in_image[np.argmax(closeness[in_image])]
            for position in in_image[in_image != keep]:
                labels[members[position]] = next_label
                next_label += 1
    _, contiguous = np.unique(labels, return_inverse=True)
    return contiguous.astype(np.int64)


def apply_must_links(labels: np.ndarray, groups: Sequence[np.ndarray]) -> np.ndarray:
    """Every slot of a group takes the group's most common cluster among those with other members
    (a group whose slots are all singletons becomes one cluster). Returns contiguous labels."""
    labels = labels.copy()
    sizes = np.bincount(labels)
    next_label = labels.max(initial=-1) + 1
    for group in groups:
        own = labels[group]
        shared = own[sizes[own] > 1]
        if shared.size:
            labels[group] = np.bincount(shared).argmax()
        else:
            labels[group] = next_label
            next_label += 1
    _, contiguous = np.unique(labels, return_inverse=True)
    return contiguous.astype(np.int64)


def cluster_memory_features(features: torch.Tensor, image_of_slot: np.ndarray, settings: ClusteringSettings,
                            must_links: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Contiguous cluster labels, one per slot, following DICL's recipe; `must_links` (groups of slots,
    e.g. tracklets) are merged after DBSCAN, before the one-person-per-image rule."""
    if features.shape[0] != image_of_slot.shape[0]:
        raise ValueError(f"{features.shape[0]} memory slots but {image_of_slot.shape[0]} image indices")
    distance = jaccard_distance(features, k1=settings.k1, k2=settings.k2, block_rows=settings.block_rows)
    labels = singletons_for_outliers(dbscan_labels(distance, eps=settings.eps, min_samples=settings.min_samples))
    if must_links:
        labels = apply_must_links(labels, must_links)
    normalised = F.normalize(features.float(), dim=1).numpy()
    return one_person_per_image(labels, image_of_slot, normalised)


def pairwise_precision_recall(labels: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Pairwise precision / recall of clusters against true identities over boxes with truth >= 0."""
    known = truth >= 0
    labels, truth = labels[known], truth[known]
    if labels.size == 0:
        return {"pair_precision": float("nan"), "pair_recall": float("nan")}

    def pairs(counts: np.ndarray) -> float:
        return float((counts * (counts - 1) / 2).sum())

    _, joint = np.unique(np.stack([labels, truth]), axis=1, return_counts=True)
    together = pairs(joint)
    predicted = pairs(np.unique(labels, return_counts=True)[1])
    actual = pairs(np.unique(truth, return_counts=True)[1])
    return {"pair_precision": together / predicted if predicted else float("nan"),
            "pair_recall": together / actual if actual else float("nan")}
