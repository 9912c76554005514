"""Adversarial domain alignment (Ganin & Lempitsky's gradient reversal; Domain Adaptive Faster R-CNN's
image- and instance-level classifiers with their consistency term), as PretrainPS's intra-task
alignment module (IAM) uses it: one module per task, classifying which source dataset a feature
came from while the reversed gradient makes the features hide it.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: float) -> torch.Tensor:
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad.neg() * ctx.weight, None


def reverse_gradient(x: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """Identity forward; backward multiplies the gradient by -weight."""
    return _ReverseGradient.apply(x, weight)


class ImageDomainClassifier(nn.Module):
    """Per-location domain logits of a feature map: 1x1 convolutions with ReLU, then a 1x1
    convolution (a fully connected layer applied at every location) to `num_domains` logits."""

    def __init__(self, *, in_channels: int, num_domains: int, hidden_channels: Sequence[int] = (512,)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for hidden in hidden_channels:
            layers += [nn.Conv2d(channels, hidden, kernel_size=1), nn.ReLU(inplace=True)]
            channels = hidden
        layers.append(nn.Conv2d(channels, num_domains, kernel_size=1))
        self.layers = nn.Sequential(*layers)
        for layer in self.layers:
            if isinstance(layer, nn.Conv2d):
                nn.init.normal_(layer.weight, std=0.001)
                nn.init.zeros_(layer.bias)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, num_domains, H, W)."""
        return self.layers(maps)


class InstanceDomainClassifier(nn.Module):
    """Domain logits of per-box vectors: fully connected layers with ReLU and dropout, then a
    fully connected layer to `num_domains` logits."""

    def __init__(
        self, *, in_features: int, num_domains: int, hidden_features: Sequence[int] = (1024, 1024), dropout: float = 0.5
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        features = in_features
        for hidden in hidden_features:
            layers += [nn.Linear(features, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            features = hidden
        layers.append(nn.Linear(features, num_domains))
        self.layers = nn.Sequential(*layers)
        for layer in self.layers:
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, std=0.01)
                nn.init.zeros_(layer.bias)

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        """(N, D) -> (N, num_domains)."""
        return self.layers(vectors.flatten(1))


class IntraTaskAlignment(nn.Module):
    """One task's alignment module over its `num_domains` source datasets.

    Inputs: image-level maps (M, C, H, W), each belonging to group `map_group[m]`, and instance
    vectors (N, D) in group `instance_group[n]`; a group is the unit whose image-level prediction
    the consistency term compares with its instances' (an image for the detection module, a box's
    RoIAlign map for the re-ID module), and `group_domain[g]` is its source dataset.
    Losses: cross-entropy of the image-level classifier (averaged over locations), of the
    instance-level classifier, and the consistency term: the squared L2 distance between a group's
    mean image-level domain probabilities and each of its instances' probabilities. Features pass
    through gradient reversal (weight `grl_weight`) before the classifiers.
    """

    def __init__(
        self,
        *,
        num_domains: int,
        map_channels: int,
        instance_features: int,
        image_hidden_channels: Sequence[int] = (512,),
        instance_hidden_features: Sequence[int] = (1024, 1024),
        dropout: float = 0.5,
        grl_weight: float = 0.1,
        consistency_weight: float = 1.0,
    ) -> None:
        super().__init__()
        if num_domains < 2:
            raise ValueError(f"domain alignment needs at least 2 source datasets; got {num_domains}")
        self.num_domains = num_domains
        self.grl_weight = grl_weight
        self.consistency_weight = consistency_weight
        self.image_classifier = ImageDomainClassifier(
            in_channels=map_channels, num_domains=num_domains, hidden_channels=image_hidden_channels)
        self.instance_classifier = InstanceDomainClassifier(
            in_features=instance_features, num_domains=num_domains, hidden_features=instance_hidden_features,
            dropout=dropout)

    def forward(
        self,
        *,
        maps: torch.Tensor,
        map_group: torch.Tensor,
        instances: torch.Tensor,
        instance_group: torch.Tensor,
        group_domain: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        zero = maps.sum() * 0.0 + instances.sum() * 0.0
        losses = {"loss_domain_image": zero, "loss_domain_instance": zero, "loss_domain_consistency": zero}
        if maps.shape[0] == 0:
            return losses
        image_logits = self.image_classifier(reverse_gradient(maps, self.grl_weight))
        map_domain = group_domain[map_group]
        per_location = map_domain[:, None, None].expand(-1, *image_logits.shape[2:])
        losses["loss_domain_image"] = F.cross_entropy(image_logits, per_location)
        if instances.shape[0] == 0:
            return losses
        instance_logits = self.instance_classifier(reverse_gradient(instances, self.grl_weight))
        losses["loss_domain_instance"] = F.cross_entropy(instance_logits, group_domain[instance_group])
        # consistency: a group's mean image-level probabilities against each of its instances'
        map_probs = image_logits.softmax(dim=1).mean(dim=(2, 3))
        num_groups = group_domain.shape[0]
        sums = map_probs.new_zeros(num_groups, self.num_domains).index_add_(0, map_group, map_probs)
        counts = map_probs.new_zeros(num_groups).index_add_(0, map_group, torch.ones_like(map_group, dtype=map_probs.dtype))
        group_probs = sums / counts.clamp(min=1.0)[:, None]
        has_maps = counts[instance_group] > 0
        if has_maps.any():
            distance = (group_probs[instance_group] - instance_logits.softmax(dim=1)).pow(2).sum(dim=1)
            losses["loss_domain_consistency"] = self.consistency_weight * distance[has_maps].mean()
        return losses
