"""Optimizer and learning-rate schedule: SGD with momentum and weight decay, linear
warm-up, then step decay at epoch milestones. The schedule is stepped every iteration."""

from __future__ import annotations

from typing import Iterable, Sequence

import torch
from torch.optim.lr_scheduler import LRScheduler


def build_sgd(
    params: Iterable[torch.nn.Parameter],
    *,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> torch.optim.SGD:
    trainable = [p for p in params if p.requires_grad]
    if not trainable:
        raise ValueError("the model has no trainable parameters")
    return torch.optim.SGD(trainable, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)


def scale_learning_rates(optimizer: torch.optim.Optimizer, factor: float) -> None:
    """Multiply every parameter group's LR by `factor`; call before building the LR schedule."""
    if factor <= 0:
        raise ValueError(f"the LR scale must be positive, got {factor}")
    for group in optimizer.param_groups:
        group["lr"] *= factor


def lr_factor(
    iteration: int,
    *,
    warmup_iters: int,
    warmup_factor: float,
    milestones: Sequence[int],
    gamma: float,
) -> float:
    """Multiplier of the base LR at `iteration` (0-based): linear warm-up from `warmup_factor`
    to 1 over `warmup_iters` iterations, times `gamma` per milestone (in iterations) passed."""
    factor = gamma ** sum(1 for milestone in milestones if iteration >= milestone)
    if iteration < warmup_iters:
        alpha = iteration / warmup_iters
        factor *= warmup_factor * (1.0 - alpha) + alpha
    return factor


class WarmupStepLR(LRScheduler):
    """Per-iteration schedule; `milestones` and `warmup_iters` count iterations."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        *,
        milestones: Sequence[int],
        gamma: float = 0.1,
        warmup_iters: int = 0,
        warmup_factor: float = 0.001,
        last_epoch: int = -1,
    ) -> None:
        if list(milestones) != sorted(milestones):
            raise ValueError(f"milestones must be increasing, got {list(milestones)}")
        if warmup_iters < 0 or not 0.0 < warmup_factor <= 1.0:
            raise ValueError(f"need warmup_iters >= 0 and 0 < warmup_factor <= 1, got {warmup_iters}, {warmup_factor}")
        self.milestones = [int(m) for m in milestones]
        self.gamma = float(gamma)
        self.warmup_iters = int(warmup_iters)
        self.warmup_factor = float(warmup_factor)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        factor = lr_factor(
            self.last_epoch,
            warmup_iters=self.warmup_iters,
            warmup_factor=self.warmup_factor,
            milestones=self.milestones,
            gamma=self.gamma,
        )
        return [base_lr * factor for base_lr in self.base_lrs]


def build_warmup_step_lr(
    optimizer: torch.optim.Optimizer,
    *,
    iters_per_epoch: int,
    milestones_epochs: Sequence[float],
    gamma: float = 0.1,
    warmup_epochs: float = 1.0,
    warmup_factor: float = 0.001,
) -> WarmupStepLR:
    """Milestones and warm-up length given in epochs, converted with `iters_per_epoch`."""
    return WarmupStepLR(
        optimizer,
        milestones=[round(epoch * iters_per_epoch) for epoch in milestones_epochs],
        gamma=gamma,
        warmup_iters=round(warmup_epochs * iters_per_epoch),
        warmup_factor=warmup_factor,
    )
