"""Box checks shared by the loaders: convert, clip small border overshoots, reject the rest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from personsearch.data.errors import DatasetFormatError

# A box may overshoot the image border by this fraction of the image side (it is clipped);
# a larger overshoot is an annotation error.
BORDER_TOLERANCE = 0.1


def xywh_to_xyxy(box: np.ndarray) -> np.ndarray:
    box = np.asarray(box, dtype=np.float32).reshape(-1, 4).copy()
    box[:, 2:] += box[:, :2]
    return box


def image_size(path: str | Path, *, file: str | Path, record: str | int) -> tuple[int, int]:
    """(width, height) from the image file header; the pixels are not decoded."""
    try:
        with Image.open(path) as image:
            return image.size
    except FileNotFoundError:
        raise DatasetFormatError(file, f"image file not found: {path}", record=record) from None
    except OSError as exc:
        raise DatasetFormatError(file, f"unreadable image {path}: {exc}", record=record) from None


def check_boxes(
    boxes: np.ndarray,
    *,
    width: int | None,
    height: int | None,
    file: str | Path,
    record: str | int,
) -> np.ndarray:
    """Clip (N, 4) x1y1x2y2 boxes to the image; raise when one is degenerate or lies outside.

    Without a known image size only negative coordinates are clipped to 0.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if not np.all(np.isfinite(boxes)):
        raise DatasetFormatError(file, "box with a non-finite coordinate", record=record)
    bad = np.nonzero((boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1]))[0]
    if bad.size:
        raise DatasetFormatError(file, f"empty box {boxes[bad[0]].tolist()} (x1, y1, x2, y2)", record=record)
    if width is not None and height is not None:
        low = -BORDER_TOLERANCE * np.array([width, height, width, height], dtype=np.float32)
        high = (1 + BORDER_TOLERANCE) * np.array([width, height, width, height], dtype=np.float32)
        outside = np.nonzero(np.any((boxes < low) | (boxes > high), axis=1))[0]
        if outside.size:
            raise DatasetFormatError(
                file,
                f"box {boxes[outside[0]].tolist()} (x1, y1, x2, y2) lies outside the {width}x{height} image",
                record=record,
            )
        clipped = np.clip(boxes, 0, [width, height, width, height]).astype(np.float32)
        if np.any((clipped[:, 2] <= clipped[:, 0]) | (clipped[:, 3] <= clipped[:, 1])):
            raise DatasetFormatError(file, f"box outside the {width}x{height} image", record=record)
        return clipped
    return np.clip(boxes, 0, None).astype(np.float32)


def clip_box(box: tuple[float, float, float, float], *, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Writers: round a synthetic x1y1x2y2 box to integer pixels inside the image; None if nothing is left."""
    x1 = int(round(min(max(box[0], 0), width)))
    y1 = int(round(min(max(box[1], 0), height)))
    x2 = int(round(min(max(box[2], 0), width)))
    y2 = int(round(min(max(box[3], 0), height)))
    if x2 <= x1 or y2 <= y1:
        return None
    return x1, y1, x2, y2
