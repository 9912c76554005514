"""Shared by the detection-only formats: checked number lists and a synthetic person's boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from personsearch.data.errors import DatasetFormatError


def four_numbers(value, *, name: str, file: Path, record: str) -> np.ndarray:
    try:
        box = np.asarray(value, dtype=np.float64).reshape(4)
    except (TypeError, ValueError):
        raise DatasetFormatError(file, f"{name} {value!r} is not 4 numbers", record=record) from None
    if not np.all(np.isfinite(box)):
        raise DatasetFormatError(file, f"{name} {value!r} has a non-finite number", record=record)
    return box


def xywh(box: tuple[float, float, float, float]) -> list[int]:
    """A synthetic x1y1x2y2 box as the rounded [x, y, w, h] list detection annotations hold."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    return [x1, y1, x2 - x1, y2 - y1]
