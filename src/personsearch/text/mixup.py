"""Mixup for text-image pairs.

- Feature-level mixup (the paper): each sample is mixed with probability p, with its own
  Beta(alpha, alpha) weight, with a partner from a random permutation of the batch; the mix is
  applied to the token features after the first layer of BOTH encoders, and the sample's labels
  (instance and identity) are mixed with the same weight. Unselected samples keep weight 1.
- Pixel/caption mixup (CTLG's released code): with probability p a sample's image is averaged
  50/50 with another sample's and the two captions are concatenated.

Labels are carried as slots: (B, K) class indices with (B, K) weights; a mix appends the
partner's slots, so the labels of a global batch can be built after gathering them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class FeatureMix:
    lam: torch.Tensor  # (B,) weight of each sample's own features; 1 = not mixed
    perm: torch.Tensor  # (B,) partner index of each sample

    def _weight(self, x: torch.Tensor) -> torch.Tensor:
        return self.lam.to(device=x.device, dtype=x.dtype).view(-1, *([1] * (x.dim() - 1)))

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, ...) token features (Transformer tokens or CNN maps) mixed per sample."""
        lam = self._weight(x)
        return lam * x + (1.0 - lam) * x[self.perm.to(x.device)]

    def mask(self, attention_mask: torch.Tensor) -> torch.Tensor:
        """A mixed text attends to the tokens of both captions."""
        mixed = (self.lam < 1.0).to(attention_mask.device)[:, None]
        partner = attention_mask[self.perm.to(attention_mask.device)]
        return torch.where(mixed, torch.maximum(attention_mask, partner), attention_mask)

    def slots(self, ids: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, K) label slots -> (B, 2K): own slots weighted lam, the partner's 1 - lam."""
        perm = self.perm.to(ids.device)
        lam = self.lam.to(device=weights.device, dtype=weights.dtype)[:, None]
        return torch.cat([ids, ids[perm]], 1), torch.cat([lam * weights, (1.0 - lam) * weights[perm]], 1)


def sample_feature_mix(batch_size: int, *, p: float, alpha: float, rng: random.Random) -> FeatureMix:
    """Each sample mixed with probability p, weight ~ Beta(alpha, alpha); partners a random permutation."""
    if alpha <= 0:
        raise ValueError(f"mixup alpha must be > 0, got {alpha}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"mixup probability must be in [0, 1], got {p}")
    perm = list(range(batch_size))
    rng.shuffle(perm)
    lam = [rng.betavariate(alpha, alpha) if rng.random() < p else 1.0 for _ in range(batch_size)]
    return FeatureMix(lam=torch.tensor(lam, dtype=torch.float32), perm=torch.tensor(perm, dtype=torch.long))


def pixel_caption_mixup(image_a: torch.Tensor, caption_a: str, image_b: torch.Tensor,
                        caption_b: str) -> tuple[torch.Tensor, str]:
    """50/50 pixel average and concatenated captions (CTLG's released mixup)."""
    return 0.5 * image_a + 0.5 * image_b, f"{caption_a.rstrip()} {caption_b.lstrip()}"
