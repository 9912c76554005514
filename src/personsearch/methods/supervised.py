"""Supervised one-step person search (SeqNet-style detector + OIM re-ID head).

Config sections:
- `method`: name "supervised"; `queue_batches` sizes an automatic OIM queue.
- `data`: catalog `name`, `root` (required), `loader` keyword arguments, `flip_prob`;
  `train_fraction` (0-1] trains on that share of the training frames, drawn by
  `train_fraction_seed` (nested across fractions of one seed).
- `model`: the keyword arguments of `build_search_model`; `num_pids: auto` and
  `queue_size: auto` are filled in from the training split (no dataset constants).
- `train`: see `personsearch.engine.TrainSettings`.
- `eval`: see `EvalSettings`; used between epochs and by `personsearch eval`.
- `output_dir`: checkpoints, metrics and curves.
"""

from __future__ import annotations

import dataclasses
import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from personsearch.config import ConfigError, check_section_keys, section
from personsearch.data.catalog import dataset_kind, load_dataset
from personsearch.data.records import UNLABELLED, SceneRecord, SceneSearchData
from personsearch.data.scene_augment import SceneAugment
from personsearch.data.scene_dataset import SceneDataset, collate_scenes
from personsearch.data.train_subset import train_fraction_subset
from personsearch.engine import TrainSettings, build_trainer, load_checkpoint, prepare_run
from personsearch.engine import distributed as du
from personsearch.engine.inference import run_search_inference
from personsearch.evaluation import (
    CBGM,
    CBGM_PRESETS,
    GalleryDetections,
    QueryDetections,
    SearchResults,
    evaluate_search_results,
    save_results,
)
from personsearch.models.init_from import INIT_KEYS, init_options, initialise_from
from personsearch.models.search_model import build_search_model, load_search_model
from personsearch.utils.atomic import atomic_write_json

AUTO = "auto"
DATA_KEYS = ("name", "root", "loader", "flip_prob", "augment", "strict", "train_fraction", "train_fraction_seed")
METHOD_KEYS = ("name", "queue_batches")
INITIAL_WEIGHT_KEYS = ("backbone_weights", "init_from", "init_parts")
SCALAR_METRICS = ("mAP", "top1", "top5", "top10", "det_ap", "det_recall")


@dataclass
class EvalSettings:
    period: int = 1  # epochs between evaluations during training (0: after the last epoch only; -1: never)
    batch_size: int = 1
    workers: int = 0
    cbgm: bool = False
    cbgm_k1: int | None = None  # None: the dataset's preset (CUHK-SYSU 10/3, PRW 30/4)
    cbgm_k2: int | None = None
    det_thresh: float = 0.5
    cross_camera: bool = False  # PRW: leave the query's camera out of its gallery
    weight_by_score: bool = False
    progress: bool = True

    @classmethod
    def from_section(cls, values: Mapping[str, Any]) -> "EvalSettings":
        check_section_keys("eval", values, [f.name for f in dataclasses.fields(cls)])
        return cls(**dict(values))


def load_scene_data(data_cfg: Mapping[str, Any]) -> SceneSearchData:
    check_section_keys("data", data_cfg, DATA_KEYS)
    name, root = data_cfg.get("name"), data_cfg.get("root")
    if not name:
        raise ConfigError("data.name is required (a scene dataset of the catalog, e.g. cuhk-sysu or prw)")
    if dataset_kind(name) != "scene":
        raise ConfigError(f"data.name={name!r} is a {dataset_kind(name)} dataset; this method needs a scene dataset")
    if not root:
        raise ConfigError(f"data.root is required: add data.root=/path/to/{name} on the command line")
    options = dict(data_cfg.get("loader") or {})
    if "strict" in data_cfg:  # true: stop at the first annotation problem instead of working around it
        options["strict"] = bool(data_cfg["strict"])
    data = load_dataset(name, root, **options)
    if "train_fraction" in data_cfg:
        fraction, seed = data_cfg["train_fraction"], data_cfg.get("train_fraction_seed", 0)
        try:
            data.train = train_fraction_subset(data.train, float(fraction), seed=int(seed))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"data.train_fraction={fraction!r} (train_fraction_seed={seed!r}): {exc}") from None
    return data


def auto_queue_size(records: Sequence[SceneRecord], *, batch_size: int, queue_batches: float) -> int:
    """Room for the unlabelled people of `queue_batches` batches (at least 1)."""
    unlabelled = sum(int((np.asarray(r.pids) == UNLABELLED).sum()) for r in records)
    per_image = unlabelled / max(len(records), 1)
    return max(1, math.ceil(per_image * batch_size * queue_batches))


@contextmanager
def training_run(cfg: Mapping[str, Any]) -> Iterator[tuple[TrainSettings, Path, torch.device]]:
    """A recipe's run: yields the `train` settings, `output_dir` (required) and the device, after
    joining the process group under torchrun and seeding every generator (build the model inside,
    so its initial weights follow the seed); leaves the process group at the end."""
    settings = TrainSettings.from_section(section(cfg, "train"))
    output_dir = cfg.get("output_dir")
    if not output_dir:
        raise ConfigError("output_dir is required")
    device = prepare_run(settings)
    try:
        yield settings, Path(output_dir), device
    finally:
        du.cleanup_distributed()


def fill_model_kwargs(model_cfg: Mapping[str, Any], *, num_pids: int, queue_size: Callable[[], int]) -> dict[str, Any]:
    """The exact keyword arguments of `build_search_model`: the `model` section without `init_from` /
    `init_parts` (`build_model` reads those), `num_pids: auto` (or absent) set to `num_pids` and
    `queue_size: auto` to `queue_size()`."""
    kwargs = {key: value for key, value in model_cfg.items() if key not in INIT_KEYS}
    if kwargs.get("num_pids", AUTO) == AUTO:
        kwargs["num_pids"] = num_pids
    if kwargs.get("queue_size") == AUTO:
        kwargs["queue_size"] = queue_size()
    return kwargs


def derive_model_kwargs(
    model_cfg: Mapping[str, Any], data: SceneSearchData, *, batch_size: int, queue_batches: float
) -> dict[str, Any]:
    """The exact keyword arguments of `build_search_model` for a scene dataset (see `fill_model_kwargs`)."""
    kwargs = fill_model_kwargs(
        model_cfg, num_pids=int(data.num_train_pids),
        queue_size=lambda: auto_queue_size(data.train, batch_size=batch_size, queue_batches=queue_batches))
    if kwargs["num_pids"] < 1:
        raise ConfigError(f"{data.name}: the training split has no labelled identity; supervised training needs some")
    return kwargs


def build_model(model_kwargs: Mapping[str, Any], model_cfg: Mapping[str, Any]) -> nn.Module:
    """The search model, initialised from `model.init_from` (parts `model.init_parts`) when set."""
    model = build_search_model(**model_kwargs)
    init_from, init_parts = init_options(model_cfg)
    if init_from:
        initialise_from(model, init_from, init_parts, backbone=model_kwargs.get("backbone"))
    return model


def results_from_arrays(arrays: Mapping[str, np.ndarray]) -> SearchResults:
    gallery = GalleryDetections(
        arrays["gallery_names"], arrays["det_image_index"], arrays["det_boxes"], arrays["det_scores"], arrays["det_feats"]
    )
    query_dets = QueryDetections(
        arrays["query_det_image_index"], arrays["query_det_boxes"], arrays["query_det_scores"], arrays["query_det_feats"]
    )
    results = SearchResults(gallery, arrays["query_feats"], query_dets)
    results.check()
    return results


def _cbgm(settings: EvalSettings, dataset_name: str) -> CBGM | None:
    if not settings.cbgm:
        return None
    preset = CBGM_PRESETS.get(dataset_name)
    k1 = settings.cbgm_k1 if settings.cbgm_k1 is not None else preset.k1 if preset else None
    k2 = settings.cbgm_k2 if settings.cbgm_k2 is not None else preset.k2 if preset else None
    if k1 is None or k2 is None:
        raise ConfigError(f"no CBGM preset for {dataset_name!r} (presets: {', '.join(CBGM_PRESETS)}); "
                          "set eval.cbgm_k1 and eval.cbgm_k2")
    return CBGM(k1=k1, k2=k2)


def evaluate_model(
    model: nn.Module, data: SceneSearchData, dataset_name: str, device: torch.device, settings: EvalSettings
) -> tuple[dict[str, Any], SearchResults]:
    """Inference on the test split, then the scene search protocol: (report, results)."""
    arrays = run_search_inference(
        model, data, device, settings.batch_size, num_workers=settings.workers, progress=settings.progress
    )
    results = results_from_arrays(arrays)
    report = evaluate_search_results(
        results, data, cross_camera=settings.cross_camera, det_thresh=settings.det_thresh,
        weight_by_score=settings.weight_by_score, cbgm=_cbgm(settings, dataset_name), source=data.name,
    )
    return report, results


class TrainingEvaluator:
    """The EvalHook callback: scalar search metrics of the model on the test split.
    `search_model_of` picks the search model out of a training model (default: the model itself)."""

    def __init__(self, *, data: SceneSearchData, dataset_name: str, device: torch.device, settings: EvalSettings,
                 search_model_of: Callable[[nn.Module], nn.Module] | None = None):
        self.data, self.dataset_name, self.device, self.settings = data, dataset_name, device, settings
        self.search_model_of = search_model_of

    def __call__(self, model: nn.Module) -> dict[str, float]:
        if self.search_model_of is not None:
            model = self.search_model_of(model)
        report, _ = evaluate_model(model, self.data, self.dataset_name, self.device, self.settings)
        return {key: float(report[key]) for key in SCALAR_METRICS if key in report}


def train_from_config(cfg: Mapping[str, Any], *, resume: str | None = None) -> list[dict[str, float]]:
    """Train as the config says; `resume` None, `auto` or a checkpoint path. Returns the history."""
    cfg = dict(cfg)
    method_cfg = section(cfg, "method")
    check_section_keys("method", method_cfg, METHOD_KEYS)
    data_cfg = section(cfg, "data")
    eval_settings = EvalSettings.from_section(section(cfg, "eval"))
    with training_run(cfg) as (settings, output_dir, device):
        data = load_scene_data(data_cfg)
        model_kwargs = derive_model_kwargs(
            section(cfg, "model"), data, batch_size=settings.batch_size,
            queue_batches=float(method_cfg.get("queue_batches", 100)),
        )
        model = build_model(model_kwargs, section(cfg, "model"))
        evaluator = None
        if eval_settings.period >= 0 and data.queries:
            evaluator = TrainingEvaluator(data=data, dataset_name=data_cfg["name"], device=device,
                                           settings=eval_settings)
        trainer = build_trainer(
            settings=settings, model=model, model_kwargs=model_kwargs,
            train_dataset=SceneDataset(data.train, flip_prob=float(data_cfg.get("flip_prob", 0.5)),
                                       augment=SceneAugment.from_section(data_cfg.get("augment"))),
            collate_fn=collate_scenes, device=device, output_dir=output_dir, config=cfg,
            evaluator=evaluator, eval_period=max(eval_settings.period, 0), resume=resume,
        )
        return trainer.train()


def model_overrides(model_cfg: Mapping[str, Any], saved_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The model settings of an evaluation config that differ from the checkpoint's saved arguments.

    `auto` matches whatever training filled in; initial weights (backbone_weights, init_from,
    init_parts) never matter when loading trained weights. The loader applies inference-time
    keys and refuses the others.
    """
    changed = {}
    for key, value in model_cfg.items():
        if key in INITIAL_WEIGHT_KEYS or (value == AUTO and key in saved_kwargs):
            continue
        if key not in saved_kwargs or saved_kwargs[key] != value:
            changed[key] = value
    return changed


def evaluate_from_config(
    cfg: Mapping[str, Any] | None,
    *,
    checkpoint: str,
    cbgm: bool | None = None,
    output: str | None = None,
    results_path: str | None = None,
) -> dict[str, Any]:
    """Score a checkpoint on the configured test split (`cfg` None: the config saved in it).

    The model is rebuilt from the checkpoint; inference-time model settings of `cfg` that
    differ from it (score source, thresholds, proposal counts) are applied, others refused.
    """

    def load_model(state: Mapping[str, Any], cfg: Mapping[str, Any], device: torch.device):
        overrides = model_overrides(section(cfg, "model"), state.get("model_kwargs") or {})
        return load_search_model(state, device, inference_overrides=overrides), {"model_overrides": overrides}

    return evaluate_checkpoint(cfg, checkpoint=checkpoint, load_model=load_model, cbgm=cbgm, output=output,
                               results_path=results_path)


def evaluate_checkpoint(
    cfg: Mapping[str, Any] | None,
    *,
    checkpoint: str,
    load_model: Callable[[Mapping[str, Any], Mapping[str, Any], torch.device], tuple[nn.Module, dict[str, Any]]],
    cbgm: bool | None = None,
    output: str | None = None,
    results_path: str | None = None,
) -> dict[str, Any]:
    """The search report of a checkpoint on the test split; `load_model(state, cfg, device)` returns the
    model to score and extra report entries. Writes the report to `output` and the raw results to
    `results_path` when given."""
    state = load_checkpoint(checkpoint, map_location="cpu")
    cfg = dict(cfg if cfg is not None else state.get("config") or {})
    eval_cfg = section(cfg, "eval")
    if cbgm is not None:
        eval_cfg["cbgm"] = cbgm
    settings = EvalSettings.from_section(eval_cfg)
    data_cfg = section(cfg, "data")
    device = du.resolve_device(section(cfg, "train").get("device", "auto"))
    model, extra = load_model(state, cfg, device)
    data = load_scene_data(data_cfg)
    report, results = evaluate_model(model, data, data_cfg["name"], device, settings)
    report = {"dataset": data_cfg["name"], "checkpoint": str(checkpoint), "epoch": state.get("epoch"),
              "cbgm": settings.cbgm, **extra, **report}
    if output:
        atomic_write_json(output, report)
    if results_path:
        save_results(results_path, results)
    return report
