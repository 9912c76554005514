"""Average precision exactly as `sklearn.metrics.average_precision_score` computes it.

AP = sum over distinct score thresholds t (descending) of (R(t) - R(t_prev)) * P(t), where
P and R count every item scoring >= t, so tied scores form one step. Equivalently: the mean,
over positives p, of (#positives scoring >= s_p) / (#items scoring >= s_p).
"""

from __future__ import annotations

import numpy as np


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """sklearn-style AP of binary `labels` ranked by `scores`; 0.0 when there is no positive."""
    labels = np.asarray(labels).astype(bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in shape")
    num_pos = int(labels.sum())
    if num_pos == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    tp = np.cumsum(labels[order])
    # the last position of each run of tied scores closes one threshold step
    last_of_tie = np.concatenate([s[1:] != s[:-1], [True]])
    tp_at = tp[last_of_tie]
    n_at = np.flatnonzero(last_of_tie) + 1
    recall_step = np.diff(tp_at, prepend=0) / num_pos
    return float(np.sum(recall_step * tp_at / n_at))
