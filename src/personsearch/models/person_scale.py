"""Embed given boxes at the person scale a model was trained on.

A one-step model resizes every picture to its own input size (`min_size` / `max_size`) before
embedding boxes. For its training data that puts people at the heights it learned from, but a
user's picture can hold people at any scale: vtest.avi's walkers (83 pixels tall at 768x576)
shrink to 52 pixels at the shipped model's 360-pixel input, where a 7x7 RoI covers three feature
cells of a person. When the boxes are known before embedding (a separate detector, or a query
box), the picture can instead be resized so that its people are `person_height` pixels tall,
the median height of the people the model was trained on at its input size (each box at its
own scale, rounded to half octaves so that the people of a picture need few model calls).
"""

from __future__ import annotations

import contextlib
import math
from typing import Iterator, Sequence

import torch
from torch import nn
from torchvision.models.detection.transform import GeneralizedRCNNTransform

MIN_FACTOR, MAX_FACTOR = 0.1, 4.0
MAX_SIDE = 2048  # longest side of a resized picture, to bound memory
BUCKETS_PER_OCTAVE = 2  # factors are rounded to powers of 2 ** (1 / 2): one model call per bucket


def person_scale_factors(boxes: torch.Tensor, person_height: float, image_size: Sequence[int]) -> torch.Tensor:
    """(N,) resize factors that bring each box ((N, 4) x1 y1 x2 y2) to `person_height` pixels tall,
    rounded to buckets of 2 ** (1 / BUCKETS_PER_OCTAVE) and kept within [MIN_FACTOR, MAX_FACTOR]
    and MAX_SIDE. A box gets the same factor wherever it is embedded (query or gallery)."""
    heights = (boxes[:, 3] - boxes[:, 1]).float().clamp(min=1.0)
    exponents = torch.round(torch.log2(person_height / heights) * BUCKETS_PER_OCTAVE) / BUCKETS_PER_OCTAVE
    return torch.pow(2.0, exponents).clamp(MIN_FACTOR, min(MAX_FACTOR, MAX_SIDE / max(image_size)))


@contextlib.contextmanager
def input_scale(model: nn.Module, image_size: Sequence[int], factor: float) -> Iterator[None]:
    """Within the block, every resizing transform of `model` scales a picture of `image_size`
    (height, width) by `factor` instead of fitting it to its own min_size / max_size."""
    transforms = [m for m in model.modules() if isinstance(m, GeneralizedRCNNTransform)]
    saved = [(t.min_size, t.max_size) for t in transforms]
    short, long = min(image_size), max(image_size)
    try:
        for transform in transforms:
            transform.min_size = (max(1, round(short * factor)),)
            transform.max_size = math.ceil(long * factor) + 1
        yield
    finally:
        for transform, (min_size, max_size) in zip(transforms, saved):
            transform.min_size, transform.max_size = min_size, max_size


def embed_at_person_scale(
    model: nn.Module, images: list[torch.Tensor], boxes_list: list[torch.Tensor], person_height: float
) -> torch.Tensor:
    """`model.extract_query_features`, each box embedded in its picture resized so that the box is
    about `person_height` pixels tall (one model call per picture and scale bucket)."""
    features = []
    for image, boxes in zip(images, boxes_list, strict=True):
        if len(boxes) == 0:  # nothing to embed: no model call for this picture
            continue
        factors = person_scale_factors(boxes, person_height, image.shape[-2:])
        rows = [None] * len(boxes)
        for factor in torch.unique(factors).tolist():
            chosen = torch.nonzero(factors == factor).flatten()
            with input_scale(model, image.shape[-2:], factor):
                embedded = model.extract_query_features([image], [boxes[chosen]])
            for row, index in zip(embedded, chosen.tolist()):
                rows[index] = row
        features.append(torch.stack(rows))
    if not features:  # no box at all: the model's own (0, D) answer
        return model.extract_query_features(images, boxes_list)
    return torch.cat(features)


def training_person_height(
    records: Sequence, *, min_size: int | Sequence[int], max_size: int
) -> float:
    """Median height, at a model's input size, of the people in training scene records (each with
    `boxes` (N, 4) and `width` / `height` or an `image_path` to read them from)."""
    from PIL import Image

    test_size = min_size[-1] if isinstance(min_size, Sequence) else min_size
    heights = []
    for record in records:
        boxes = torch.as_tensor(record.boxes, dtype=torch.float32).reshape(-1, 4)
        if len(boxes) == 0:
            continue
        width, height = record.width, record.height
        if width is None or height is None:
            with Image.open(record.image_path) as image:
                width, height = image.size
        factor = min(test_size / min(width, height), max_size / max(width, height))
        heights.append((boxes[:, 3] - boxes[:, 1]) * factor)
    if not heights:
        raise ValueError("no person boxes in the training records")
    return float(torch.cat(heights).median())
