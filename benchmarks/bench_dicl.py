"""DICL (weakly supervised: boxes, no identities) against fully supervised training, under one
CPU training budget per row, on a synthetic PRW world.

    python benchmarks/bench_dicl.py [--rows supervised full memory many_to_one dense occlusion]
                                    [--minutes 30] [--train-threads 1] [--size small] [--seed 0]

Rows: `supervised` (the `seqnet_synth_prw` preset: OIM with the identities), and the
`dicl_synth_prw` preset (same model and schedule, no identities) as an ablation:
`memory` cluster memory contrast only (no instance branch), `many_to_one` + the instance
branch and the many-to-one term, `dense` + the dense relation term, `occlusion` + occlusion
masking, `full` + the batch-hard triplet with its background term (the whole method);
`full_no_singletons` is `full` with DICL's singletons left out of the memory contrast
(`method.memory_singletons: ignore`, what `personsearch adapt` does; not the paper's);
`full_true_clusters` is `full` given the hidden identities as its clusters every epoch
(unlabelled boxes stay singletons): not weak, a diagnostic of how far perfect pseudo labels
would take DICL's losses under the same budget.

Budget: as bench_backbones.py, each row trains for `--minutes` of the training process's CPU
time; a short probe sets the planned iterations and the preset's schedule (LR step at 6/8,
one-epoch warm-up kept, at most half the run) is compressed to them. DICL's memory
initialisation and per-epoch clustering are inside the budget.

Resumable: a row's plan is kept in OUTPUT/ROW/plan.json and its training checkpoints in
OUTPUT/ROW/; run the same command again to continue a stopped row from its last finished
epoch (the CPU time it had used is carried over). A finished row's figures are written to
benchmarks/results/dicl_prw/ROW.json (kept in git) and reused while the settings match.
`--stop-file PATH`: when PATH exists at the end of an epoch (after its checkpoint), the run
stops there, cleanly. `--memory-probe` scores whether the features DICL clusters carry identity
(initial memory, each DICL row's memory at its last checkpoint, a supervised model on the same
boxes). The BENCHMARKS.md section `dicl-prw` is rewritten from every finished
row's JSON after each row. Another budget keeps its own files and section, e.g.
`--minutes 90 --results benchmarks/results/dicl_prw_90min --output runs/bench_dicl_90min
--section dicl-prw-90min`; so does a start from a pre-trained model (`--init-from CKPT
--init-parts backbone`, e.g. the hybrid pre-training of bench_pretrain.py), and so does another
make of world (`--world near_twin_fraction=0`: any WorldSpec field).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

import report as bench_report
from backbone_common import config_digest, ensure_prw_world
from bench_backbones import SKIPPED_PROBE_STEPS, StopTraining, TrainingBudget, evaluate

from personsearch.commands.search import default_checkpoint
from personsearch.config import load_config
from personsearch.data.catalog import load_dataset
from personsearch.data.records import SceneSearchData
from personsearch.data.scene_dataset import SceneDataset, collate_scenes
from personsearch.data.world_cache import parse_world_overrides
from personsearch.engine import HookBase, NonFiniteLossError, TrainSettings, build_trainer, prepare_run
from personsearch.engine import distributed as du
from personsearch.engine.inference import detect_scenes
from personsearch.methods.dicl.hooks import ClusteringHook
from personsearch.methods.dicl.recipe import DICLSettings, box_identities, build_dicl_trainer, identity_scorer
from personsearch.methods.dicl.siamese import InstanceAveragedSearch
from personsearch.methods.supervised import EvalSettings, build_model, derive_model_kwargs
from personsearch.models.init_from import INIT_PARTS
from personsearch.utils.atomic import atomic_write_json

SECTION = "dicl-prw"
DIGEST_LEAVES_OUT = ("output_dir", "data")  # paths: a row is the same wherever its world and run live
RESULTS_DIR = Path(__file__).resolve().parent / "results" / "dicl_prw"
INSTANCE_COST_FILE = "instance_branch_cost.json"
CLUSTER_SWEEP_FILE = "cluster_sweep.json"
MEMORY_PROBE_FILE = "memory_probe.json"
PROBE_CLUSTERING = ((0.5, 10, 2), (0.6, 10, 2))  # the preset's setting, and one looser
SWEEP = [(eps, k1, min_samples) for eps in (0.5, 0.6, 0.7) for k1, min_samples in ((30, 4), (10, 2))]
_NO_EXTRAS = ["method.many_to_one_weight=0", "method.dense_weight=0", "method.occlusion_prob=0",
              "method.triplet_weight=0"]


@dataclass(frozen=True)
class Row:
    name: str
    label: str
    preset: str
    overrides: tuple[str, ...]
    true_clusters: bool = False  # the hidden identities replace each epoch's clustering (reads identities)


ROWS: dict[str, Row] = {r.name: r for r in (
    Row("supervised", "fully supervised (OIM, identities)", "preset:seqnet_synth_prw", ()),
    Row("memory", "DICL: cluster memory only", "preset:dicl_synth_prw", ("method.siamese=false", *_NO_EXTRAS)),
    Row("many_to_one", "+ instance branch, many-to-one", "preset:dicl_synth_prw",
        ("method.dense_weight=0", "method.occlusion_prob=0", "method.triplet_weight=0")),
    Row("dense", "+ dense relation KL", "preset:dicl_synth_prw", ("method.occlusion_prob=0", "method.triplet_weight=0")),
    Row("occlusion", "+ occlusion-invariant masking", "preset:dicl_synth_prw", ("method.triplet_weight=0",)),
    Row("full", "+ batch-hard triplet with background (full DICL)", "preset:dicl_synth_prw", ()),
    Row("full_no_singletons", "full DICL, boxes alone in their cluster left out of the memory contrast (not the paper's)",
        "preset:dicl_synth_prw", ("+method.memory_singletons=ignore",)),
    Row("full_true_clusters", "full DICL, the hidden identities as its clusters (reads identities: the ceiling of "
        "its pseudo labels)", "preset:dicl_synth_prw", (), true_clusters=True),
)}
TABLE_ORDER = ("supervised", "memory", "many_to_one", "dense", "occlusion", "full", "full_no_singletons",
               "full_true_clusters")


class StopFile(HookBase):
    """Stops training at the end of an epoch (after its checkpoint) when `path` exists."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def after_epoch(self, trainer) -> None:
        if self.path is not None and self.path.exists():
            print(f"stop file {self.path} found: stopping after epoch {trainer.epoch}")
            raise StopTraining


class PlanProgress(HookBase):
    """Adds each epoch's budget-clock time to the plan file, so a resumed row knows what it has used."""

    def __init__(self, *, plan: dict[str, Any], path: Path, budget: TrainingBudget) -> None:
        self.plan, self.path, self.budget = plan, path, budget
        self.used_before = float(plan.get("used_seconds", 0.0))

    def after_epoch(self, trainer) -> None:
        self.plan["used_seconds"] = self.used_before + (self.budget.clock() - self.budget.start)
        self.plan["epochs_done"] = trainer.epoch
        atomic_write_json(self.path, self.plan)


def true_cluster_labels(truth: np.ndarray) -> np.ndarray:
    """Contiguous cluster labels from identities, one per slot; every unlabelled box (-1) its own cluster."""
    keys = np.where(truth >= 0, truth, truth.max(initial=0) + 1 + np.arange(truth.size))
    return np.unique(keys, return_inverse=True)[1].astype(np.int64)


class TrueIdentityClusters(ClusteringHook):
    """A ClusteringHook that takes `labels` as every epoch's clusters instead of clustering the memory."""

    def __init__(self, *, like: ClusteringHook, labels: np.ndarray) -> None:
        super().__init__(records=like.records, image_of_slot=like.image_of_slot, settings=like.settings,
                         device=like.device, scorer=like.scorer, progress=like.progress)
        self.labels = labels

    def find_clusters(self, features: torch.Tensor) -> np.ndarray:
        return self.labels


def init_overrides(init_from: Path | None, init_parts: str) -> tuple[str, ...]:
    """Config overrides that start every row's model from a pre-trained checkpoint (none: the presets'
    ImageNet backbone)."""
    return (f"+model.init_from={init_from}", f"+model.init_parts={init_parts}") if init_from else ()


def _config(row: Row, root: Path, output_dir: Path, init: tuple[str, ...] = ()) -> dict[str, Any]:
    return load_config(row.preset, [*row.overrides, *init, f"data.root={root}", f"output_dir={output_dir}",
                                    "train.tensorboard=false", "eval.period=-1", "train.workers=0",
                                    "train.progress=false", "eval.progress=false"])


def _build(row: Row, cfg: dict[str, Any], data: SceneSearchData, resume: str | None, extra_hooks=()):
    """(trainer, search model accessor) for a row; the seed is set as the recipes set it."""
    settings = TrainSettings.from_section(cfg["train"])
    device = prepare_run(settings)
    if cfg["method"]["name"] == "supervised":
        kwargs = derive_model_kwargs(cfg["model"], data, batch_size=settings.batch_size,
                                     queue_batches=float(cfg["method"].get("queue_batches", 100)))
        trainer = build_trainer(
            settings=settings, model=build_model(kwargs, cfg["model"]), model_kwargs=kwargs,
            train_dataset=SceneDataset(data.train, flip_prob=float(cfg["data"].get("flip_prob", 0.5))),
            collate_fn=collate_scenes, device=device, output_dir=cfg["output_dir"], config=cfg, resume=resume,
            extra_hooks=extra_hooks)
        return trainer, device, lambda: du.unwrap_model(trainer.model)
    trainer, _ = build_dicl_trainer(cfg, data, device=device, resume=resume, cluster_scorer=identity_scorer(data),
                                    extra_hooks=extra_hooks)
    if row.true_clusters:
        labels = true_cluster_labels(box_identities(data.train))
        trainer.hooks = [TrueIdentityClusters(like=hook, labels=labels)
                         if isinstance(hook, ClusteringHook) else hook for hook in trainer.hooks]
    return trainer, device, lambda: du.unwrap_model(trainer.model).search_model


def _run(trainer, hooks_first: list[HookBase], hooks_last: list[HookBase]) -> None:
    trainer.hooks[:0] = hooks_first
    trainer.hooks.extend(hooks_last)
    try:
        trainer.train()
    except StopTraining:
        pass


def _probe(row: Row, cfg: dict[str, Any], data: SceneSearchData, output_dir: Path, iters: int, clock) -> dict:
    probe_dir = output_dir / "probe"
    cfg = dict(cfg, output_dir=str(probe_dir))
    trainer, _, _ = _build(row, cfg, data, None)
    model = du.unwrap_model(trainer.model)
    if hasattr(model, "memory"):  # timing only: skip the memory pass over the training set
        model.memory.initialise(torch.nn.functional.normalize(torch.randn_like(model.memory.features), dim=1))
    budget = TrainingBudget(max_iterations=SKIPPED_PROBE_STEPS + iters, clock=clock)
    _run(trainer, [budget], [])
    timed = budget.step_seconds[SKIPPED_PROBE_STEPS:] or budget.step_seconds
    shutil.rmtree(probe_dir, ignore_errors=True)
    return {"seconds_per_iter": statistics.mean(timed), "iters_per_epoch": len(trainer.train_loader)}


def _plan(settings: TrainSettings, probe: dict[str, Any], minutes: float) -> dict[str, Any]:
    planned = max(1, int(60.0 * minutes / probe["seconds_per_iter"]))
    planned_epochs = planned / probe["iters_per_epoch"]
    scale = planned_epochs / settings.epochs
    warmup = min(settings.warmup_epochs, planned_epochs / 2)
    return {**probe, "planned": planned, "epochs": max(1, math.ceil(planned_epochs)), "warmup_epochs": warmup,
            "milestones": [max(m * scale, warmup) for m in settings.milestones], "used_seconds": 0.0,
            "epochs_done": 0}


@torch.no_grad()
def _gallery_seconds(model, data: SceneSearchData, device, images: int) -> float:
    """CPU seconds to detect and embed the first `images` gallery frames, one at a time."""
    model.eval()
    start = time.process_time()
    detect_scenes(model, data.gallery[:images], device, progress=False)
    return time.process_time() - start


def train_row(row: Row, root: Path, data: SceneSearchData, args, settings_key: dict[str, Any]) -> dict[str, Any]:
    output_dir = args.output / row.name
    clock = time.process_time
    cfg = _config(row, root, output_dir, args.init)
    settings = TrainSettings.from_section(cfg["train"])
    plan_path = output_dir / "plan.json"
    plan = json.loads(plan_path.read_text()) if plan_path.is_file() else None
    digest = config_digest(cfg, leave_out=DIGEST_LEAVES_OUT)
    if plan is None or plan.get("settings") != settings_key or plan.get("config") != digest:
        shutil.rmtree(output_dir, ignore_errors=True)
        plan = _plan(settings, _probe(row, cfg, data, output_dir, args.probe_iters, clock), args.minutes)
        plan["settings"], plan["config"] = settings_key, digest
        atomic_write_json(plan_path, plan)
        print(f"{row.name}: {plan['seconds_per_iter']:.2f} s/iteration -> {plan['planned']} iterations "
              f"({plan['planned'] / plan['iters_per_epoch']:.2f} epochs of {plan['iters_per_epoch']})")
    else:
        print(f"{row.name}: resuming (epochs done {plan['epochs_done']}, {plan['used_seconds'] / 60:.1f} CPU min used)")
    cfg["train"].update(epochs=plan["epochs"], warmup_epochs=plan["warmup_epochs"], milestones=plan["milestones"])
    used_before = float(plan["used_seconds"])  # PlanProgress adds this process's epochs to the plan as they end
    remaining = 60.0 * args.minutes - used_before
    trainer, device, search_model = _build(row, cfg, data, "auto")
    budget = TrainingBudget(max_iterations=plan["planned"], seconds=max(remaining, 0.0), clock=clock)
    error = None
    if remaining > 0 and trainer.iteration < plan["planned"]:
        try:
            _run(trainer, [budget], [PlanProgress(plan=plan, path=plan_path, budget=budget), StopFile(args.stop_file)])
        except NonFiniteLossError as exc:
            error = f"diverged at iteration {exc.iteration}"
    if args.stop_file is not None and args.stop_file.exists():
        return {}
    used = used_before + (budget.elapsed if budget.iterations > 0 else 0.0)
    model = search_model().eval()
    eval_settings = EvalSettings.from_section(dict(cfg["eval"], progress=False))
    result: dict[str, Any] = {
        "row": row.name, "label": row.label, "settings": settings_key, "config": digest, "error": error, "iterations": trainer.iteration,
        "planned": plan["planned"], "epochs": trainer.iteration / plan["iters_per_epoch"], "cpu_minutes": used / 60,
        "stop": budget.reason, "loss": trainer.last_step.get("loss", float("nan")),
        "clustering": [{k: v for k, v in r.items() if k.startswith("cluster/") or k == "epoch"}
                       for r in trainer.history],
    }
    if error is None:
        result["reports"] = evaluate(model, data, device, eval_settings)
        if row.name == "full":
            method = DICLSettings.from_section(cfg["method"])
            averaged = InstanceAveragedSearch(search_model=model, instance_size=method.instance_size)
            result["instance_branch"] = {
                "reports": evaluate(averaged, data, device, eval_settings),
                "gallery_images": args.images,
                "seconds_without": _gallery_seconds(model, data, device, args.images),
                "seconds_with": _gallery_seconds(averaged, data, device, args.images),
            }
    atomic_write_json(RESULTS_DIR / f"{row.name}.json", result)
    return result


def _load_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def measure_instance_cost(checkpoint: Path, data: SceneSearchData, images: int) -> dict[str, Any]:
    """CPU seconds of gallery inference with and without the test-time instance branch (the cost does
    not depend on how the weights were trained, so any checkpoint of the preset's model will do)."""
    from personsearch.engine.checkpoint import load_checkpoint
    from personsearch.methods.dicl.recipe import load_dicl_search_model

    device = torch.device("cpu")
    model = load_dicl_search_model(load_checkpoint(checkpoint), device)
    size = DICLSettings.from_section(load_config("preset:dicl_synth_prw")["method"]).instance_size
    averaged = InstanceAveragedSearch(search_model=model, instance_size=size).eval()
    detections = detect_scenes(model, data.gallery[:images], device, progress=False)
    return {"checkpoint": checkpoint.name, "gallery_images": images, "instance_size": size,
            "detections_per_image": float(np.mean([len(d["scores"]) for d in detections])),
            "seconds_without": _gallery_seconds(model, data, device, images),
            "seconds_with": _gallery_seconds(averaged, data, device, images)}


def initial_memory(weak, init: tuple[str, ...] = ()) -> torch.Tensor:
    """The memory as DICL training initialises it: the `dicl_synth_prw` preset's fresh model (with the
    `init` overrides), seeded as training seeds it, on the weak records' boxes."""
    from personsearch.engine.rng import seed_everything
    from personsearch.methods.dicl.hooks import memory_features
    from personsearch.methods.dicl.recipe import search_model_kwargs
    from personsearch.methods.dicl.siamese import DICLTrainingModel
    from personsearch.methods.dicl.weak_data import count_slots

    cfg = load_config("preset:dicl_synth_prw", list(init))
    seed_everything(int(cfg["train"]["seed"]))
    search_model = build_model(search_model_kwargs(cfg["model"]), cfg["model"])
    model = DICLTrainingModel(search_model=search_model,
                              num_slots=count_slots(weak),
                              **DICLSettings.from_section(cfg["method"]).training_model_kwargs()).eval()
    return memory_features(model, weak, torch.device("cpu"), progress=False)


def measure_cluster_sweep(data: SceneSearchData, frames: int | None) -> dict[str, Any]:
    """Clusters of the initial memory for a grid of DBSCAN / k-reciprocal settings, scored against the
    hidden identities."""
    from personsearch.methods.dicl.clustering import (ClusteringSettings, cluster_memory_features,
                                                      pairwise_precision_recall)
    from personsearch.methods.dicl.weak_data import image_of_slot, strip_identities

    records = data.train[:frames] if frames else data.train
    weak = strip_identities(records)
    truth = box_identities(records)
    start = time.process_time()
    features = initial_memory(weak)
    init_seconds = time.process_time() - start
    rows = []
    for eps, k1, min_samples in SWEEP:
        start = time.process_time()
        labels = cluster_memory_features(features, image_of_slot(weak), ClusteringSettings(
            k1=k1, k2=6, eps=eps, min_samples=min_samples))
        seconds = time.process_time() - start
        sizes = np.bincount(labels)
        rows.append({"eps": eps, "k1": k1, "min_samples": min_samples, "clusters": int(sizes.size),
                     "singletons": int((sizes == 1).sum()), "largest": int(sizes.max()), "cpu_seconds": seconds,
                     **pairwise_precision_recall(labels, truth)})
        print(rows[-1], flush=True)
    return {"frames": len(records), "boxes": len(truth), "identities": int(len(set(truth[truth >= 0].tolist()))),
            "memory_init_cpu_seconds": init_seconds, "rows": rows}


def nearest_neighbour_agreement(features: torch.Tensor, truth: np.ndarray, groups: np.ndarray) -> float:
    """Share of labelled boxes whose most similar box outside their own group (frame or camera) is the
    same person: whether the features carry identity, independently of any clustering setting."""
    features = torch.nn.functional.normalize(features.float(), dim=1)
    similarity = features @ features.t()
    same_group = torch.from_numpy(groups[:, None] == groups[None, :])
    nearest = similarity.masked_fill(same_group, -2.0).argmax(dim=1).numpy()
    labelled = truth >= 0
    return float((truth[nearest] == truth)[labelled].mean())


def _probe_features(name: str, features: torch.Tensor, truth: np.ndarray, image_of: np.ndarray,
                    cameras: np.ndarray) -> dict[str, Any]:
    from personsearch.methods.dicl.clustering import ClusteringSettings, cluster_memory_features, pairwise_precision_recall

    entry: dict[str, Any] = {"features": name, "nn_other_frame": nearest_neighbour_agreement(features, truth, image_of),
                             "nn_other_camera": nearest_neighbour_agreement(features, truth, cameras), "clusters": []}
    for eps, k1, min_samples in PROBE_CLUSTERING:
        labels = cluster_memory_features(features, image_of, ClusteringSettings(k1=k1, k2=6, eps=eps,
                                                                                min_samples=min_samples))
        entry["clusters"].append({"eps": eps, "k1": k1, "min_samples": min_samples,
                                  **pairwise_precision_recall(labels, truth)})
    print(entry, flush=True)
    return entry


def measure_memory_probe(data: SceneSearchData, output: Path, reference: Path, init: tuple[str, ...]) -> dict[str, Any]:
    """Do the features DICL clusters carry identity? The initial memory (fresh `dicl_synth_prw` model), each
    finished DICL row's memory at its last checkpoint in OUTPUT, and a model trained with the identities
    (`reference`) on the same boxes, scored by nearest-neighbour agreement and by the clusters' pairwise
    precision / recall against the hidden identities."""
    from personsearch.data.scene_dataset import image_to_tensor, read_rgb_image
    from personsearch.methods.dicl.weak_data import image_of_slot, strip_identities
    from personsearch.models.search_model import load_search_model

    records = [r for r in data.train if len(r.boxes)]
    weak = strip_identities(records)
    truth = box_identities(records)
    cameras = np.concatenate([np.full(len(r.boxes), r.camera) for r in records])
    image_of = image_of_slot(weak)
    start = "the pre-trained model" if init else "ImageNet backbone"
    entries = [_probe_features(f"initial memory (fresh model, {start})", initial_memory(weak, init), truth,
                               image_of, cameras)]
    for name in TABLE_ORDER:
        checkpoint = output / name / "last.pth"
        if name == "supervised" or not checkpoint.is_file() or not (RESULTS_DIR / f"{name}.json").is_file():
            continue  # finished rows only
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        entries.append(_probe_features(f"memory of `{name}` after epoch {state['epoch']}",
                                       state["model"]["memory.features"], truth, image_of, cameras))
    model = load_search_model(reference)
    with torch.no_grad():
        features = torch.cat([model.extract_query_features([image_to_tensor(read_rgb_image(r.image_path))],
                                                           [torch.from_numpy(r.boxes.copy())]) for r in records])
    entries.append(_probe_features(f"supervised reference `{reference.name}` (identities of these boxes)",
                                   features, truth, image_of, cameras))
    return {"boxes": len(truth), "reference": str(reference), "rows": entries}


def load_result(name: str, settings_key: dict[str, Any], root: Path, output: Path,
                init: tuple[str, ...]) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{name}.json"
    if not path.is_file():
        return None
    result = json.loads(path.read_text(encoding="utf-8"))
    digest = config_digest(_config(ROWS[name], root, output / name, init), leave_out=DIGEST_LEAVES_OUT)
    return result if result.get("settings") == settings_key and result.get("config") == digest else None


def _shown(path: Path) -> str:
    """`path` relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(Path(__file__).resolve().parent.parent))
    except ValueError:
        return str(path)


def _fmt(value: Any) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"


def write_section(results: dict[str, dict[str, Any]], data: SceneSearchData, args, settings_key) -> None:
    nan = float("nan")
    supervised = results.get("supervised", {}).get("reports", {}).get("plain", {})
    rows, cluster_rows = [], []
    for name in TABLE_ORDER:
        result = results.get(name)
        if result is None:
            rows.append([ROWS[name].label] + ["not run yet"] + ["-"] * 11)
            continue
        plain = result.get("reports", {}).get("plain", {})
        cbgm = result.get("reports", {}).get("cbgm", {})
        cross = result.get("reports", {}).get("cross", {})
        ratio = plain.get("mAP", nan) / supervised["mAP"] if supervised.get("mAP") else nan
        rows.append([ROWS[name].label, result["iterations"], f"{result['epochs']:.2f}", f"{result['cpu_minutes']:.1f}",
                     _fmt(plain.get("mAP")), _fmt(plain.get("top1")), _fmt(cbgm.get("mAP")), _fmt(cross.get("mAP")),
                     _fmt(cross.get("top1")), _fmt(plain.get("det_ap")), _fmt(plain.get("det_recall")), _fmt(ratio),
                     result["error"] or result["stop"]])
        for epoch in result["clustering"]:
            if "cluster/num_clusters" in epoch:
                cluster_rows.append([ROWS[name].label, int(epoch["epoch"]), int(epoch["cluster/num_clusters"]),
                                     int(epoch["cluster/singletons"]), _fmt(epoch.get("cluster/pair_precision")),
                                     _fmt(epoch.get("cluster/pair_recall")), _fmt(epoch["cluster/seconds"])])
    table = bench_report.markdown_table(
        ["row", "iterations", "epochs", "train CPU min", "mAP", "top-1", "mAP +CBGM", "mAP cross-cam",
         "top-1 cross-cam", "det AP", "det recall", "mAP weak / full", "stopped by"], rows)
    clusters = bench_report.markdown_table(
        ["row", "epoch", "clusters", "singletons", "pair precision", "pair recall", "clustering s"],
        cluster_rows) if cluster_rows else "(no DICL row finished yet)\n"
    instance = results.get("full", {}).get("instance_branch")
    instance_text = "(the full row has not finished yet)\n"
    cost = _load_json(RESULTS_DIR / INSTANCE_COST_FILE)
    if not instance and cost:
        instance_text = (f"Cost only (the full row has not finished), checkpoint `{cost['checkpoint']}`, "
                         f"{cost['detections_per_image']:.1f} detections per frame:\n\n" + bench_report.markdown_table(
            ["test-time embedding", f"CPU s for {cost['gallery_images']} gallery frames", "cost"],
            [["search branch (default)", _fmt(cost["seconds_without"]), "1.00x"],
             ["average with instance branch", _fmt(cost["seconds_with"]),
              f"{cost['seconds_with'] / cost['seconds_without']:.2f}x"]]))
    if instance:
        base = results["full"]["reports"]["plain"]
        averaged = instance["reports"]["plain"]
        instance_text = bench_report.markdown_table(
            ["test-time embedding", "mAP", "top-1", f"CPU s for {instance['gallery_images']} gallery frames", "cost"],
            [["search branch (default)", _fmt(base["mAP"]), _fmt(base["top1"]), _fmt(instance["seconds_without"]),
              "1.00x"],
             ["average with instance branch", _fmt(averaged["mAP"]), _fmt(averaged["top1"]),
              _fmt(instance["seconds_with"]), f"{instance['seconds_with'] / instance['seconds_without']:.2f}x"]])
    sweep = _load_json(RESULTS_DIR / CLUSTER_SWEEP_FILE)
    sweep_text = "(not measured: --cluster-sweep)\n"
    if sweep:
        sweep_text = (f"The memory as training initialises it (fresh `dicl_synth_prw` model, {sweep['frames']} training "
                      f"frames, {sweep['boxes']} boxes, {sweep['identities']} identities; memory pass "
                      f"{sweep['memory_init_cpu_seconds'] / 60:.1f} CPU min), clustered with k2=6:\n\n"
                      + bench_report.markdown_table(
                          ["eps", "k1", "min_samples", "clusters", "singletons", "largest", "pair precision",
                           "pair recall", "clustering CPU s"],
                          [[r["eps"], r["k1"], r["min_samples"], r["clusters"], r["singletons"], r["largest"],
                            f"{r['pair_precision']:.3f}", f"{r['pair_recall']:.3f}", _fmt(r["cpu_seconds"])]
                           for r in sweep["rows"]]))
    probe = _load_json(RESULTS_DIR / MEMORY_PROBE_FILE)
    probe_text = "(not measured: --memory-probe)\n"
    if probe:
        settings = [f"eps {c['eps']:g}, k1 {c['k1']}" for c in probe["rows"][0]["clusters"]]
        probe_text = (f"Over the {probe['boxes']} training boxes: the share whose most similar box in another frame "
                      "(another camera) is the same person, and the clusters' pairwise precision / recall "
                      "(k2 6, min_samples 2):\n\n" + bench_report.markdown_table(
                          ["features", "nearest other frame same person", "nearest other camera same person",
                           *[f"P / R {name}" for name in settings]],
                          [[r["features"], f"{r['nn_other_frame']:.3f}", f"{r['nn_other_camera']:.3f}",
                            *[f"{c['pair_precision']:.2f} / {c['pair_recall']:.2f}" for c in r["clusters"]]]
                           for r in probe["rows"]]))
    world = f"synthetic `prw` world, size `{args.size}`, seed {args.seed}" + "".join(
        f", `{key}` {value}" for key, value in sorted(args.world.items()))
    body = (
        f"## DICL (weakly supervised) against fully supervised training (PRW protocol, {args.minutes:g} CPU min per row"
        f"{', from a pre-trained model' if args.init else ''})\n\n"
        f"{bench_report.section_preamble()}"
        f"- data: {world}; {len(data.train)} training frames, {len(data.gallery)} gallery frames, "
        f"{len(data.queries)} queries\n"
        "- recipes: `seqnet_synth_prw` (supervised) and `dicl_synth_prw` (no identities; same MobileNetV2 offline "
        "ImageNet backbone, inputs and schedule) with the row's switches; reading in docs/dicl.md\n"
        f"- initial weights: {'`' + ' '.join(args.init) + '` (every row)' if args.init else 'the presets (ImageNet backbone)'}\n"
        f"- budget: {args.minutes:g} minutes of the training process's CPU time per row "
        f"({settings_key['train_threads']} torch thread(s)); DICL's memory initialisation and clustering count; "
        "the preset's schedule compressed to the planned iterations as in bench_backbones.py\n"
        "- search: all gallery frames, detection threshold 0.5; CBGM with PRW's k1=30, k2=4; cross-cam: frames of "
        "the query's camera left out; `mAP weak / full` divides by the supervised row's mAP\n"
        f"- rows finished: {', '.join(n for n in TABLE_ORDER if n in results) or 'none'}; per-row JSON in "
        f"{_shown(RESULTS_DIR)}/\n\n"
        f"### Search and detection\n\n{table}\n### Clustering per epoch (pairwise against the hidden identities)\n\n"
        f"{clusters}\n### Clustering of the initial memory\n\n{sweep_text}\n"
        f"### Do the memory features carry identity?\n\n{probe_text}\n"
        f"### Test-time instance branch (full row)\n\n{instance_text}")
    bench_report.update_section(args.section, body)


def main() -> None:
    global RESULTS_DIR
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", default=["supervised", "full", "memory", "many_to_one", "dense",
                                                       "occlusion"], choices=list(ROWS))
    parser.add_argument("--minutes", type=float, default=30.0, help="training CPU minutes per row")
    parser.add_argument("--train-threads", type=int, default=1)
    parser.add_argument("--size", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path("data/worlds"))
    parser.add_argument("--max-queries", type=int, help="score only the first N queries (quick checks)")
    parser.add_argument("--probe-iters", type=int, default=10)
    parser.add_argument("--images", type=int, default=50, help="gallery frames timed for the instance-branch cost")
    parser.add_argument("--stop-file", type=Path, help="stop cleanly at an epoch end when this file exists")
    parser.add_argument("--output", type=Path, default=Path("runs/bench_dicl"))
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR,
                        help="folder of the per-row JSON files (default: the committed benchmarks/results/dicl_prw)")
    parser.add_argument("--section", default=SECTION,
                        help="BENCHMARKS.md section to write; another budget (--minutes) needs its own section, "
                             "--results and --output, e.g. dicl-prw-90min")
    parser.add_argument("--cluster-sweep", action="store_true",
                        help="only score the clustering of the initial memory for a grid of settings, then exit")
    parser.add_argument("--sweep-frames", type=int, help="training frames used by --cluster-sweep (default: all)")
    parser.add_argument("--memory-probe", action="store_true",
                        help="only score whether the memory features carry identity (initial memory, each DICL "
                             "row's last checkpoint in --output, the supervised --reference), then exit")
    parser.add_argument("--reference", type=Path,
                        help="supervised checkpoint for --memory-probe (default: the shipped checkpoint, trained "
                             "with the identities of this world's training boxes)")
    parser.add_argument("--init-from", type=Path, metavar="CKPT",
                        help="start every row (and --memory-probe's initial memory) from this pre-trained checkpoint "
                             "(model.init_from); needs its own --results, --output and --section")
    parser.add_argument("--init-parts", choices=INIT_PARTS, default="backbone",
                        help="model.init_parts for --init-from (a pre-trained NAE fits the DICL model's backbone only)")
    parser.add_argument("--instance-cost", type=Path, metavar="CKPT",
                        help="only measure the test-time instance branch's cost with this checkpoint, then exit")
    parser.add_argument("--world", action="append", default=[], metavar="KEY=VALUE",
                        help="a WorldSpec field of the synthetic world, e.g. near_twin_fraction=0 (its own world "
                             "folder in --cache; needs its own --results, --output and --section)")
    args = parser.parse_args()
    args.init = init_overrides(args.init_from, args.init_parts)
    args.world = parse_world_overrides(args.world)

    RESULTS_DIR = args.results
    torch.set_num_threads(args.train_threads)
    root = ensure_prw_world(args.size, args.seed, args.cache, args.world)
    data = load_dataset("prw", root)
    if args.max_queries:
        data.queries = list(data.queries[: args.max_queries])
    settings_key = {"minutes": args.minutes, "root": str(root), "queries": len(data.queries),
                    "probe_iters": args.probe_iters, "train_threads": torch.get_num_threads()}
    results = {name: r for name in ROWS if (r := load_result(name, settings_key, root, args.output, args.init)) is not None}
    if args.cluster_sweep:
        atomic_write_json(RESULTS_DIR / CLUSTER_SWEEP_FILE, measure_cluster_sweep(data, args.sweep_frames))
        if not args.no_write:
            write_section(results, data, args, settings_key)
        return
    if args.memory_probe:
        probe = measure_memory_probe(data, args.output, args.reference or default_checkpoint(), args.init)
        atomic_write_json(RESULTS_DIR / MEMORY_PROBE_FILE, probe)
        if not args.no_write:
            write_section(results, data, args, settings_key)
        return
    if args.instance_cost:
        cost = measure_instance_cost(args.instance_cost, data, args.images)
        print(cost)
        atomic_write_json(RESULTS_DIR / INSTANCE_COST_FILE, cost)
        if not args.no_write:
            write_section(results, data, args, settings_key)
        return
    for name in args.rows:
        if name in results:
            print(f"{name}: finished earlier ({RESULTS_DIR / (name + '.json')})")
            continue
        result = train_row(ROWS[name], root, data, args, settings_key)
        if not result:
            print(f"stopped during {name}; run the same command to resume")
            break
        results[name] = result
        plain = result.get("reports", {}).get("plain", {})
        print(f"{name}: mAP {plain.get('mAP', float('nan')):.2f}, top-1 {plain.get('top1', float('nan')):.2f}")
        if not args.no_write:
            write_section(results, data, args, settings_key)
    if not args.no_write:
        write_section(results, data, args, settings_key)


if __name__ == "__main__":
    main()
