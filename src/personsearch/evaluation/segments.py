"""Index arithmetic on contiguous segments (CSR-style `ptr` arrays), shared by the evaluators."""

from __future__ import annotations

import numpy as np


def expand_ranges(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the ranges [starts[i], starts[i] + lengths[i]).

    Returns (indices, owner): owner[k] is the i whose range produced indices[k].
    """
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    offsets = np.cumsum(lengths) - lengths
    indices = starts[owner] + np.arange(int(lengths.sum())) - offsets[owner]
    return indices, owner


def group_pointers(group: np.ndarray, num_groups: int) -> np.ndarray:
    """ptr (num_groups + 1,) such that sorted-by-group rows of group g are ptr[g]:ptr[g+1]."""
    counts = np.bincount(np.asarray(group, dtype=np.int64), minlength=num_groups)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def first_of_each_group(group: np.ndarray) -> np.ndarray:
    """Positions where a run of equal values starts in an already grouped array."""
    group = np.asarray(group)
    if group.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
