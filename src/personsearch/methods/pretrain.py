"""Hybrid pre-training of a whole one-step search model on sub-task data (PretrainPS).

Config sections:
- `method`: name "pretrain"; `eta` (L_con weight), `lambda` (L_adv weight), `contrast` and
  `alignment` switches, the prediction MLP's `predictor_hidden` (null: embedding_dim // 4),
  the alignment modules' `grl_weight`, `consistency_weight`, `image_hidden_channels`,
  `instance_hidden_features`, `dropout`; `instance_ids` ("table": every detection box and
  unlabelled crop gets its own OIM table row; "queue": they join OIM's queue as unlabelled);
  `queue_batches` sizes an automatic OIM queue; `detection_fraction` of every batch;
  `iterations_per_epoch` (null: one pass over the samples) sets how often checkpoints are written.
- `data`: `sources` (name -> {format, root, loader, max_images, subset_seed, synth}); `max_images`
  keeps a random subset of a source's training images (`data.unify.subset_training_images`); a
  source with `synth` ({size, seed, world: WorldSpec overrides, workers}) is generated into its
  root when absent;
  `source_weights` (name -> weight >= 0, default 1: each sample of a source that many times as
  likely to be drawn as a weight-1 sample of the same task; see `data.multi_source_sampler`);
  `views` (all | unlabelled | none: which samples get two augmented views), `placement`
  (expand_resize | random_paste), `canvas_size` [w, h], `ratio_range` [low, high].
- `model`: `build_search_model` keyword arguments (`num_pids: auto`, `queue_size: auto`).
- `train`: `personsearch.engine.TrainSettings`; batch_size counts samples (views double it).
- `output_dir`: checkpoints (resumable), metrics, and `pretrained.pth` (whole model) at the end.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

import torch

from personsearch.config import ConfigError, check_section_keys, section
from personsearch.data.multi_source_sampler import MultiSourceBatchSampler, check_source_weights
from personsearch.data.pretrain_dataset import PretrainDataset, collate_views
from personsearch.data.unify import UnifiedSources, load_sources
from personsearch.engine import TrainSettings, build_sgd, build_trainer
from personsearch.engine import distributed as du
from personsearch.engine.trainer import OWN_CLIP
from personsearch.methods.pretrain_export import PRETRAINED_FILE, export_pretrained
from personsearch.methods.supervised import build_model, fill_model_kwargs, training_run
from personsearch.models.domain_alignment import IntraTaskAlignment
from personsearch.models.losses.simsiam import PredictionMLP
from personsearch.methods.pretrain_model import PretrainingModel


@dataclasses.dataclass
class PretrainSettings:
    eta: float = 1.0
    lam: float = 1.0  # `lambda` in the config
    contrast: bool = True
    alignment: bool = True
    predictor_hidden: int | None = None
    grl_weight: float = 0.1
    consistency_weight: float = 1.0
    image_hidden_channels: list[int] = dataclasses.field(default_factory=lambda: [512])
    instance_hidden_features: list[int] = dataclasses.field(default_factory=lambda: [1024, 1024])
    dropout: float = 0.5
    instance_ids: str = "table"
    queue_batches: float = 100.0
    detection_fraction: float = 0.5
    iterations_per_epoch: int | None = None  # None: the samples' count / batch; a number: shorter epochs

    @classmethod
    def from_section(cls, values: Mapping[str, Any]) -> "PretrainSettings":
        values = {k: v for k, v in values.items() if k != "name"}
        if "lambda" in values:
            values["lam"] = values.pop("lambda")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            valid = ", ".join(["name"] + [("lambda" if n == "lam" else n) for n in names])
            raise ConfigError(f"unknown method setting(s) {unknown}; valid: {valid}")
        return cls(**values)


DATA_KEYS = ("sources", "source_weights", "views", "placement", "canvas_size", "ratio_range", "cache")
SOURCE_KEYS = ("format", "root", "loader", "max_images", "subset_seed", "synth")


def ensure_sources(data_cfg: Mapping[str, Any], *, show_progress: bool = True) -> dict[str, dict[str, Any]]:
    """The source configs, with every synthetic source written to its root if not there yet."""
    from personsearch.data.world_cache import ensure_synthetic_dataset

    sources = data_cfg.get("sources")
    if not isinstance(sources, Mapping) or not sources:
        raise ConfigError("data.sources must name at least one source: {name: {format, root}}")
    resolved = {}
    for name, cfg in sources.items():
        if cfg is None:  # a source switched off by an override (data.sources.NAME=null)
            continue
        check_section_keys(f"data.sources.{name}", cfg, SOURCE_KEYS)
        cfg = dict(cfg)
        synth = cfg.get("synth")
        if synth and du.is_main_process():
            ensure_synthetic_dataset(cfg["format"], cfg["root"], size=synth["size"], seed=int(synth["seed"]),
                                     world_overrides=synth.get("world") or {}, workers=int(synth.get("workers", 2)),
                                     show_progress=show_progress)
        resolved[name] = cfg
    du.barrier()
    if not resolved:
        raise ConfigError("every source of data.sources is switched off")
    return resolved


def active_source_weights(data_cfg: Mapping[str, Any]) -> dict[str, float] | None:
    """`data.source_weights` without the sources switched off (data.sources.NAME=null); a name that
    is no source of data.sources, or a weight that is not a number >= 0, is an error."""
    weights = data_cfg.get("source_weights")
    if not weights:
        return None
    if not isinstance(weights, Mapping):
        raise ConfigError(f"data.source_weights must map source names to weights; got {weights!r}")
    sources = data_cfg.get("sources") or {}
    try:
        check_source_weights(weights, list(sources))
    except ValueError as exc:
        raise ConfigError(f"data.{exc}") from None
    return {name: weight for name, weight in weights.items() if sources[name] is not None}


def _auto_queue(unified: UnifiedSources, batch_size: int, queue_batches: float) -> int:
    unlabelled = sum(int((s.pids < 0).sum()) for s in unified.samples)
    return max(1, math.ceil(unlabelled / max(len(unified.samples), 1) * batch_size * 2 * queue_batches))


def build_pretraining_model(search_model: torch.nn.Module, unified: UnifiedSources, settings: PretrainSettings,
                            *, embedding_dim: int) -> PretrainingModel:
    contrast_sources = {i for i, s in enumerate(unified.sources) if not s.real_ids}
    predictor = None
    if settings.contrast and contrast_sources and settings.eta > 0:
        hidden = settings.predictor_hidden or max(embedding_dim // 4, 8)
        predictor = PredictionMLP(dim=embedding_dim, hidden_dim=hidden)
    domains = {task: unified.domain_labels(task) for task in ("detection", "reid")}
    modules: dict[str, IntraTaskAlignment | None] = {"detection": None, "reid": None}
    if settings.alignment and settings.lam > 0:
        heads = search_model.roi_heads
        # the embedding's projectors read the body's channels (feat_res4) and the last stage's (feat_res5)
        map_channels = heads.embedding_head.projectors["feat_res4"][0].in_features
        instance_dims = {"detection": heads.embedding_head.projectors["feat_res5"][0].in_features,
                         "reid": embedding_dim}
        for task, labels in domains.items():
            if len(labels) >= 2:  # nothing to align within a task of one source
                modules[task] = IntraTaskAlignment(
                    num_domains=len(labels), map_channels=map_channels, instance_features=instance_dims[task],
                    image_hidden_channels=settings.image_hidden_channels,
                    instance_hidden_features=settings.instance_hidden_features, dropout=settings.dropout,
                    grl_weight=settings.grl_weight, consistency_weight=settings.consistency_weight)
    return PretrainingModel(model=search_model, contrast_sources=contrast_sources,
                            predictor=predictor, detection_alignment=modules["detection"],
                            reid_alignment=modules["reid"], domain_of_source=domains, eta=settings.eta,
                            lam=settings.lam)


def build_pretraining_optimizer(model: PretrainingModel, train: TrainSettings) -> torch.optim.SGD:
    """SGD over the model. The pre-training heads (the prediction MLP, the domain classifiers) each
    form a group that gradient clipping treats apart: clipped together with the search model's
    gradient, which OIM dominates, they hardly move (docs/pretrainps.md)."""
    heads = [m for m in (model.predictor, model.detection_alignment, model.reid_alignment) if m is not None]
    own = {p for head in heads for p in head.parameters()}
    optimizer = build_sgd((p for p in model.parameters() if p not in own), lr=train.lr, momentum=train.momentum,
                          weight_decay=train.weight_decay, nesterov=train.nesterov)
    for head in heads:
        optimizer.add_param_group({"params": [p for p in head.parameters() if p.requires_grad], OWN_CLIP: True})
    return optimizer


def load_unified(cfg: Mapping[str, Any], settings: PretrainSettings, *, show_progress: bool = True) -> UnifiedSources:
    data_cfg = section(dict(cfg), "data")
    check_section_keys("data", data_cfg, DATA_KEYS)
    sources = ensure_sources(data_cfg, show_progress=show_progress)
    return load_sources({name: {k: v for k, v in c.items() if k != "synth"} for name, c in sources.items()},
                        instance_ids=settings.instance_ids)


def pretraining_dataset(data_cfg: Mapping[str, Any], unified: UnifiedSources) -> PretrainDataset:
    return PretrainDataset(unified, views=data_cfg.get("views", "all"),
                           placement=data_cfg.get("placement", "expand_resize"),
                           canvas_size=data_cfg.get("canvas_size", (256, 512)),
                           ratio_range=data_cfg.get("ratio_range", (1.5, 3.0)))


def train_from_config(cfg: Mapping[str, Any], *, resume: str | None = None, extra_hooks=()) -> list[dict[str, float]]:
    """Pre-train as the config says; `resume` None, `auto` or a checkpoint path. Returns the history."""
    cfg = dict(cfg)
    settings = PretrainSettings.from_section(section(cfg, "method"))
    source_weights = active_source_weights(section(cfg, "data"))  # checked before any data is read
    with training_run(cfg) as (train_settings, output_dir, device):
        unified = load_unified(cfg, settings, show_progress=train_settings.progress)
        model_cfg = section(cfg, "model")
        model_kwargs = fill_model_kwargs(
            model_cfg, num_pids=unified.num_pids,
            queue_size=lambda: _auto_queue(unified, train_settings.batch_size, settings.queue_batches))
        search_model = build_model(model_kwargs, model_cfg)
        embedding_dim = int(model_kwargs.get("embedding_dim", 256))
        model = build_pretraining_model(search_model, unified, settings, embedding_dim=embedding_dim)
        data_cfg = section(cfg, "data")
        dataset = pretraining_dataset(data_cfg, unified)
        sampler = MultiSourceBatchSampler(tasks=dataset.tasks(), batch_size=train_settings.batch_size,
                                          detection_fraction=settings.detection_fraction, seed=train_settings.seed,
                                          num_replicas=du.get_world_size(), rank=du.get_rank(),
                                          batches_per_epoch=settings.iterations_per_epoch,
                                          sources=[unified.sources[s.source].name for s in unified.samples],
                                          source_weights=source_weights)
        trainer = build_trainer(
            settings=train_settings, model=model, model_kwargs=model_kwargs, train_dataset=dataset,
            collate_fn=collate_views, device=device, output_dir=output_dir, config=cfg, evaluator=None,
            resume=resume, batch_sampler=sampler, extra_hooks=extra_hooks,
            optimizer_factory=lambda _params: build_pretraining_optimizer(model, train_settings),
        )
        history = trainer.train()
        if du.is_main_process():
            state = {"model": du.unwrap_model(trainer.model).state_dict(), "model_kwargs": model_kwargs,
                     "iteration": trainer.iteration, "epoch": trainer.epoch, "config": cfg}
            export_pretrained(trainer_state=state, out=output_dir / PRETRAINED_FILE, parts="all",
                              sources=unified.sources)
        return history


def evaluate_from_config(cfg: Mapping[str, Any] | None, *, checkpoint: str, **options: Any) -> dict[str, Any]:
    raise ConfigError(
        f"{checkpoint} is a pre-training checkpoint: pre-training has no test split. Fine-tune it on a scene "
        "dataset (e.g. personsearch train --config preset:seqnet_synth_prw model.init_from=CHECKPOINT) and "
        "evaluate that")
