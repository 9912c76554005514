"""The dual encoder: images and texts embedded separately into one L2-normalised space.

`encode_image` and `encode_text` are separate calls, so a gallery is indexed
once and queried many times. `build_dual_encoder(**model_kwargs)` rebuilds a
model from the "model_kwargs" saved in every checkpoint.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from personsearch.text.image_encoders import IMAGE_ENCODERS, build_image_encoder
from personsearch.text.text_encoders import build_text_encoder
from personsearch.text.tokenizer import DEFAULT_MAX_LENGTH, TextTokenizer


class DualEncoder(nn.Module):
    def __init__(
        self,
        *,
        image_encoder: nn.Module,
        text_encoder: nn.Module,
        embed_dim: int | None = None,
        num_classes: int = 0,
        max_length: int = DEFAULT_MAX_LENGTH,
        image_size: tuple[int, int] = (384, 128),
    ) -> None:
        super().__init__()
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        img_dim, txt_dim = image_encoder.out_dim, text_encoder.out_dim
        if embed_dim is None and img_dim != txt_dim:
            raise ValueError(f"image ({img_dim}-d) and text ({txt_dim}-d) features differ: set embed_dim to project")
        self.embed_dim = int(embed_dim) if embed_dim is not None else img_dim
        self.image_proj = nn.Linear(img_dim, self.embed_dim) if embed_dim is not None else nn.Identity()
        self.text_proj = nn.Linear(txt_dim, self.embed_dim) if embed_dim is not None else nn.Identity()
        # Identity classifier shared by both modalities (optional identity loss).
        self.classifier = nn.Linear(self.embed_dim, num_classes) if num_classes > 0 else None
        self.max_length = int(max_length)
        self.image_size = tuple(int(v) for v in image_size)
        self._tokenizer: TextTokenizer | None = None

    @property
    def tokenizer(self) -> TextTokenizer:
        if self._tokenizer is None:
            self._tokenizer = TextTokenizer(max_length=self.max_length)
        return self._tokenizer

    # Raw (un-normalised) features, from the stems' token features.
    def image_features(self, image_tokens: torch.Tensor) -> torch.Tensor:
        return self.image_proj(self.image_encoder.head(image_tokens))

    def text_features(self, text_tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.text_proj(self.text_encoder.head(text_tokens, attention_mask))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised images -> (B, D) unit-length embeddings."""
        return F.normalize(self.image_features(self.image_encoder.stem(images)), dim=-1)

    def encode_text(self, token_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, N) token ids and mask -> (B, D) unit-length embeddings."""
        return F.normalize(self.text_features(self.text_encoder.stem(token_ids, attention_mask), attention_mask), dim=-1)

    def encode_captions(self, captions: list[str]) -> torch.Tensor:
        device = next(self.parameters()).device
        ids, mask = self.tokenizer(captions)
        return self.encode_text(ids.to(device), mask.to(device))


def build_dual_encoder(
    *,
    image_encoder: dict[str, Any],
    text_encoder: dict[str, Any],
    embed_dim: int | None = None,
    num_classes: int = 0,
    max_length: int = DEFAULT_MAX_LENGTH,
    image_size: tuple[int, int] = (384, 128),
    pretrained: bool = True,
) -> DualEncoder:
    """Encoders are `{"name": ..., **kwargs}`; pretrained=False skips every weight file (used when a
    checkpoint supplies the weights)."""
    img_kwargs = {k: v for k, v in image_encoder.items() if k != "name"}
    txt_kwargs = {k: v for k, v in text_encoder.items() if k != "name"}
    if not pretrained:
        img_kwargs["weights"] = None
        txt_kwargs["weights"] = None
    if "image_size" in _kwarg_names(image_encoder["name"]):
        img_kwargs.setdefault("image_size", tuple(image_size))
    return DualEncoder(
        image_encoder=build_image_encoder(image_encoder["name"], **img_kwargs),
        text_encoder=build_text_encoder(text_encoder["name"], **txt_kwargs),
        embed_dim=embed_dim,
        num_classes=num_classes,
        max_length=max_length,
        image_size=image_size,
    )


def _kwarg_names(image_encoder_name: str) -> set[str]:
    return set(inspect.signature(IMAGE_ENCODERS.get(image_encoder_name)).parameters)
