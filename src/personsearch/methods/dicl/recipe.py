"""DICL (weakly supervised one-step person search): train from boxes alone, no identities.

Config sections as the supervised recipe (`data`, `model`, `train`, `eval`, `output_dir`)
plus `method` (see `DICLSettings`). The training split's identities are dropped before the
dataset is built (`strip_identities`); `method.score_clusters` reads them only to score each
epoch's clusters (pairwise precision / recall), never to train. Evaluation is the supervised
evaluator on the search model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from personsearch.config import ConfigError, check_section_keys, section
from personsearch.data.records import SceneSearchData
from personsearch.data.scene_augment import SceneAugment
from personsearch.data.scene_dataset import collate_scenes
from personsearch.engine import TrainSettings, build_trainer, load_checkpoint
from personsearch.methods.dicl.clustering import ClusteringSettings, pairwise_precision_recall
from personsearch.methods.dicl.hooks import ClusteringHook, SearchModelExportHook
from personsearch.methods.dicl.siamese import DICLTrainingModel, InstanceAveragedSearch
from personsearch.methods.dicl.weak_data import WeakSceneDataset, count_slots, image_of_slot, strip_identities
from personsearch.methods.supervised import (EvalSettings, TrainingEvaluator, build_model, evaluate_checkpoint,
                                             load_scene_data, training_run)
from personsearch.models.init_from import INIT_KEYS, init_options
from personsearch.models.search_model import load_search_model

TRAINABLE = ("all", "reid")
SEARCH_PREFIX = "search_model."
OIM_PREFIX = "roi_heads.reid_loss."


@dataclass
class DICLSettings:
    name: str = "dicl"
    siamese: bool = True  # instance branch (needed by the many-to-one and dense terms)
    instance_size: list[int] = field(default_factory=lambda: [224, 96])  # instance crops (h, w)
    memory_temperature: float = 0.05
    memory_momentum: float = 0.2  # M <- normalise(momentum M + (1 - momentum) x)
    hard_negative_mass: float = 0.6
    memory_singletons: str = "train"  # DICL: outliers train as their own clusters; "ignore": left out of the contrast
    memory_weight: float = 1.0
    many_to_one_weight: float = 1.0  # 0 switches a term off
    dense_weight: float = 0.1
    dense_temperature: float = 1.0
    dense_reduction: str = "batchmean"  # or "mean" (the original's mean over N^2 entries)
    occlusion_prob: float = 0.5  # occlusion-invariant contrast; 0 disables the masking
    occlusion_grid: list[int] = field(default_factory=lambda: [14, 6])
    occlusion_cells: int = 2
    triplet_weight: float = 1.0
    triplet_margin: float = 0.3
    triplet_background_weight: float = 0.25
    cluster_k1: int = 30
    cluster_k2: int = 6
    cluster_eps: float = 0.7
    cluster_min_samples: int = 4
    test_instance_branch: bool = False  # average detections with instance-branch crops at test time
    score_clusters: bool = False  # log clusters' pairwise precision / recall against the data's identities
    init_checkpoint: str | None = None  # start from a trained search model (e.g. `personsearch adapt`)
    trainable: str = "all"  # "all", or "reid": only the re-ID head and embedding (backbone and detector frozen)

    @classmethod
    def from_section(cls, values: Mapping[str, Any]) -> "DICLSettings":
        check_section_keys("method", values, [f.name for f in dataclasses.fields(cls)])
        settings = cls(**dict(values))
        if settings.trainable not in TRAINABLE:
            raise ConfigError(f"method.trainable must be one of {', '.join(TRAINABLE)}; got {settings.trainable!r}")
        return settings

    def clustering(self) -> ClusteringSettings:
        return ClusteringSettings(k1=self.cluster_k1, k2=self.cluster_k2, eps=self.cluster_eps,
                                  min_samples=self.cluster_min_samples)

    def training_model_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `DICLTrainingModel` besides the search model and slot count."""
        skip = {"name", "cluster_k1", "cluster_k2", "cluster_eps", "cluster_min_samples", "test_instance_branch",
                "score_clusters", "init_checkpoint", "trainable"}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}


def search_model_kwargs(model_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """`build_search_model` arguments (the `model` section without `init_from` / `init_parts`): the
    search model's own OIM head is not trained by DICL, so it gets a single unused identity and no queue."""
    return {key: value for key, value in model_cfg.items() if key not in INIT_KEYS} | {"num_pids": 1, "queue_size": 0}


def search_state_dict(checkpoint: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The search model's weights from a DICL training checkpoint or an exported search model."""
    state = checkpoint["model"]
    if any(key.startswith(SEARCH_PREFIX) for key in state):
        return {key[len(SEARCH_PREFIX):]: value for key, value in state.items() if key.startswith(SEARCH_PREFIX)}
    return dict(state)


def init_from_checkpoint(model: nn.Module, path: str) -> None:
    """Load a trained search model's weights, except its OIM tables (their sizes follow its identities)."""
    state = {key: value for key, value in search_state_dict(load_checkpoint(path)).items()
             if not key.startswith(OIM_PREFIX)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [key for key in missing if not key.startswith(OIM_PREFIX)]
    if missing or unexpected:
        raise ConfigError(f"{path}: weights do not fit the configured model (missing {missing[:5]}, "
                          f"unexpected {unexpected[:5]}); use the checkpoint's model settings")


def freeze_all_but_reid(search_model: nn.Module) -> None:
    search_model.requires_grad_(False)
    search_model.roi_heads.reid_head.requires_grad_(True)
    search_model.roi_heads.embedding_head.requires_grad_(True)


def test_model(search_model: nn.Module, settings: DICLSettings) -> nn.Module:
    if settings.test_instance_branch:
        return InstanceAveragedSearch(search_model=search_model, instance_size=settings.instance_size)
    return search_model


def box_identities(records: Sequence[Any]) -> np.ndarray:
    """The records' box identities in memory-slot order (for scoring and diagnostics, never training)."""
    return np.concatenate([np.asarray(r.pids, dtype=np.int64).reshape(-1) for r in records] or [np.zeros(0, int)])


def identity_scorer(data: SceneSearchData):
    truth = box_identities(data.train)
    return lambda labels: pairwise_precision_recall(labels, truth)


def build_dicl_trainer(cfg: Mapping[str, Any], data: SceneSearchData, *, device: torch.device,
                       resume: str | None = None, cluster_scorer=None, evaluator=None, extra_hooks=(),
                       must_links=None, export_extra: Mapping[str, Any] | None = None):
    """The DICL model around a fresh search model, and a trainer with the DICL hooks. Reads only the
    training records' names, paths and boxes. `must_links`: groups of slot indices that must share a
    cluster (e.g. tracklets); `export_extra`: entries added to every exported search_model.pth (e.g.
    "person_height"). Returns (trainer, search model kwargs)."""
    method = DICLSettings.from_section(section(cfg, "method"))
    data_cfg = section(cfg, "data")
    settings = TrainSettings.from_section(section(cfg, "train"))
    weak = strip_identities(data.train)
    num_slots = count_slots(weak)
    if num_slots < 2:
        raise ConfigError(f"{data.name}: the training split has {num_slots} person boxes; DICL needs several")
    model_cfg = section(cfg, "model")
    if method.init_checkpoint and init_options(model_cfg)[0]:
        raise ConfigError("method.init_checkpoint and model.init_from both set initial weights; keep one")
    model_kwargs = search_model_kwargs(model_cfg)
    search_model = build_model(model_kwargs, model_cfg)
    if method.init_checkpoint:
        init_from_checkpoint(search_model, method.init_checkpoint)
    if method.trainable == "reid":
        freeze_all_but_reid(search_model)
    model = DICLTrainingModel(search_model=search_model, num_slots=num_slots, **method.training_model_kwargs())
    output_dir = Path(cfg["output_dir"])
    hooks = [
        ClusteringHook(records=weak, image_of_slot=image_of_slot(weak), settings=method.clustering(), device=device,
                       scorer=cluster_scorer, progress=settings.progress, must_links=must_links),
        SearchModelExportHook(output_dir=output_dir, model_kwargs=model_kwargs, extra=export_extra),
        *extra_hooks,
    ]
    eval_settings = EvalSettings.from_section(section(cfg, "eval"))
    trainer = build_trainer(
        settings=settings, model=model, model_kwargs=model_kwargs,
        train_dataset=WeakSceneDataset(weak, flip_prob=float(data_cfg.get("flip_prob", 0.5)),
                                       augment=SceneAugment.from_section(data_cfg.get("augment"))),
        collate_fn=collate_scenes, device=device, output_dir=output_dir, config=dict(cfg),
        evaluator=evaluator, eval_period=max(eval_settings.period, 0), resume=resume, extra_hooks=hooks,
    )
    return trainer, model_kwargs


def train_from_config(cfg: Mapping[str, Any], *, resume: str | None = None) -> list[dict[str, float]]:
    cfg = dict(cfg)
    method = DICLSettings.from_section(section(cfg, "method"))
    eval_settings = EvalSettings.from_section(section(cfg, "eval"))
    with training_run(cfg) as (_, _, device):
        data_cfg = section(cfg, "data")
        data = load_scene_data(data_cfg)
        evaluator = None
        if eval_settings.period >= 0 and data.queries:
            evaluator = TrainingEvaluator(data=data, dataset_name=data_cfg["name"], device=device,
                                          settings=eval_settings,
                                          search_model_of=lambda model: test_model(model.search_model, method))
        scorer = identity_scorer(data) if method.score_clusters else None
        trainer, _ = build_dicl_trainer(cfg, data, device=device, resume=resume, cluster_scorer=scorer,
                                        evaluator=evaluator)
        return trainer.train()


def load_dicl_search_model(checkpoint: Mapping[str, Any], device: torch.device) -> nn.Module:
    return load_search_model({"model_kwargs": checkpoint["model_kwargs"], "model": search_state_dict(checkpoint)},
                             device)


def evaluate_from_config(cfg: Mapping[str, Any] | None, *, checkpoint: str, cbgm: bool | None = None,
                         output: str | None = None, results_path: str | None = None) -> dict[str, Any]:
    """Score a DICL checkpoint (training checkpoint or exported search_model.pth) on the test split."""

    def load_model(state: Mapping[str, Any], cfg: Mapping[str, Any], device: torch.device):
        method = DICLSettings.from_section(section(cfg, "method"))
        model = test_model(load_dicl_search_model(state, device), method)
        return model, {"test_instance_branch": method.test_instance_branch}

    return evaluate_checkpoint(cfg, checkpoint=checkpoint, load_model=load_model, cbgm=cbgm, output=output,
                               results_path=results_path)
