"""PretrainPS on the synthetic PRW world: the analogues of the paper's Table 1 (backbones), Fig. 5
(target-data fraction), Fig. 6 (alignment modules as sources are added) and Table 4 (crop placement).

    python benchmarks/bench_pretrain.py [--rows ROW ...] [--pretrain-minutes 45] [--finetune-minutes 30]
                                        [--train-threads 1] [--size small] [--seed 0] [--report-only]

Every fine-tune is NAE (the paper's Table 1 model) from the `seqnet_synth_prw` preset with
`model.name=nae`, trained for the same CPU budget (`--finetune-minutes` of this process's CPU
time) on the PRW-format world (`--size`, `--seed`), then scored with the PRW protocol (all
gallery, CBGM, cross-camera) and detection AP. Pre-trained rows start from a pre-training run of
the `pretrain_synth` preset (five synthetic sub-task sources with their own people, camera looks
and scene statistics; seeds 1101-1501, never the target's) given `--pretrain-minutes` of CPU. The
ablation pre-trainings (fewer sources, no IAM, random_paste) take the plan of the run they are
compared with and train its iterations, however long they take on this machine, so that each
differs from it only in what it ablates.
`mnv2_imagenet_charged` starts from ImageNet and fine-tunes for the budget plus the CPU minutes
its pre-training used: the pre-trained rows' total compute.

Budgets: a throw-away probe times a few iterations; the schedule (LR step at 3/4, warm-up at most
one epoch and half the run; a fine-tune on a fraction of the frames warms up for the iterations of
one epoch of all frames) is compressed to the iterations that fit the budget and kept in the
run folder, so a resumed run follows the same plan. Pre-training stops at epoch ends (a
checkpoint every `method.iterations_per_epoch`), at the first one past 1.25 times its budget if
its plan has not ended by then; fine-tunes stop at their planned iteration or at their budget.
CPU seconds spent are recorded at every epoch end, so an interrupted run resumes from its last
checkpoint with the CPU it had already spent. A half-done run whose configuration has changed since is moved
aside (NAME.stale), not resumed; a kept pre-training whose checkpoint is missing is retrained to its
recorded plan and iterations. Two processes can complete the tables side by side (`--rows` split between them;
more than two on two cores make every CPU minute buy fewer iterations): a run is trained by one
process at a time (a lock file beside its folder), and a process that needs a run another is
training waits for it. Each finished pre-training and each scored row is
kept as JSON in `--results` (committed; a `--variant`'s rows in a folder of their own there,
its pre-trainings shared with the main rows); a pre-trained row's result is kept only while its
pre-training's configuration and iterations are unchanged (code changes are not part of that
digest). `--report-only`
rebuilds BENCHMARKS.md's `pretrain-prw` section from those files; rows not yet run show as pending.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import math
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import torch

import report as bench_report
from backbone_common import config_digest, ensure_prw_world
from bench_backbones import SKIPPED_PROBE_STEPS, StopTraining, TrainingBudget, evaluate

from personsearch.config import load_config
from personsearch.data.world_cache import world_record
from personsearch.data.scene_dataset import SceneDataset, collate_scenes
from personsearch.engine import HookBase, NonFiniteLossError, TrainSettings, build_trainer, prepare_run
from personsearch.engine import distributed as du
from personsearch.methods import pretrain as pretrain_recipe
from personsearch.methods.pretrain_export import PRETRAINED_FILE, export_checkpoint
from personsearch.methods.supervised import EvalSettings, build_model, derive_model_kwargs, load_scene_data
from personsearch.utils.atomic import atomic_write_json
from personsearch.utils.exclusive import exclusive

SECTION = "pretrain-prw"
FINETUNE_PRESET = "preset:seqnet_synth_prw"
PRETRAIN_PRESET = "preset:pretrain_synth"
ALL_SOURCES = ("crowdhuman", "ecp", "msmt17", "cuhk03", "luperson")
PLAN_FILE, SPENT_FILE = "plan.json", "cpu_spent.json"
PERCENTS = (20, 40, 60, 80, 100)
FRACTION_FIGURE = bench_report.BENCHMARKS_FILE.parent / "docs" / "pretrain_fraction.png"


@dataclasses.dataclass(frozen=True)
class Pretraining:
    name: str
    backbone: str
    weights: str  # offline (ImageNet) | none (random)
    sources: tuple[str, ...] = ALL_SOURCES
    alignment: bool = True
    placement: str = "expand_resize"
    schedule_of: str | None = None  # take that pre-training's plan (its iterations and LR steps) instead of a probe

    def overrides(self) -> list[str]:
        # BatchNorm trains in every pre-training (the preset's freeze_bn: false); a random stem trains too
        pretrained_stem = "false" if self.weights == "none" else "true"
        # the schedule each plan compresses to its budget: 16 epochs, the LR step at 12 (the preset's
        # own default is that compression at 45 minutes)
        out = ["train.epochs=16", "train.milestones=[12]",
               f"model.backbone={self.backbone}", f"model.backbone_weights={self.weights}",
               f"model.freeze_stem={pretrained_stem}",
               f"method.alignment={str(self.alignment).lower()}", f"data.placement={self.placement}"]
        return out + [f"data.sources.{s}=null" for s in ALL_SOURCES if s not in self.sources]


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    table: str  # backbones | fraction | sources | placement
    backbone: str
    weights: str
    pretraining: str | None = None
    parts: str = "all"
    fraction: float = 1.0
    charged_pretraining: str | None = None  # no pre-training, but its CPU minutes added to the fine-tune's

    @property
    def depends_on(self) -> str | None:
        """The pre-training run this row needs: its weights, or its CPU minutes."""
        return self.pretraining or self.charged_pretraining

    @property
    def init(self) -> str:
        base = "ImageNet" if self.weights == "offline" else "random"
        if self.charged_pretraining:
            return f"{base}, fine-tuned + the pre-training's CPU minutes"
        if self.pretraining is None:
            return base
        return f"{base} + pre-trained ({'backbone' if self.parts == 'backbone' else 'whole model'})"


PRETRAININGS = {p.name: p for p in (
    Pretraining("mnv2_5src_iam", "mobilenet_v2", "offline"),
    # the ablations train as many iterations as the run they are compared with, whatever each costs
    Pretraining("mnv2_5src_noiam", "mobilenet_v2", "offline", alignment=False, schedule_of="mnv2_5src_iam"),
    Pretraining("mnv2_4src_iam", "mobilenet_v2", "offline", sources=ALL_SOURCES[:4], schedule_of="mnv2_5src_iam"),
    Pretraining("mnv2_4src_noiam", "mobilenet_v2", "offline", sources=ALL_SOURCES[:4], alignment=False,
                schedule_of="mnv2_5src_iam"),
    Pretraining("mnv2_5src_iam_paste", "mobilenet_v2", "offline", placement="random_paste",
                schedule_of="mnv2_5src_iam"),
    Pretraining("resnet18_5src_iam", "resnet18", "none"),
    Pretraining("shufflenet_5src_iam", "shufflenet_v2_x1_0", "none"),
)}

_ROWS = [
    Row("mnv2_imagenet", "backbones", "mobilenet_v2", "offline"),
    Row("mnv2_pre_backbone", "backbones", "mobilenet_v2", "offline", "mnv2_5src_iam", "backbone"),
    Row("mnv2_pre_all", "backbones", "mobilenet_v2", "offline", "mnv2_5src_iam"),
    Row("mnv2_imagenet_charged", "backbones", "mobilenet_v2", "offline", charged_pretraining="mnv2_5src_iam"),
    Row("resnet18_random", "backbones", "resnet18", "none"),
    Row("resnet18_pre_all", "backbones", "resnet18", "none", "resnet18_5src_iam"),
    Row("shufflenet_random", "backbones", "shufflenet_v2_x1_0", "none"),
    Row("shufflenet_pre_all", "backbones", "shufflenet_v2_x1_0", "none", "shufflenet_5src_iam"),
]
for _percent in PERCENTS[:-1]:  # 100% are the Table 1 rows
    _ROWS += [Row(f"mnv2_imagenet_f{_percent}", "fraction", "mobilenet_v2", "offline", fraction=_percent / 100),
              Row(f"mnv2_pre_all_f{_percent}", "fraction", "mobilenet_v2", "offline", "mnv2_5src_iam",
                  fraction=_percent / 100),
              Row(f"mnv2_pre_backbone_f{_percent}", "fraction", "mobilenet_v2", "offline", "mnv2_5src_iam", "backbone",
                  fraction=_percent / 100)]
_ROWS += [
    Row("mnv2_pre_4src_noiam", "sources", "mobilenet_v2", "offline", "mnv2_4src_noiam"),
    Row("mnv2_pre_4src_iam", "sources", "mobilenet_v2", "offline", "mnv2_4src_iam"),
    Row("mnv2_pre_5src_noiam", "sources", "mobilenet_v2", "offline", "mnv2_5src_noiam"),
    Row("mnv2_pre_paste", "placement", "mobilenet_v2", "offline", "mnv2_5src_iam_paste"),
]
ROWS = {row.name: row for row in _ROWS}


# ------------------------------------------------------------------------------ budgets
class CpuBudget(HookBase):
    """CPU seconds of this process, cumulative over resumed runs: `SPENT_FILE` in the run folder
    records the total at every epoch end. Stops (StopTraining) after `max_iterations`, or at the
    first epoch start past `seconds` (epoch_stop) / the first step past it (otherwise)."""

    def __init__(self, *, folder: Path, seconds: float, max_iterations: int | None = None,
                 epoch_stop: bool = False) -> None:
        self.path, self.seconds, self.max_iterations, self.epoch_stop = folder / SPENT_FILE, seconds, max_iterations, epoch_stop
        self.spent_before = 0.0
        self.start = 0.0
        self.reason = "schedule finished"

    @property
    def spent(self) -> float:
        return self.spent_before + time.process_time() - self.start

    def before_train(self, trainer) -> None:
        self.start = time.process_time()
        if self.path.is_file() and trainer.iteration > 0:
            self.spent_before = float(json.loads(self.path.read_text()).get(str(trainer.epoch), 0.0))

    def before_epoch(self, trainer) -> None:
        if self.epoch_stop and self.spent >= self.seconds:
            self.reason = "CPU budget"
            raise StopTraining

    def after_step(self, trainer) -> None:
        if self.max_iterations is not None and trainer.iteration >= self.max_iterations:
            self.reason = "planned iterations"
            raise StopTraining
        if not self.epoch_stop and self.spent >= self.seconds:
            self.reason = "CPU budget"
            raise StopTraining

    def after_epoch(self, trainer) -> None:
        spent = json.loads(self.path.read_text()) if self.path.is_file() else {}
        spent[str(trainer.epoch)] = self.spent
        atomic_write_json(self.path, spent)


def _probe(make_trainer, probe_iters: int) -> tuple[float, int]:
    """Seconds of CPU per iteration (the first steps left out) and iterations per epoch."""
    trainer = make_trainer()
    budget = TrainingBudget(max_iterations=SKIPPED_PROBE_STEPS + probe_iters, clock=time.process_time)
    trainer.hooks.append(budget)
    try:
        trainer.train()
    except StopTraining:
        pass
    timed = budget.step_seconds[SKIPPED_PROBE_STEPS:] or budget.step_seconds
    return statistics.mean(timed), len(trainer.train_loader)


def _plan(folder: Path, make_probe, probe_iters: int, minutes: float, digest: str) -> dict[str, Any]:
    """The compressed schedule, probed once and kept in the run folder. A half-done run of another
    configuration (`digest`) is moved aside (to NAME.stale) instead of being resumed."""
    path = folder / PLAN_FILE
    if path.is_file():
        plan = json.loads(path.read_text())
        if plan.get("config", digest) != digest:
            stale = folder.with_name(folder.name + ".stale")
            shutil.rmtree(stale, ignore_errors=True)
            folder.rename(stale)
            print(f"{folder}: trained with another configuration; moved to {stale}, starting afresh")
        elif plan.get("minutes") == minutes:
            if "config" not in plan:  # planned before runs recorded their configuration
                atomic_write_json(path, {**plan, "config": digest})
            return plan
    seconds_per_iter, iters_per_epoch = make_probe()
    shutil.rmtree(folder / "probe", ignore_errors=True)
    planned = max(1, int(60.0 * minutes / seconds_per_iter))
    plan = {"minutes": minutes, "seconds_per_iter": seconds_per_iter, "iters_per_epoch": iters_per_epoch,
            "planned_iterations": planned, "planned_epochs": planned / iters_per_epoch, "probe_iters": probe_iters,
            "config": digest}
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, plan)
    return plan


def _compressed(settings: TrainSettings, planned_epochs: float) -> dict[str, Any]:
    warmup = min(settings.warmup_epochs, planned_epochs / 2)
    scale = planned_epochs / settings.epochs
    return {"epochs": max(1, math.ceil(planned_epochs)), "warmup_epochs": warmup,
            "milestones": [max(m * scale, warmup) for m in settings.milestones]}


# ------------------------------------------------------------------------------ pre-training
def pretrain(p: Pretraining, *, minutes: float, output: Path, results: Path, probe_iters: int,
             extra: list[str], preset: str = PRETRAIN_PRESET) -> dict[str, Any]:
    """The pre-training run `p` within `minutes` of CPU, resumed if interrupted; its summary JSON."""
    folder = output / "pretrain" / p.name
    reference = None
    if p.schedule_of:
        ref = PRETRAININGS[p.schedule_of]
        reference = (_kept_pretraining(ref, minutes=minutes, results=results, extra=extra, preset=preset)
                     or pretrain(ref, minutes=minutes, output=output, results=results, probe_iters=probe_iters,
                                 extra=extra, preset=preset))
    with exclusive(folder, waiting_message=f"{folder}: another process is training it; waiting"):
        return _pretrain(p, folder=folder, minutes=minutes, results=results, probe_iters=probe_iters,
                         extra=extra, preset=preset, reference=reference)


def _base_overrides(p: Pretraining, folder: Path | None, extra: list[str]) -> list[str]:
    return p.overrides() + [f"output_dir={folder}", "train.tensorboard=false", "train.workers=0",
                            "train.progress=false"] + extra


def _digest(p: Pretraining, cfg: dict[str, Any], reference: dict[str, Any] | None) -> str:
    """What the run trains with: its configuration and, for an ablation, the schedule it borrows
    from its `reference` run."""
    if reference is None:
        return config_digest(cfg)
    borrowed = {"name": p.schedule_of, "planned_iterations": reference["plan"]["planned_iterations"]}
    return config_digest({**cfg, "schedule_of": borrowed})


def _kept_pretraining(p: Pretraining, *, minutes: float, results: Path, extra: list[str],
                      preset: str) -> dict[str, Any] | None:
    """The kept result of `p` if it is valid today, its checkpoint present or not; None otherwise."""
    reference = None
    if p.schedule_of:
        reference = _kept_pretraining(PRETRAININGS[p.schedule_of], minutes=minutes, results=results, extra=extra,
                                      preset=preset)
        if reference is None:
            return None
    cfg = load_config(preset, _base_overrides(p, None, extra))
    return _kept_summary(p, minutes=minutes, results=results, digest=_digest(p, cfg, reference),
                         reference=reference)


def _kept_summary(p: Pretraining, *, minutes: float, results: Path, digest: str,
                  reference: dict[str, Any] | None) -> dict[str, Any] | None:
    """The kept result of `p`, if it was run with this budget and configuration (and, for an
    ablation, trained as many iterations as its `reference` run)."""
    summary = _load(results / f"pretrain_{p.name}.json")
    if (summary and summary.get("minutes") == minutes and summary["plan"].get("config") == digest
            and (reference is None or summary["steps"] == reference["steps"])):
        return summary
    return None


def _pretrain(p: Pretraining, *, folder: Path, minutes: float, results: Path, probe_iters: int,
              extra: list[str], preset: str, reference: dict[str, Any] | None) -> dict[str, Any]:
    summary_path = results / f"pretrain_{p.name}.json"
    base = _base_overrides(p, folder, extra)
    cfg = load_config(preset, base)
    reference_plan = reference and reference["plan"]
    digest = _digest(p, cfg, reference)
    if (earlier := _kept_summary(p, minutes=minutes, results=results, digest=digest, reference=reference)) is not None:
        if (folder / PRETRAINED_FILE).is_file():
            return earlier
        if not (folder / PLAN_FILE).is_file():
            # the kept run's checkpoint is gone (a new machine): retrain to its recorded plan, not
            # a new probe, so that the rebuilt model has the schedule the kept rows were tuned from
            print(f"pre-training {p.name}: checkpoint missing; retraining to the recorded plan")
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_json(folder / PLAN_FILE, earlier["plan"])

    def own_probe() -> tuple[float, int]:
        probe_cfg = load_config(preset, base + [f"output_dir={folder / 'probe'}"])
        holder: dict[str, Any] = {}

        class Capture(HookBase):
            def before_train(self, trainer) -> None:
                if "trainer" not in holder:  # built: hand the trainer to the probe instead of training
                    holder["trainer"] = trainer
                    raise StopTraining

        try:
            pretrain_recipe.train_from_config(probe_cfg, extra_hooks=[Capture()])
        except StopTraining:
            pass
        return _probe(lambda: holder["trainer"], probe_iters)

    def borrowed() -> tuple[float, int]:
        return reference_plan["seconds_per_iter"], reference_plan["iters_per_epoch"]

    plan = _plan(folder, own_probe if reference_plan is None else borrowed, probe_iters, minutes, digest)
    settings = TrainSettings.from_section(cfg["train"])
    cfg["train"].update(_compressed(settings, plan["planned_epochs"]))
    # an ablation trains its reference's iterations and a rebuild the kept run's, however long they
    # take on this machine; a run of its own plan stops at the first epoch past 1.25 times its budget
    steps = (reference or earlier or {}).get("steps")
    if steps is not None:
        cfg["train"]["epochs"] = steps // plan["iters_per_epoch"]
    budget = CpuBudget(folder=folder, seconds=math.inf if steps is not None else 1.25 * 60.0 * minutes,
                       epoch_stop=True)
    print(f"pre-training {p.name}: {plan['seconds_per_iter']:.2f} CPU s/iteration -> {cfg['train']['epochs']} epochs "
          f"of {plan['iters_per_epoch']} in {minutes:g} min"
          + (f" (the plan of {p.schedule_of})" if reference_plan is not None else ""))
    try:
        pretrain_recipe.train_from_config(cfg, resume="auto", extra_hooks=[budget])
    except StopTraining:
        export_checkpoint(folder / "last.pth", folder / PRETRAINED_FILE, "all")
    exported = torch.load(folder / PRETRAINED_FILE, map_location="cpu", weights_only=True)
    summary = {"name": p.name, "minutes": minutes, "cpu_minutes": budget.spent / 60.0, "stop": budget.reason,
               "backbone": p.backbone, "weights": p.weights, "sources": list(p.sources), "alignment": p.alignment,
               "placement": p.placement, **{k: exported["pretrain"][k] for k in ("steps", "epochs")},
               "source_stats": exported["pretrain"]["sources"],
               "plan": plan, "checkpoint": str(folder / PRETRAINED_FILE), "machine": bench_report.machine_line(),
               "source_worlds": {name: world_record(source["root"])
                                 for name, source in cfg["data"]["sources"].items() if source}}
    if earlier is not None:  # a rebuild: the kept rows came from the earlier runs, whose records stay
        summary["earlier_runs"] = [{k: v for k, v in earlier.items() if k != "earlier_runs"},
                                   *earlier.get("earlier_runs", [])]
    results.mkdir(parents=True, exist_ok=True)
    atomic_write_json(summary_path, summary)
    return summary


# ------------------------------------------------------------------------------ fine-tuning
def finetune(row: Row, *, root: Path, minutes: float, folder: Path, probe_iters: int, init_from: str | None,
             data_queries: int | None, extra: list[str] = (), pretraining_config: str | None = None) -> dict[str, Any]:
    """The fine-tune `row`, trained in `folder`. `pretraining_config`: the configuration digest and
    iterations of the pre-training the row depends on (`init_from` came from it, or `minutes`
    include its CPU time); a half-done fine-tune of another pre-training is moved aside rather than
    resumed."""
    trained_bn = "false" if row.weights == "none" else "true"
    overrides = ["model.name=nae", f"model.backbone={row.backbone}", f"model.backbone_weights={row.weights}",
                 f"+model.freeze_bn={trained_bn}", f"+model.freeze_stem={trained_bn}", f"data.root={root}",
                 "train.tensorboard=false", "train.workers=0", "train.progress=false", "eval.period=-1",
                 "eval.progress=false"]
    if init_from:
        overrides += [f"model.init_from={init_from}", f"model.init_parts={row.parts}"]
    if row.fraction < 1.0:
        overrides.append(f"+data.train_fraction={row.fraction}")
    cfg = load_config(FINETUNE_PRESET, overrides + list(extra))
    data = load_scene_data(cfg["data"])
    if row.fraction < 1.0:
        # the recipe's warm-up is an epoch, which would shrink with the frames; it keeps the whole
        # set's iterations instead (a short warm-up alone made ImageNet collapse below 80%)
        whole = len(load_scene_data({**cfg["data"], "train_fraction": 1.0}).train)
        cfg["train"]["warmup_epochs"] = float(cfg["train"]["warmup_epochs"]) * whole / len(data.train)
    if data_queries:
        data.queries = list(data.queries[:data_queries])

    def make_trainer(out_dir: Path, settings: TrainSettings, resume: str | None):
        device = prepare_run(settings)
        model_kwargs = derive_model_kwargs(cfg["model"], data, batch_size=settings.batch_size,
                                           queue_batches=float(cfg["method"].get("queue_batches", 100)))
        model = build_model(model_kwargs, cfg["model"])
        trainer = build_trainer(settings=settings, model=model, model_kwargs=model_kwargs,
                                train_dataset=SceneDataset(data.train, flip_prob=float(cfg["data"].get("flip_prob", 0.5))),
                                collate_fn=collate_scenes, device=device, output_dir=out_dir, config=cfg,
                                evaluator=None, resume=resume)
        return trainer, device

    settings = TrainSettings.from_section(cfg["train"])
    plan = _plan(folder, lambda: _probe(lambda: make_trainer(folder / "probe", settings, None)[0], probe_iters),
                 probe_iters, minutes,
                 config_digest(cfg if pretraining_config is None else {**cfg, "pretraining": pretraining_config}))
    settings = dataclasses.replace(settings, **_compressed(settings, plan["planned_epochs"]))
    cfg["train"].update(epochs=settings.epochs, warmup_epochs=settings.warmup_epochs, milestones=settings.milestones)
    trainer, device = make_trainer(folder, settings, "auto")
    budget = CpuBudget(folder=folder, seconds=60.0 * minutes, max_iterations=plan["planned_iterations"])
    trainer.hooks.insert(0, budget)
    error = None
    try:
        trainer.train()
    except StopTraining:
        pass
    except NonFiniteLossError as exc:
        error = f"diverged at iteration {exc.iteration}"
    model = du.unwrap_model(trainer.model).eval()
    run = {"row": dataclasses.asdict(row), "init": row.init, "init_from": init_from, "minutes": minutes,
           "cpu_minutes": budget.spent / 60.0, "stop": budget.reason, "iterations": trainer.iteration,
           "epochs": trainer.iteration / plan["iters_per_epoch"], "train_frames": len(data.train), "plan": plan,
           "world": world_record(root), "machine": bench_report.machine_line(),
           "loss": trainer.last_step.get("loss", float("nan")), "error": error}
    if error is None:
        run["reports"] = evaluate(model, data, device, EvalSettings.from_section(cfg["eval"]))
    return run


# ------------------------------------------------------------------------------ report
def _cells(run: dict[str, Any] | None) -> list[Any]:
    if run is None:
        return ["pending"] * 6
    if run.get("error"):
        return [run["error"]] + ["-"] * 5
    plain, cross = run["reports"]["plain"], run["reports"]["cross"]
    return [plain["mAP"], plain["top1"], cross["mAP"], cross["top1"], plain.get("det_ap", float("nan")),
            f"{run['cpu_minutes']:.1f} / {run['iterations']}"]


FRACTION_BASES = ("mnv2_imagenet", "mnv2_pre_backbone", "mnv2_pre_all")


def _fraction_row(base: str, percent: int) -> str:
    return base if percent == 100 else f"{base}_f{percent}"


def plot_fraction_curve(results: Path, out_path: Path) -> Path:
    """Fig. 5's analogue: mAP, cross-camera mAP and detection AP against the share of the target's
    training frames, for each init (finished rows only), with ImageNet on all frames as a line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from personsearch.utils.atomic import atomic_path

    panels = (("mAP", "plain", "mAP"), ("cross-camera mAP", "cross", "mAP"), ("detection AP", "plain", "det_ap"))
    figure = Figure(figsize=(12, 3.8), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels))
    for base, label in zip(FRACTION_BASES, ("ImageNet", "pre-trained backbone", "pre-trained whole model")):
        runs = [(percent, _load(results / f"{_fraction_row(base, percent)}.json")) for percent in PERCENTS]
        runs = [(percent, run) for percent, run in runs if run and not run.get("error")]
        for ax, (title, protocol, metric) in zip(axes, panels):
            points = [(percent, run["reports"][protocol][metric]) for percent, run in runs
                      if metric in run["reports"][protocol]]
            ax.plot([x for x, _ in points], [y for _, y in points], marker="o", label=label)
            full = dict(points).get(100)
            if base == "mnv2_imagenet" and full is not None:
                ax.axhline(full, color="grey", linestyle="--", linewidth=1, label="ImageNet, 100%")
            ax.set_title(title)
    for ax in axes:
        ax.set_xlabel("target training frames (%)")
        ax.set_xticks(PERCENTS)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.subplots_adjust(left=0.05, right=0.98, bottom=0.14, top=0.9, wspace=0.2)
    with atomic_path(out_path, suffix=".png") as tmp:
        figure.savefig(tmp, format="png")
    return out_path


def _worlds_line(rows: dict[str, dict[str, Any] | None]) -> str:
    """Which target world (content digest) each finished row was measured on."""
    by_world = collections.Counter(run.get("world", {}).get("content_digest", "not recorded")
                                   for run in rows.values() if run)
    return "- target world content digest (rows): " + "; ".join(
        f"`{digest}` ({count})" for digest, count in sorted(by_world.items())) + "\n"


def _pretraining_minutes(summary: dict[str, Any]) -> str:
    cell = f"{summary['cpu_minutes']:.1f} of {summary['minutes']:g}"
    if summary.get("earlier_runs"):  # rebuilt to the same plan; the kept rows may come from the first run
        cell += f" (rebuilt; the first run: {summary['earlier_runs'][-1]['cpu_minutes']:.1f})"
    return cell


def _tables(results: Path) -> str:
    """The pre-training runs and the four tables of the rows kept in `results`."""
    rows = {name: _load(results / f"{name}.json") for name in ROWS}
    pretrains = {name: _load(results / f"pretrain_{name}.json") for name in PRETRAININGS}
    metrics = ["mAP", "top-1", "cross-cam mAP", "cross-cam top-1", "det AP", "CPU min / iterations"]
    backbones = bench_report.markdown_table(
        ["backbone", "init", *metrics],
        [[ROWS[n].backbone, ROWS[n].init, *_cells(rows[n])] for n in ROWS if ROWS[n].table == "backbones"])
    fraction_rows = []
    for percent in PERCENTS:
        for base in FRACTION_BASES:
            name = _fraction_row(base, percent)
            fraction_rows.append([f"{percent}%", ROWS[name].init, *_cells(rows[name])])
    fraction = bench_report.markdown_table(["target frames", "init", *metrics], fraction_rows)
    source_rows = []
    for name, label in (("mnv2_imagenet", "none (ImageNet)"), ("mnv2_pre_4src_noiam", "4 sources, no IAM"),
                        ("mnv2_pre_4src_iam", "4 sources, IAM"), ("mnv2_pre_5src_noiam", "5 sources, no IAM"),
                        ("mnv2_pre_all", "5 sources, IAM")):
        source_rows.append([label, *_cells(rows[name])])
    sources = bench_report.markdown_table(["pre-training", *metrics], source_rows)
    placement = bench_report.markdown_table(
        ["re-ID crop placement", *metrics],
        [["random_paste", *_cells(rows["mnv2_pre_paste"])], ["expand_resize", *_cells(rows["mnv2_pre_all"])]])
    pre_rows = [[name, p["backbone"] if (p := pretrains[name]) else PRETRAININGS[name].backbone,
                 ", ".join(PRETRAININGS[name].sources), "on" if PRETRAININGS[name].alignment else "off",
                 PRETRAININGS[name].placement, PRETRAININGS[name].schedule_of or "own probe",
                 _pretraining_minutes(p) if p else "pending", p["steps"] if p else "-",
                 p["stop"] if p else "-"]
                for name in PRETRAININGS]
    pre = bench_report.markdown_table(
        ["pre-training", "backbone", "sources", "IAM", "placement", "plan", "CPU min used of budget",
         "iterations", "stopped by"], pre_rows)
    return (f"{_worlds_line(rows)}\n#### Pre-training runs\n\n{pre}\n#### Backbones (Table 1)\n\n{backbones}\n"
            f"#### Target-data fraction (Fig. 5)\n\n{fraction}\n#### Alignment modules as sources are added (Fig. 6)\n\n"
            f"{sources}\n#### Crop placement (Table 4)\n\n{placement}")


def write_report(results: Path, settings_line: str, earlier: Path | None = None) -> str:
    body = (f"## PretrainPS on the synthetic PRW world (NAE)\n\n{bench_report.section_preamble()}{settings_line}\n"
            "Reading: [docs/pretrainps.md](docs/pretrainps.md). `pending`: not run yet; the command above without "
            "`--report-only` completes the tables, resuming interrupted runs. The last column is the CPU minutes "
            "and iterations each fine-tune used. A row is kept only for the world it was measured on.\n\n"
            f"### On today's world\n\n{_tables(results)}\n![Fig. 5 analogue](docs/{FRACTION_FIGURE.name})\n")
    if earlier is not None and earlier.is_dir():
        body += ("\n### On the world of generator version 1 (rows of earlier sittings)\n\n"
                 "The world cache did not yet know generator versions, so these rows ran on worlds cached before "
                 "the synthetic world's border annotation change (2026-12-05): other pictures and a few other "
                 "boxes from the same seed. Compare rows within one world only. Their 60% rows warmed up for one epoch "
                 "of their own frames, not of all frames.\n\n"
                 f"{_tables(earlier)}")
    return body


def _kept_row(results: Path, name: str, key: dict[str, Any], world: str | None) -> bool:
    """A result is kept for the settings `key` and the target world (content digest) it was measured on."""
    saved = _load(results / f"{name}.json")
    if not saved:
        return False
    # rows without pre-training depend on the fine-tuning settings only (their older results also
    # recorded the pre-training settings of their day, which are ignored); rows kept before the
    # pre-training's iterations were recorded came from pre-trainings that ran their whole plan
    settings = {"pretraining_steps": key.get("pretraining_steps"), **saved.get("settings", {})}
    return ({k: settings.get(k) for k in key} == key
            and saved.get("world", {}).get("content_digest") == world)


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS), help="rows to complete")
    parser.add_argument("--pretrain-minutes", type=float, default=45.0,
                        help="CPU minutes per pre-training (the kept pre-trainings had 45)")
    parser.add_argument("--finetune-minutes", type=float, default=30.0, help="CPU minutes per fine-tune")
    parser.add_argument("--train-threads", type=int, default=1, help="torch threads")
    parser.add_argument("--probe-iters", type=int, default=8)
    parser.add_argument("--size", default="small", help="size of the target PRW world")
    parser.add_argument("--seed", type=int, default=0, help="seed of the target PRW world")
    parser.add_argument("--cache", type=Path, default=Path("data/worlds"))
    parser.add_argument("--max-queries", type=int, help="score only the first N queries (quick checks)")
    parser.add_argument("--pretrain-config", default=PRETRAIN_PRESET, help="pre-training preset or YAML")
    parser.add_argument("--pretrain-override", action="append", default=[], metavar="key=value",
                        help="extra override of the pre-training config (e.g. a tiny validation)")
    parser.add_argument("--finetune-override", action="append", default=[], metavar="key=value",
                        help="extra override of the fine-tuning preset")
    parser.add_argument("--output", type=Path, default=Path("runs/bench_pretrain"))
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results/pretrain_prw"))
    parser.add_argument("--variant", metavar="NAME",
                        help="a variant of the fine-tunes (e.g. another seed, with --finetune-override "
                             "train.seed=2): its rows are kept in RESULTS/NAME and trained in "
                             "OUTPUT/finetune_NAME, from the same pre-trainings; the report shows the main rows")
    parser.add_argument("--earlier-results", type=Path, default=Path("benchmarks/results/pretrain_prw/generator_v1"),
                        help="rows measured on the world of an earlier generator, reported apart")
    parser.add_argument("--report-only", action="store_true", help="rebuild the section from the kept results")
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = parser.parse_args()

    torch.set_num_threads(args.train_threads)
    settings_line = (f"- budgets: {args.finetune_minutes:g} CPU minutes per fine-tune ({args.train_threads} thread), "
                     f"each pre-training's in its table; target: synthetic `prw` world, size "
                     f"`{args.size}`, seed {args.seed}; pre-training: `{args.pretrain_config}`"
                     + (f" with `{' '.join(args.pretrain_override)}`" if args.pretrain_override else "")
                     + f"; fine-tuning: `{FINETUNE_PRESET}` with `model.name=nae`"
                     + (f" `{' '.join(args.finetune_override)}`" if args.finetune_override else "") + "\n")
    if not args.report_only:
        root = ensure_prw_world(args.size, args.seed, args.cache)
        world = world_record(root).get("content_digest")
        args.results.mkdir(parents=True, exist_ok=True)
        row_results = args.results / args.variant if args.variant else args.results
        row_runs = args.output / (f"finetune_{args.variant}" if args.variant else "finetune")
        key = {"finetune_minutes": args.finetune_minutes, "root": str(root), "max_queries": args.max_queries,
               "finetune_overrides": args.finetune_override}
        pre_args = {"minutes": args.pretrain_minutes, "results": args.results, "extra": args.pretrain_override,
                    "preset": args.pretrain_config}

        def row_key(summary: dict[str, Any] | None) -> dict[str, Any]:
            # a kept fine-tune counts only if its pre-training's configuration is today's
            if summary is None:
                return key
            return {**key, "pretrain_minutes": args.pretrain_minutes, "pretrain_config": args.pretrain_config,
                    "pretrain_overrides": args.pretrain_override, "pretraining_config": summary["plan"]["config"],
                    "pretraining_steps": summary["steps"]}

        for name in args.rows:
            row = ROWS[name]
            pretraining = PRETRAININGS[row.depends_on] if row.depends_on else None
            summary = _kept_pretraining(pretraining, **pre_args) if pretraining else None
            # a kept row needs nothing more, not even its pre-training's checkpoint
            if (summary or not pretraining) and _kept_row(row_results, name, row_key(summary), world):
                print(f"{name}: kept result")
                continue
            init_from, minutes = None, args.finetune_minutes
            if pretraining:
                summary = pretrain(pretraining, output=args.output, probe_iters=args.probe_iters, **pre_args)
                if row.pretraining:
                    init_from = summary["checkpoint"]
                else:
                    minutes += summary["cpu_minutes"]
            run_folder = row_runs / name
            with exclusive(run_folder, waiting_message=f"{run_folder}: another process is training it; waiting"):
                if _kept_row(row_results, name, row_key(summary), world):  # finished by another process meanwhile
                    print(f"{name}: kept result")
                    continue
                run = finetune(row, root=root, minutes=minutes, folder=run_folder,
                               probe_iters=args.probe_iters, init_from=init_from, data_queries=args.max_queries,
                               extra=args.finetune_override,
                               pretraining_config=summary and f"{summary['plan']['config']}/{summary['steps']}")
                run["settings"] = row_key(summary)
                row_results.mkdir(parents=True, exist_ok=True)
                atomic_write_json(row_results / f"{name}.json", run)
            plain = run.get("reports", {}).get("plain", {})
            print(f"{name}: mAP {plain.get('mAP', float('nan')):.2f} top-1 {plain.get('top1', float('nan')):.2f}")
    with exclusive(args.output / "report", waiting_message="another process is writing the report; waiting"):
        body = write_report(args.results, settings_line, args.earlier_results)
        print(body)
        if not args.no_write:
            bench_report.update_section(SECTION, body)
            plot_fraction_curve(args.results, FRACTION_FIGURE)


if __name__ == "__main__":
    main()
