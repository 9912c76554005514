"""Shared noise fields for cloth and surface texture (fixed, so rendering stays deterministic)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.ndimage import gaussian_filter

TILE = 512


@lru_cache(maxsize=1)
def cloth_noise() -> np.ndarray:
    """(TILE, TILE) float32 multiplicative texture around 1.0: fine weave plus soft folds."""
    rng = np.random.default_rng(20240617)
    fine = gaussian_filter(rng.normal(0.0, 1.0, (TILE, TILE)), 0.7, mode="wrap")
    folds = gaussian_filter(rng.normal(0.0, 1.0, (TILE, TILE)), 6.0, mode="wrap")
    field = 0.045 * fine / fine.std() + 0.06 * folds / folds.std()
    return (1.0 + field).astype(np.float32)


SENSOR_SIZE = (800, 1000)  # larger than any frame, so a frame's noise is one slice


@lru_cache(maxsize=1)
def sensor_noise() -> np.ndarray:
    """(*SENSOR_SIZE, 3) float32 zero-mean unit-variance noise, slightly correlated like a demosaiced sensor."""
    rng = np.random.default_rng(7021)
    field = gaussian_filter(rng.normal(0.0, 1.0, (*SENSOR_SIZE, 3)).astype(np.float32), (0.6, 0.6, 0.0), mode="wrap")
    return (field / field.std()).astype(np.float32)


def tile_window(field: np.ndarray, height: int, width: int, offset_y: int, offset_x: int) -> np.ndarray:
    """A (height, width) window of a periodic field starting at the offset, wrapping around."""
    rows = (np.arange(height) + offset_y) % field.shape[0]
    cols = (np.arange(width) + offset_x) % field.shape[1]
    return field[np.ix_(rows, cols)]
