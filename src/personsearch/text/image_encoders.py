"""Image encoders by name: ViT-B/16 with overlapping patches, a small ViT, and MobileNetV2.

Each encoder maps (B, 3, H, W) normalised images to (B, out_dim) and is split
into `stem` (up to and including the first layer / block) and `head`, so
intermediate token features can be mixed (feature-level mixup). With `checkpointing`
set (by the training model), `head` recomputes its layers in the backward pass
instead of storing their activations.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint, checkpoint_sequential

from personsearch.models.weights import load_offline_state_dict
from personsearch.registry import Registry
from personsearch.text.weights import read_state_dict

IMAGE_ENCODERS: Registry = Registry("image encoder")


def list_image_encoders() -> list[str]:
    return IMAGE_ENCODERS.names()


def build_image_encoder(name: str, **kwargs) -> nn.Module:
    return IMAGE_ENCODERS.get(name)(**kwargs)


def patch_grid(image_size: tuple[int, int], patch: int, stride: int) -> tuple[int, int]:
    h, w = image_size
    if h < patch or w < patch:
        raise ValueError(f"image size {image_size} is smaller than the {patch}x{patch} patch")
    return (h - patch) // stride + 1, (w - patch) // stride + 1


class PatchEmbed(nn.Module):
    def __init__(self, *, patch: int, stride: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm ViT block with the parameter names of the reference ImageNet weights."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class OverlapViT(nn.Module):
    """ViT whose patch embedding strides less than the patch size (CTLG: 16x16, stride 12).

    At 384x128 the grid is 31x10 tokens + CLS; the feature is the final-LayerNorm CLS token.
    """

    checkpointing = False

    def __init__(
        self,
        *,
        image_size: tuple[int, int] = (384, 128),
        patch: int = 16,
        stride: int = 12,
        dim: int = 768,
        depth: int = 12,
        heads: int = 12,
        mlp_ratio: float = 4.0,
        weights: str | None = None,
    ) -> None:
        super().__init__()
        if depth < 1 or dim % heads:
            raise ValueError(f"need depth >= 1 and dim divisible by heads, got depth={depth}, dim={dim}, heads={heads}")
        self.image_size = tuple(int(v) for v in image_size)
        self.grid = patch_grid(self.image_size, patch, stride)
        self.out_dim = dim
        self.patch_embed = PatchEmbed(patch=patch, stride=stride, dim=dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.grid[0] * self.grid[1], dim))
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=1e-6)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
        if weights is not None:
            load_vit_weights(self, weights)

    def stem(self, images: torch.Tensor) -> torch.Tensor:
        if tuple(images.shape[-2:]) != self.image_size:
            raise ValueError(f"expected images of size {self.image_size}, got {tuple(images.shape[-2:])}")
        x = self.patch_embed(images)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.blocks[0](x)

    def head(self, tokens: torch.Tensor) -> torch.Tensor:
        recompute = self.checkpointing and self.training and torch.is_grad_enabled()
        for block in self.blocks[1:]:
            tokens = checkpoint(block, tokens, use_reentrant=False) if recompute else block(tokens)
        return self.norm(tokens)[:, 0]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.stem(images))


def resize_pos_embed(pos_embed: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(1, 1 + g*g, D) square-grid embeddings -> (1, 1 + gh*gw, D), bilinear on the patch part."""
    cls, patches = pos_embed[:, :1], pos_embed[:, 1:]
    old = int(round(patches.shape[1] ** 0.5))
    if old * old != patches.shape[1]:
        raise ValueError(f"position embeddings of {patches.shape[1]} patches are not a square grid")
    patches = patches.reshape(1, old, old, -1).permute(0, 3, 1, 2)
    patches = F.interpolate(patches, size=grid, mode="bilinear", align_corners=False)
    return torch.cat([cls, patches.permute(0, 2, 3, 1).reshape(1, grid[0] * grid[1], -1)], dim=1)


def load_vit_weights(model: OverlapViT, weights: str) -> None:
    """`timm:NAME` (downloads ImageNet weights through timm, explicit) or a weights file: a timm /
    ViT state dict, bare or inside a checkpoint's "model" / "state_dict" entry.

    Position embeddings are resized bilinearly to the overlapping patch grid (as CTLG does).
    """
    if weights.startswith("timm:"):
        import timm

        state = timm.create_model(weights[5:], pretrained=True, num_classes=0).state_dict()
    else:
        state = read_state_dict(Path(weights))
    state = dict(state)
    if "pos_embed" in state and state["pos_embed"].shape != model.pos_embed.shape:
        state["pos_embed"] = resize_pos_embed(state["pos_embed"], model.grid)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    wrong = [k for k in own if k in state and state[k].shape != own[k].shape]
    if missing or wrong:
        raise ValueError(f"ViT weights {weights!r} do not fit: missing {missing[:5]}, wrong shape {wrong[:5]}")
    model.load_state_dict({k: state[k] for k in own})


class MobileNetV2Encoder(nn.Module):
    """torchvision MobileNetV2 body, global average pooled to 1280-d; stem = its first two stages.

    bn_eval (default): BatchNorm layers stay in eval mode during training, using the ImageNet
    statistics, because batch statistics of a few dozen crops are noisy; their affine
    parameters still train.
    """

    checkpointing = False

    def __init__(self, *, weights: str | None = "offline", bn_eval: bool = True) -> None:
        super().__init__()
        self.bn_eval = bool(bn_eval)
        from torchvision.models import mobilenet_v2

        features = mobilenet_v2(weights=None).features
        if weights == "offline":
            features.load_state_dict(load_offline_state_dict("mobilenet_v2"))
        elif weights is not None:
            raise ValueError(f"unknown MobileNetV2 weights {weights!r}; valid choices: offline, None")
        self.stem_layers = features[:2]
        self.head_layers = features[2:]
        self.out_dim = 1280

    def stem(self, images: torch.Tensor) -> torch.Tensor:
        return self.stem_layers(images)

    def train(self, mode: bool = True) -> "MobileNetV2Encoder":
        super().train(mode)
        if mode and self.bn_eval:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def head(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.checkpointing and self.training and torch.is_grad_enabled():
            tokens = checkpoint_sequential(self.head_layers, len(self.head_layers), tokens, use_reentrant=False)
        else:
            tokens = self.head_layers(tokens)
        return tokens.mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.stem(images))


@IMAGE_ENCODERS.register("vit-b16-overlap")
def vit_b16_overlap(*, image_size: tuple[int, int] = (384, 128), stride: int = 12,
                    weights: str | None = None) -> OverlapViT:
    """CTLG's image encoder; weights=`timm:vit_base_patch16_384.orig_in21k_ft_in1k` downloads the
    ImageNet-21k (fine-tuned on 1k at 384 px) weights CTLG used."""
    return OverlapViT(image_size=image_size, patch=16, stride=stride, dim=768, depth=12, heads=12, weights=weights)


@IMAGE_ENCODERS.register("vit-small-overlap")
def vit_small_overlap(*, image_size: tuple[int, int] = (128, 48), stride: int = 12, dim: int = 192,
                      depth: int = 4, heads: int = 3, weights: str | None = None) -> OverlapViT:
    """Same code as ViT-B/16 with small dimensions, for CPU runs and tests."""
    return OverlapViT(image_size=image_size, patch=16, stride=stride, dim=dim, depth=depth, heads=heads,
                      weights=weights)


@IMAGE_ENCODERS.register("mobilenet-v2")
def mobilenet_v2_encoder(*, weights: str | None = "offline", bn_eval: bool = True) -> MobileNetV2Encoder:
    """ImageNet MobileNetV2 loaded offline (weights='offline') or randomly initialised (None)."""
    return MobileNetV2Encoder(weights=weights, bn_eval=bn_eval)
