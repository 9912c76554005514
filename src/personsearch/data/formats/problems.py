"""Messy annotation files: a loader either stops at the first problem (strict) or repairs or
skips what it can and says so in one warning line (the default).

Real downloads carry a few broken records (a protocol box that Images.mat lacks, a box
running past the image border, one caption entry without text); one of them should not
abort a training run over hundreds of thousands of good ones.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np

from personsearch.data.errors import DatasetFormatError
from personsearch.data.formats.boxes import check_boxes

LOGGER = logging.getLogger("personsearch.data")
NAMED = 3  # problems quoted in the warning line


class AnnotationProblems:
    """Collects the problems a tolerant loader worked around; `strict` raises each instead."""

    def __init__(self, dataset: str, *, strict: bool) -> None:
        self.dataset = dataset
        self.strict = strict
        self.found: list[tuple[str, DatasetFormatError]] = []

    def handle(self, error: DatasetFormatError, action: str) -> None:
        """Raise `error` when strict, else note it with what was done about it ("skipped the box", ...)."""
        if self.strict:
            raise error
        self.found.append((action, error))

    def summary(self) -> str | None:
        if not self.found:
            return None
        counts = Counter(action for action, _ in self.found)
        done = ", ".join(f"{action} x{count}" for action, count in counts.most_common())
        named = "; ".join(f"{error} ({action})" for action, error in self.found[:NAMED])
        more = f"; and {len(self.found) - NAMED} more" if len(self.found) > NAMED else ""
        return (f"{self.dataset}: {len(self.found)} annotation problem(s) worked around ({done}; strict=true "
                f"stops at the first): {named}{more}")

    def warn(self) -> None:
        """One warning line on the `personsearch.data` logger, if anything was found."""
        message = self.summary()
        if message:
            LOGGER.warning(message)


def tolerant_box(
    box: np.ndarray, *, width: int | None, height: int | None, file: str | Path, record: str | int,
    problems: AnnotationProblems,
) -> np.ndarray | None:
    """One x1y1x2y2 box checked as `check_boxes` does; when it fails and the loader is tolerant,
    the box clipped to the image if something of it is left (else None: skip it)."""
    try:
        return check_boxes(box, width=width, height=height, file=file, record=record)[0]
    except DatasetFormatError as error:
        box = np.asarray(box, dtype=np.float32).reshape(4)
        clipped = None
        if np.all(np.isfinite(box)):
            high = [np.inf, np.inf] * 2 if width is None or height is None else [width, height, width, height]
            clipped = np.clip(box, 0, high).astype(np.float32)
            if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
                clipped = None
        problems.handle(error, "skipped the box" if clipped is None else "clipped the box to the image")
        return clipped
