"""Backbones split SeqNet-style: a body giving one stride-16 map, and a head run on RoI features.

The head plays the role of ResNet's res5: applied to RoIAligned body features it returns
{"feat_res4": max-pooled input, "feat_res5": max-pooled output}, each (N, C, 1, 1).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from ..registry import Registry
from .norm import freeze_batch_norm
from .weights import get_offline_weights, load_offline_state_dict

WEIGHT_CHOICES = ("none", "offline", "torchvision")


class RoIHead(nn.Module):
    """Runs the backbone's last stage on RoI features and max-pools its input and output."""

    def __init__(self, layers: nn.Module) -> None:
        super().__init__()
        self.layers = layers

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        out = self.layers(x)
        return OrderedDict(
            [("feat_res4", F.adaptive_max_pool2d(x, 1)), ("feat_res5", F.adaptive_max_pool2d(out, 1))]
        )


class BackboneParts(NamedTuple):
    body: nn.Module  # image batch -> (B, body_channels, H/16, W/16)
    # (N, body_channels, h, w) -> {"feat_res4": (N, body_channels, 1, 1), "feat_res5": (N, head_channels, 1, 1)}
    head: RoIHead
    body_channels: int
    head_channels: int


class _Split(NamedTuple):
    body: nn.Sequential
    head: nn.Sequential
    stem: nn.Module
    body_channels: int
    head_channels: int


BACKBONES: Registry[Callable[[str], _Split]] = Registry("backbone")


def list_backbones() -> list[str]:
    return BACKBONES.names()


def _torchvision_weights(name: str) -> torchvision.models.WeightsEnum:
    return torchvision.models.get_model_weights(name).IMAGENET1K_V1


def _create(name: str, weights: str) -> nn.Module:
    if weights not in WEIGHT_CHOICES:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_CHOICES)}; got {weights!r}")
    if weights == "offline":
        target = get_offline_weights(name).target_module
        network = torchvision.models.get_model(name)
        network.get_submodule(target).load_state_dict(load_offline_state_dict(name), strict=True)
        return network
    return torchvision.models.get_model(name, weights=_torchvision_weights(name) if weights == "torchvision" else None)


def _split_resnet(name: str, weights: str) -> _Split:
    net = _create(name, weights)
    body = nn.Sequential(
        OrderedDict(
            [
                ("conv1", net.conv1),
                ("bn1", net.bn1),
                ("relu", net.relu),
                ("maxpool", net.maxpool),
                ("layer1", net.layer1),
                ("layer2", net.layer2),
                ("layer3", net.layer3),
            ]
        )
    )
    head = nn.Sequential(OrderedDict([("layer4", net.layer4)]))
    stem = nn.ModuleList([net.conv1, net.bn1])
    return _Split(body, head, stem, net.layer3[-1].conv1.in_channels, net.fc.in_features)


def _split_mobilenet_v2(name: str, weights: str) -> _Split:
    net = _create(name, weights)
    # features[:14] ends with the stride-16 96-channel blocks; [14:] holds the stride-32 blocks and the 1x1 to 1280
    body = nn.Sequential(*net.features[:14])
    head = nn.Sequential(*net.features[14:])
    return _Split(body, head, net.features[0], net.features[13].out_channels, net.last_channel)


def _split_shufflenet(name: str, weights: str) -> _Split:
    net = _create(name, weights)
    body = nn.Sequential(
        OrderedDict([("conv1", net.conv1), ("maxpool", net.maxpool), ("stage2", net.stage2), ("stage3", net.stage3)])
    )
    head = nn.Sequential(OrderedDict([("stage4", net.stage4), ("conv5", net.conv5)]))
    return _Split(body, head, net.conv1, net._stage_out_channels[2], net._stage_out_channels[4])


BACKBONES.register("resnet50")(_split_resnet)
BACKBONES.register("resnet18")(_split_resnet)
BACKBONES.register("mobilenet_v2")(_split_mobilenet_v2)
BACKBONES.register("shufflenet_v2_x1_0")(_split_shufflenet)


def build_backbone(
    name: str,
    *,
    weights: str = "none",
    freeze_bn: bool = True,
    freeze_stem: bool = True,
    freeze_body: bool = False,
    freeze_head: bool = False,
) -> BackboneParts:
    """Build a backbone split into a stride-16 body and a RoI head.

    weights: "none" (random init), "offline" (weights shipped in an installed package; see
    `personsearch.models.weights`), "torchvision" (ImageNet weights through torchvision's
    weights enums; downloads them on first use).
    freeze_bn: replace every BatchNorm2d with FrozenBatchNorm2d (statistics and affine fixed).
    freeze_stem: stop gradients into the first convolution and its norm layer, as SeqNet does.
    freeze_body: stop gradients into the whole stride-16 body, so detection and re-ID are learned
        on the pretrained features as they are (they then keep what ImageNet taught them, which
        transfers to real pictures better than a body fitted to synthetic ones).
    freeze_head: the same for the RoI head (the backbone's last stage); with freeze_body, only
        the detection and embedding layers on top of the pretrained features learn.
    """
    split = BACKBONES.get(name)(name, weights)
    frozen = split.body if freeze_body else split.stem if freeze_stem else None
    if frozen is not None:
        for parameter in frozen.parameters():
            parameter.requires_grad_(False)
    body, head = split.body, split.head
    if freeze_head:
        for parameter in head.parameters():
            parameter.requires_grad_(False)
    if freeze_bn:
        body, head = freeze_batch_norm(body), freeze_batch_norm(head)
    return BackboneParts(
        body=body, head=RoIHead(head), body_channels=split.body_channels, head_channels=split.head_channels
    )
