"""Photometric and occlusion augmentation of whole training scenes (boxes stay where they are).

Colour jitter changes brightness, contrast, saturation and hue of the whole picture, so that a
person's identity cannot rest on exact colours that another camera renders differently. Box
erasing paints random noise over a random part of some person boxes (random erasing, Zhong et
al. 2020, applied per box in the scene), so that identity cannot rest on one body part either.
Random draws come from torch's generator (seeded per DataLoader worker), as the flip's coin does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Mapping

import torch
from torchvision.transforms.v2 import functional as TF

from personsearch.config import ConfigError


@dataclass(frozen=True)
class SceneAugment:
    """`jitter`: brightness, contrast and saturation factors drawn from [1 - jitter, 1 + jitter];
    `hue`: hue shift drawn from [-hue, hue] (at most 0.5); `box_erase_p`: chance that a person
    box gets a noise patch covering `erase_area` (a fraction range) of it."""

    jitter: float = 0.0
    hue: float = 0.0
    box_erase_p: float = 0.0
    erase_area: tuple[float, float] = (0.1, 0.4)

    def __post_init__(self) -> None:
        low, high = self.erase_area
        if not (0.0 <= self.jitter < 1.0 and 0.0 <= self.hue <= 0.5 and 0.0 <= self.box_erase_p <= 1.0
                and 0.0 < low <= high <= 1.0):
            raise ConfigError(f"data.augment: need 0 <= jitter < 1, 0 <= hue <= 0.5, 0 <= box_erase_p <= 1 and "
                              f"0 < erase_area[0] <= erase_area[1] <= 1; got {self}")

    @classmethod
    def from_section(cls, values: Mapping[str, Any] | None) -> "SceneAugment":
        values = dict(values or {})
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"data.augment: unknown keys {unknown}; known: {[f.name for f in fields(cls)]}")
        if "erase_area" in values:
            values["erase_area"] = tuple(float(v) for v in values["erase_area"])
        return cls(**values)

    @property
    def active(self) -> bool:
        return self.jitter > 0.0 or self.hue > 0.0 or self.box_erase_p > 0.0


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * torch.rand(()).item()


def jitter_colours(image: torch.Tensor, settings: SceneAugment) -> torch.Tensor:
    """`image`: float CHW in [0, 1]."""
    if settings.jitter > 0.0:
        low, high = 1.0 - settings.jitter, 1.0 + settings.jitter
        image = TF.adjust_brightness(image, _uniform(low, high))
        image = TF.adjust_contrast(image, _uniform(low, high))
        image = TF.adjust_saturation(image, _uniform(low, high))
    if settings.hue > 0.0:
        image = TF.adjust_hue(image, _uniform(-settings.hue, settings.hue))
    return image.clamp_(0.0, 1.0)


def erase_in_boxes(image: torch.Tensor, boxes: torch.Tensor, settings: SceneAugment) -> torch.Tensor:
    """Noise patches inside some of `boxes` ((N, 4) x1 y1 x2 y2 pixels); `image` is changed in place."""
    height, width = image.shape[-2:]
    for x1, y1, x2, y2 in boxes.tolist():
        if torch.rand(()).item() >= settings.box_erase_p:
            continue
        box_w, box_h = min(x2, width) - max(x1, 0.0), min(y2, height) - max(y1, 0.0)
        if box_w < 2 or box_h < 2:
            continue
        area = _uniform(*settings.erase_area) * box_w * box_h
        aspect = math.exp(_uniform(math.log(0.3), math.log(1 / 0.3)))
        patch_w = max(1, min(int(box_w), round(math.sqrt(area * aspect))))
        patch_h = max(1, min(int(box_h), round(math.sqrt(area / aspect))))
        left = int(max(x1, 0.0) + _uniform(0.0, box_w - patch_w))
        top = int(max(y1, 0.0) + _uniform(0.0, box_h - patch_h))
        image[:, top:top + patch_h, left:left + patch_w] = torch.rand(image.shape[0], patch_h, patch_w)
    return image


def augment_scene(image: torch.Tensor, boxes: torch.Tensor, settings: SceneAugment) -> torch.Tensor:
    if not settings.active:
        return image
    return erase_in_boxes(jitter_colours(image, settings), boxes, settings)
