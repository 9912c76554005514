"""A reproducible share of a training split (the target-data fraction experiments)."""

from __future__ import annotations

from typing import Sequence, TypeVar

import numpy as np

Record = TypeVar("Record")


def train_fraction_subset(train: Sequence[Record], fraction: float, *, seed: int = 0) -> list[Record]:
    """The first `fraction` of a `seed`-ed permutation of `train`, in the split's order.

    Subsets of one seed are nested: the 40% subset holds the 20% one. At least one record is kept.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"a training fraction must be in (0, 1], got {fraction}")
    if fraction == 1.0:
        return list(train)
    order = np.random.default_rng(seed).permutation(len(train))
    keep = order[: max(1, round(fraction * len(train)))]
    return [train[i] for i in sorted(keep)]
