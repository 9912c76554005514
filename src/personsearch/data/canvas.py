"""Where a re-ID crop goes to become a scene (PretrainPS data unification).

- expand_resize: a canvas `ratio` times the crop's size (ratio drawn from `ratio_range`), the
  crop at a random spot on it, the canvas then resized to `size`: the person's scale varies
  with the ratio (the paper's choice).
- random_paste: the crop, at its own size (shrunk only if it does not fit), at a random spot of
  a fixed `size` canvas.
The canvas is filled with `fill` (RGB). Returns the canvas and the crop's box on it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

PLACEMENTS = ("expand_resize", "random_paste")


def place_crop(
    crop: Image.Image,
    *,
    placement: str,
    size: Sequence[int],
    ratio_range: Sequence[float] = (1.5, 3.0),
    fill: Sequence[int] = (124, 116, 104),
    rng: np.random.Generator,
) -> tuple[Image.Image, np.ndarray]:
    width, height = int(size[0]), int(size[1])
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {', '.join(PLACEMENTS)}; got {placement!r}")
    if placement == "expand_resize":
        low, high = float(ratio_range[0]), float(ratio_range[1])
        if not 1.0 <= low <= high:
            raise ValueError(f"ratio_range must satisfy 1 <= low <= high; got {tuple(ratio_range)}")
        ratio = float(rng.uniform(low, high))
        canvas_w, canvas_h = max(crop.width, round(crop.width * ratio)), max(crop.height, round(crop.height * ratio))
        x = int(rng.integers(0, canvas_w - crop.width + 1))
        y = int(rng.integers(0, canvas_h - crop.height + 1))
        canvas = Image.new("RGB", (canvas_w, canvas_h), tuple(int(v) for v in fill))
        canvas.paste(crop, (x, y))
        sx, sy = width / canvas_w, height / canvas_h
        box = np.array([x * sx, y * sy, (x + crop.width) * sx, (y + crop.height) * sy], dtype=np.float32)
        return canvas.resize((width, height), Image.BILINEAR), box
    scale = min(1.0, width / crop.width, height / crop.height)
    if scale < 1.0:
        crop = crop.resize((max(1, int(crop.width * scale)), max(1, int(crop.height * scale))), Image.BILINEAR)
    x = int(rng.integers(0, width - crop.width + 1))
    y = int(rng.integers(0, height - crop.height + 1))
    canvas = Image.new("RGB", (width, height), tuple(int(v) for v in fill))
    canvas.paste(crop, (x, y))
    return canvas, np.array([x, y, x + crop.width, y + crop.height], dtype=np.float32)
