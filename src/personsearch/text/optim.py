"""Optimizer parameter groups for the dual encoder (as IRRA's solver does).

- Pretrained encoders (`encoder.image_encoder`, `encoder.text_encoder`) train at the base LR.
- Modules that start from random weights (projections, identity classifier) train at
  `new_module_lr_factor` x the base LR.
- Biases, normalisation weights and the ViT's position / class embeddings get no weight decay.

Config (`solver` section): name (adam | adamw | sgd), betas, new_module_lr_factor; the base LR,
weight decay and momentum come from the `train` section.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from personsearch.config import ConfigError

SOLVERS = ("adam", "adamw", "sgd")
SOLVER_KEYS = {"name", "betas", "new_module_lr_factor"}
ENCODER_PREFIXES = ("encoder.image_encoder.", "encoder.text_encoder.")
NO_DECAY_NAMES = ("pos_embed", "cls_token")


def parameter_groups(model: nn.Module, *, lr: float, weight_decay: float,
                     new_module_lr_factor: float = 1.0) -> list[dict[str, Any]]:
    """Named groups encoders/new x decay/no_decay (empty groups left out), trainable parameters only."""
    groups: dict[tuple[str, bool], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        part = "encoders" if name.startswith(ENCODER_PREFIXES) else "new"
        decay = param.ndim >= 2 and not name.endswith(NO_DECAY_NAMES)
        groups.setdefault((part, decay), []).append(param)
    if not groups:
        raise ValueError("the model has no trainable parameters")
    order = [("encoders", True), ("encoders", False), ("new", True), ("new", False)]
    return [
        {"name": f"{part}/{'decay' if decay else 'no_decay'}", "params": groups[(part, decay)],
         "lr": lr * (new_module_lr_factor if part == "new" else 1.0), "weight_decay": weight_decay if decay else 0.0}
        for part, decay in order if (part, decay) in groups
    ]


def build_optimizer(model: nn.Module, solver: Mapping[str, Any], *, lr: float, weight_decay: float,
                    momentum: float = 0.9, nesterov: bool = False) -> torch.optim.Optimizer:
    unknown = sorted(set(solver) - SOLVER_KEYS)
    if unknown:
        raise ConfigError(f"unknown solver setting(s) {unknown}; valid: {', '.join(sorted(SOLVER_KEYS))}")
    name = solver.get("name", "adam")
    factor = float(solver.get("new_module_lr_factor", 1.0))
    if factor <= 0:
        raise ConfigError(f"solver.new_module_lr_factor must be > 0, got {factor}")
    groups = parameter_groups(model, lr=lr, weight_decay=weight_decay, new_module_lr_factor=factor)
    betas = tuple(solver.get("betas", (0.9, 0.999)))
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=betas)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=betas)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov)
    raise ConfigError(f"unknown solver.name {name!r}; valid choices: {', '.join(SOLVERS)}")
