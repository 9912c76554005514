"""The CTLG training recipe: config sections -> dataset, dual encoder, Adam with parameter
groups (`personsearch.text.optim`) + warm-up/step schedule, and the engine's Trainer with its
hooks (evaluation, metrics CSV, curves, atomic checkpoints carrying "model_kwargs", "model" and
the config; exact resume).

Config sections: `model` (arguments of `build_text_training_model`), `data`, `solver`,
`train` (engine `TrainSettings`; train.lr is the encoders' LR), `eval`, `output_dir`.
Under torchrun, train.batch_size is per process and the contrastive loss sees
world_size x batch_size pairs.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

from personsearch.config import ConfigError, section
from personsearch.data.catalog import dataset_kind, load_dataset
from personsearch.data.records import CaptionData
from personsearch.engine.hooks import HookBase
from personsearch.engine.setup import TrainSettings, build_trainer, prepare_run
from personsearch.engine.trainer import Trainer
from personsearch.text.augment import ApproximateText
from personsearch.text.data import CaptionPairDataset, collate_pairs
from personsearch.text.evaluate import retrieval_evaluator
from personsearch.text.optim import build_optimizer
from personsearch.text.tokenizer import TextTokenizer
from personsearch.text.training_model import TextTrainingModel, build_text_training_model

DATA_KEYS = {"format", "root", "pad", "flip", "approximate_text", "pixel_mixup_p", "eval_split"}


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
    eval_records = getattr(data, data_cfg.get("eval_split", "test"))
    eval_period = int(eval_cfg.get("period", 1))
    evaluator = None
    if eval_records and eval_period >= 0:
        evaluator = retrieval_evaluator(eval_records, batch_size=int(eval_cfg.get("batch_size", 64)))
    solver_cfg = section(cfg, "solver")
    return build_trainer(
        settings=settings, model=model, model_kwargs=model_kwargs, train_dataset=dataset,
        collate_fn=collate_pairs, device=device, output_dir=output_dir, config=dict(cfg),
        evaluator=evaluator, eval_period=max(eval_period, 0), resume=resume,
        optimizer_factory=lambda _params: build_optimizer(
            model, solver_cfg, lr=settings.lr, weight_decay=settings.weight_decay,
            momentum=settings.momentum, nesterov=settings.nesterov),
        extra_hooks=[EpochSeedHook(dataset)],
    )
