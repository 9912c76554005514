"""The CTLG training recipe: config sections -> dataset, dual encoder, Adam + warm-up/step
schedule, and the engine's Trainer with its hooks (evaluation, metrics CSV, curves, atomic
checkpoints carrying "model_kwargs", "model" and the config; exact resume).

Config sections: `model` (arguments of `build_text_training_model`), `data`, `solver`,
`train` (engine `TrainSettings`), `eval`, `output_dir`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

import torch

from personsearch.config import ConfigError, save_config, section
from personsearch.data.catalog import dataset_kind, load_dataset
from personsearch.data.records import CaptionData
from personsearch.engine import distributed as du
from personsearch.engine.checkpoint import find_resume_checkpoint, load_checkpoint
from personsearch.engine.data_loader import build_train_loader
from personsearch.engine.hooks import CheckpointHook, CurvesHook, EvalHook, HookBase
from personsearch.engine.setup import CONFIG_YAML, CURVES_PNG, TrainSettings, prepare_run
from personsearch.engine.solver import build_warmup_step_lr
from personsearch.engine.trainer import Trainer
from personsearch.engine.writers import EPOCHS_CSV, ITERATIONS_CSV, MetricsWriter
from personsearch.text.augment import ApproximateText
from personsearch.text.data import CaptionPairDataset, collate_pairs
from personsearch.text.evaluate import retrieval_evaluator
from personsearch.text.tokenizer import TextTokenizer
from personsearch.text.training_model import TextTrainingModel, build_text_training_model

DATA_KEYS = {"format", "root", "pad", "flip", "approximate_text", "pixel_mixup_p", "eval_split"}
SOLVERS = ("adam", "adamw", "sgd")


class EpochSeedHook(HookBase):
    """Tells the dataset which epoch is starting (its per-item generators depend on it)."""

    def __init__(self, dataset: CaptionPairDataset) -> None:
        self.dataset = dataset

    def before_epoch(self, trainer: Trainer) -> None:
        self.dataset.set_epoch(trainer.epoch)


def load_caption_data(data_cfg: Mapping[str, Any]) -> CaptionData:
    name, root = data_cfg.get("format"), data_cfg.get("root")
    if not name or not root:
        raise ConfigError("data.format and data.root must be set (e.g. data.format=cuhk-pedes data.root=/data/CUHK-PEDES)")
    if dataset_kind(name) != "caption":
        raise ConfigError(f"data.format {name!r} is not a text-person dataset (cuhk-pedes, icfg-pedes, rstpreid)")
    return load_dataset(name, root)


def resolve_model_kwargs(model_cfg: Mapping[str, Any], num_train_pids: int) -> dict[str, Any]:
    """The identity classifier gets one class per training identity when the identity loss is on."""
    kwargs = copy.deepcopy(dict(model_cfg))
    encoder = kwargs.setdefault("encoder", {})
    if kwargs.get("loss", {}).get("id_weight", 0.0) > 0 and not encoder.get("num_classes"):
        encoder["num_classes"] = int(num_train_pids)
    if "image_size" in encoder:
        encoder["image_size"] = [int(v) for v in encoder["image_size"]]
    return kwargs


def build_optimizer(params, solver: Mapping[str, Any], settings: TrainSettings) -> torch.optim.Optimizer:
    name = solver.get("name", "adam")
    trainable = [p for p in params if p.requires_grad]
    betas = tuple(solver.get("betas", (0.9, 0.999)))
    if name == "adam":
        return torch.optim.Adam(trainable, lr=settings.lr, betas=betas, weight_decay=settings.weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(trainable, lr=settings.lr, betas=betas, weight_decay=settings.weight_decay)
    if name == "sgd":
        return torch.optim.SGD(trainable, lr=settings.lr, momentum=settings.momentum,
                               weight_decay=settings.weight_decay, nesterov=settings.nesterov)
    raise ConfigError(f"unknown solver.name {name!r}; valid choices: {', '.join(SOLVERS)}")


def build_text_trainer(cfg: Mapping[str, Any], *, resume: str | None = None) -> Trainer:
    """`resume`: None (fresh), `auto` (output_dir/last.pth when present) or a checkpoint path."""
    settings = TrainSettings.from_section(section(cfg, "train"))
    data_cfg = section(cfg, "data")
    unknown = sorted(set(data_cfg) - DATA_KEYS)
    if unknown:
        raise ConfigError(f"unknown data setting(s) {unknown}; valid: {', '.join(sorted(DATA_KEYS))}")
    eval_cfg = section(cfg, "eval")
    output_dir = Path(cfg.get("output_dir") or "runs/ctlg")
    device = prepare_run(settings)

    data = load_caption_data(data_cfg)
    model_kwargs = resolve_model_kwargs(section(cfg, "model"), data.num_train_pids)
    model: TextTrainingModel = build_text_training_model(**model_kwargs)
    enc = model.encoder
    approx = data_cfg.get("approximate_text") or {}
    dataset = CaptionPairDataset(
        records=data.train,
        tokenizer=TextTokenizer(max_length=enc.max_length),
        image_size=enc.image_size,
        seed=settings.seed,
        pad=int(data_cfg.get("pad", 10)),
        flip=bool(data_cfg.get("flip", True)),
        approximate_text=ApproximateText(**approx) if approx.get("p", 0) > 0 else None,
        pixel_mixup_p=float(data_cfg.get("pixel_mixup_p", 0.0)),
    )
    model.to(device)
    loader = build_train_loader(dataset, batch_size=settings.batch_size, collate_fn=collate_pairs,
                                seed=settings.seed, num_workers=settings.workers, drop_last=settings.drop_last)
    optimizer = build_optimizer(model.parameters(), section(cfg, "solver"), settings)
    scheduler = build_warmup_step_lr(optimizer, iters_per_epoch=len(loader), milestones_epochs=settings.milestones,
                                     gamma=settings.gamma, warmup_epochs=settings.warmup_epochs,
                                     warmup_factor=settings.warmup_factor)
    eval_records = getattr(data, data_cfg.get("eval_split", "test"))
    hooks: list[HookBase] = [EpochSeedHook(dataset)]
    if eval_records and int(eval_cfg.get("period", 1)) >= 0:
        hooks.append(EvalHook(evaluator=retrieval_evaluator(eval_records, batch_size=int(eval_cfg.get("batch_size", 64))),
                              period=int(eval_cfg.get("period", 1))))
    hooks += [
        MetricsWriter(output_dir=output_dir, period=settings.log_period, tensorboard=settings.tensorboard),
        CurvesHook(output_dir=output_dir, epochs_csv=EPOCHS_CSV, iterations_csv=ITERATIONS_CSV, png=CURVES_PNG),
        CheckpointHook(output_dir=output_dir, model_kwargs=model_kwargs, config=dict(cfg), keep_last=settings.keep_last),
    ]
    trainer = Trainer(
        model=du.wrap_model(model, device, find_unused_parameters=settings.find_unused_parameters),
        optimizer=optimizer, scheduler=scheduler, train_loader=loader, device=device, epochs=settings.epochs,
        hooks=hooks, clip_grad_norm=settings.clip_grad_norm, amp=settings.amp, loss_weights=settings.loss_weights,
        show_progress=settings.progress,
    )
    if du.is_main_process():
        save_config(dict(cfg), output_dir / CONFIG_YAML)
    if resume is not None:
        path = find_resume_checkpoint(resume, output_dir)
        if path is not None:
            trainer.load_state_dict(load_checkpoint(path, map_location=device), source=str(path))
    return trainer
