"""Mixup for text-image pairs.

- Feature-level mixup (the paper): token features after the first layer of BOTH encoders are
  mixed with the same Beta(alpha, alpha) weight and the same partner permutation; the soft
  label vectors (instance and identity) are mixed the same way.
- Pixel/caption mixup (CTLG's released code): with probability p a sample's image is averaged
  50/50 with another sample's and the two captions are concatenated.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class FeatureMix:
    lam: float
    perm: torch.Tensor  # (B,) partner index of each sample

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        return self.lam * x + (1.0 - self.lam) * x[self.perm]

    def mask(self, attention_mask: torch.Tensor) -> torch.Tensor:
        """A mixed text attends to the tokens of both captions."""
        return torch.maximum(attention_mask, attention_mask[self.perm])

    def labels(self, labels: torch.Tensor) -> torch.Tensor:
        return self.lam * labels + (1.0 - self.lam) * labels[self.perm]


def sample_feature_mix(batch_size: int, *, alpha: float, rng: random.Random) -> FeatureMix:
    """lam ~ Beta(alpha, alpha); partners are a random permutation of the batch."""
    if alpha <= 0:
        raise ValueError(f"mixup alpha must be > 0, got {alpha}")
    perm = list(range(batch_size))
    rng.shuffle(perm)
    return FeatureMix(lam=rng.betavariate(alpha, alpha), perm=torch.tensor(perm, dtype=torch.long))


def pixel_caption_mixup(image_a: torch.Tensor, caption_a: str, image_b: torch.Tensor,
                        caption_b: str) -> tuple[torch.Tensor, str]:
    """50/50 pixel average and concatenated captions (CTLG's released mixup)."""
    return 0.5 * image_a + 0.5 * image_b, f"{caption_a.rstrip()} {caption_b.lstrip()}"
