"""From the config's `train` section to a ready `Trainer` with the standard hooks.

`TrainSettings` lists every key of the section with its default; unknown keys are
an error naming the valid ones. Recipes (methods/) build the dataset and model and
hand them here.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch
from torch import nn
from torch.utils.data import Dataset, Sampler
from tqdm import tqdm

from personsearch.config import ConfigError, check_section_keys, save_config
from personsearch.engine import distributed as du
from personsearch.engine.checkpoint import find_resume_checkpoint, load_checkpoint
from personsearch.engine.data_loader import build_train_loader
from personsearch.engine.hooks import CheckpointHook, CurvesHook, EvalHook, Evaluator, HookBase
from personsearch.engine.rng import seed_everything
from personsearch.engine.solver import build_sgd, build_warmup_step_lr, scale_learning_rates
from personsearch.engine.trainer import Trainer
from personsearch.engine.writers import EPOCHS_CSV, ITERATIONS_CSV, MetricsWriter

CURVES_PNG = "curves.png"
CONFIG_YAML = "config.yaml"


@dataclass
class TrainSettings:
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    seed: int = 1
    epochs: int = 20
    batch_size: int = 5  # images per process and iteration
    workers: int = 2
    drop_last: bool = True
    lr: float = 0.003
    # under torchrun the global batch is batch_size x processes: multiply the LR of every
    # parameter group by the process count (the linear scaling rule); false keeps lr as given
    scale_lr_with_world_size: bool = True
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = False
    warmup_epochs: float = 1.0  # linear warm-up length (may be a fraction of an epoch)
    warmup_factor: float = 0.001  # LR multiplier at iteration 0
    milestones: list[float] = field(default_factory=lambda: [16])  # epochs after which LR *= gamma
    gamma: float = 0.1
    clip_grad_norm: float | None = 10.0  # None or <= 0 disables clipping
    amp: bool = True  # mixed precision, used on CUDA only
    loss_weights: dict[str, float] = field(default_factory=dict)  # loss term -> weight (default 1)
    keep_last: int = 3  # epoch checkpoints kept (0 keeps all)
    log_period: int = 20  # iterations between rows of iterations.csv
    tensorboard: bool = True  # when the tensorboard package is installed
    progress: bool = True  # tqdm bar on rank 0
    find_unused_parameters: bool = True  # for DistributedDataParallel

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> "TrainSettings":
        check_section_keys("train", section, [f.name for f in dataclasses.fields(cls)])
        settings = cls(**dict(section))
        if settings.epochs < 1 or settings.batch_size < 1 or settings.workers < 0:
            raise ConfigError("train.epochs and train.batch_size must be >= 1 and train.workers >= 0")
        return settings


def prepare_run(settings: TrainSettings) -> torch.device:
    """Pick the device, join the process group when launched by torchrun, seed every generator.
    Call before building the model so its initial weights follow the seed."""
    device = du.resolve_device(settings.device)
    du.init_distributed(device)
    seed_everything(settings.seed)
    return device


def world_size_lr_scale(settings: TrainSettings) -> int:
    """The LR multiplier for this run: the process count under torchrun (logged once), else 1."""
    world_size = du.get_world_size()
    scale = world_size if settings.scale_lr_with_world_size else 1
    if world_size > 1 and du.is_main_process():
        rule = (f"learning rate x{scale} (train.lr {settings.lr:g} -> {settings.lr * scale:g}; "
                "train.scale_lr_with_world_size=false keeps it)" if scale != 1 else
                f"learning rate kept at train.lr {settings.lr:g} (train.scale_lr_with_world_size=false)")
        tqdm.write(f"{world_size} processes x batch {settings.batch_size} = global batch "
                   f"{world_size * settings.batch_size}; {rule}")
    return scale


def build_trainer(
    *,
    settings: TrainSettings,
    model: nn.Module,
    model_kwargs: Mapping[str, Any],
    train_dataset: Dataset,
    collate_fn: Callable,
    device: torch.device,
    output_dir: str | os.PathLike,
    config: Mapping[str, Any],
    evaluator: Evaluator | None = None,
    eval_period: int = 1,
    resume: str | None = None,
    optimizer_factory: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer] | None = None,
    extra_hooks: Sequence[HookBase] = (),
    batch_sampler: Sampler[list[int]] | None = None,
) -> Trainer:
    """`resume`: None (fresh), `auto` (output_dir/last.pth if present) or a checkpoint path.

    `optimizer_factory` builds the optimizer from the model's parameters (default: SGD from
    `settings`); `extra_hooks` run before the standard ones; `batch_sampler` replaces the
    loader's shuffled sampler (see `build_train_loader`).
    """
    output_dir = Path(output_dir)
    model.to(device)
    if du.get_world_size() > 1:
        # the model is built (DDP starts every process from rank 0's weights); from here on each
        # process draws its own augmentations instead of repeating rank 0's coins on other images
        seed_everything(settings.seed + du.get_rank())
    loader = build_train_loader(
        train_dataset,
        batch_size=settings.batch_size,
        collate_fn=collate_fn,
        seed=settings.seed,
        num_workers=settings.workers,
        drop_last=settings.drop_last,
        batch_sampler=batch_sampler,
    )
    if optimizer_factory is None:
        optimizer = build_sgd(
            model.parameters(),
            lr=settings.lr,
            momentum=settings.momentum,
            weight_decay=settings.weight_decay,
            nesterov=settings.nesterov,
        )
    else:
        optimizer = optimizer_factory(model.parameters())
    lr_scale = world_size_lr_scale(settings)
    if lr_scale != 1:
        scale_learning_rates(optimizer, lr_scale)
    scheduler = build_warmup_step_lr(
        optimizer,
        iters_per_epoch=len(loader),
        milestones_epochs=settings.milestones,
        gamma=settings.gamma,
        warmup_epochs=settings.warmup_epochs,
        warmup_factor=settings.warmup_factor,
    )
    hooks = list(extra_hooks)
    if evaluator is not None:
        hooks.append(EvalHook(evaluator=evaluator, period=eval_period))
    hooks += [
        MetricsWriter(output_dir=output_dir, period=settings.log_period, tensorboard=settings.tensorboard),
        CurvesHook(output_dir=output_dir, epochs_csv=EPOCHS_CSV, iterations_csv=ITERATIONS_CSV, png=CURVES_PNG),
        CheckpointHook(output_dir=output_dir, model_kwargs=model_kwargs, config=config, keep_last=settings.keep_last),
    ]
    trainer = Trainer(
        model=du.wrap_model(model, device, find_unused_parameters=settings.find_unused_parameters),
        optimizer=optimizer,
        scheduler=scheduler,
        train_loader=loader,
        device=device,
        epochs=settings.epochs,
        hooks=hooks,
        clip_grad_norm=settings.clip_grad_norm,
        amp=settings.amp,
        loss_weights=settings.loss_weights,
        show_progress=settings.progress,
    )
    if du.is_main_process():
        save_config(dict(config), output_dir / CONFIG_YAML)
    if resume is not None:
        path = find_resume_checkpoint(resume, output_dir)
        if path is not None:
            trainer.load_state_dict(load_checkpoint(path, map_location=device), source=str(path))
        if du.is_main_process():
            where = f"{path} (epoch {trainer.epoch}, iteration {trainer.iteration})" if path else None
            tqdm.write(f"resuming from {where}" if where else f"no checkpoint in {output_dir}; starting fresh")
    return trainer
