"""Light backbones for SeqNet on the CPU under one training-time budget, on a synthetic PRW world.

    python benchmarks/bench_backbones.py [--backbones mobilenet_v2_offline resnet18_random]
                                         [--minutes 30] [--clock cpu] [--size small] [--max-queries N]

Variants (the `seqnet_synth_prw` preset with backbone overrides): MobileNetV2 with the
offline ImageNet weights (frozen batch norms and stem, as the preset), and MobileNetV2,
ShuffleNetV2 x1.0 and ResNet-18 from random init (batch norms and stem trained).

Each variant trains for `--minutes` on `--clock`: the CPU time of the training process
(default; data loading then runs in that process, so it is counted) or the wall clock.
CPU time keeps the budget fair when variants train side by side on a shared machine:

    python benchmarks/bench_backbones.py --backbones mobilenet_v2_offline mobilenet_v2_random \
        --train-threads 1 --skip-speed &
    python benchmarks/bench_backbones.py --backbones shufflenet_v2_x1_0_random resnet18_random \
        --train-threads 1 --skip-speed &
    wait; python benchmarks/bench_backbones.py --train-threads 1 --threads 1 --reuse

Each variant's figures are kept in `OUTPUT/VARIANT/result.json`; `--reuse` takes them
instead of training again when they were made with the same settings, and the speed
rows are then measured on their checkpoints.

The engine has no time or iteration limit, so the budget is set here: a throw-away
probe run times a few iterations (the first two left out), the preset's schedule
(LR step at 6/8 of the run) is compressed to the iterations that fit the budget while
the warm-up keeps its one epoch (a compressed warm-up collapsed the re-ID embedding),
and a hook stops the run at that iteration or when the budget is spent, whichever
comes first. The model is then scored with the PRW protocol (all gallery,
with CBGM k1=30 k2=4, and cross-camera), and its gallery inference speed and peak
memory are measured at short side 360 and 540 in a fresh process each (ratios against
the first variant at 360, mobilenet_v2_offline by default). The hand-crafted colour +
HOG baseline comes from BENCHMARKS.md's `handcrafted-baseline-prw` section when it was
run on the same world and queries, else it is measured here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import torch

import report as bench_report
from backbone_common import (
    BASELINE_INPUT,
    INPUT_SIZES,
    VARIANTS,
    Variant,
    ensure_prw_world,
    measure_inference,
    preset_config,
)

from personsearch.data.catalog import load_dataset
from personsearch.data.records import SceneSearchData
from personsearch.data.scene_dataset import SceneDataset, collate_scenes
from personsearch.engine import HookBase, NonFiniteLossError, TrainSettings, build_trainer, prepare_run
from personsearch.engine import distributed as du
from personsearch.engine.inference import run_search_inference
from personsearch.evaluation import CBGM_PRESETS, evaluate_search_results
from personsearch.methods.supervised import EvalSettings, derive_model_kwargs, load_scene_data, results_from_arrays
from personsearch.models.search_model import build_search_model
from personsearch.utils.atomic import atomic_write_json

SECTION = "backbones-prw"
HANDCRAFTED_SECTION = "handcrafted-baseline-prw"
SKIPPED_PROBE_STEPS = 2  # the first steps include data-loader start-up and first-call allocations


class StopTraining(Exception):
    """Raised by `TrainingBudget` to end `Trainer.train()` between two iterations."""


class TrainingBudget(HookBase):
    """Stops training after `max_iterations` iterations or `seconds` on `clock` (from
    `before_train`), whichever comes first; records each iteration's duration on that clock.
    The clock is `time.process_time` (CPU seconds of this process, all its threads) or
    `time.perf_counter` (wall clock)."""

    def __init__(self, *, max_iterations: int | None = None, seconds: float | None = None,
                 clock=time.process_time) -> None:
        self.max_iterations, self.seconds, self.clock = max_iterations, seconds, clock
        self.start = self.last = 0.0
        self.step_seconds: list[float] = []
        self.iterations = 0
        self.reason = "schedule finished"

    def before_train(self, trainer) -> None:
        self.start = self.last = self.clock()
        self.iterations = trainer.iteration

    def after_step(self, trainer) -> None:
        now = self.clock()
        self.step_seconds.append(now - self.last)
        self.last = now
        self.iterations = trainer.iteration
        if self.max_iterations is not None and trainer.iteration >= self.max_iterations:
            self.reason = "planned iterations"
            raise StopTraining
        if self.seconds is not None and now - self.start >= self.seconds:
            self.reason = "time budget"
            raise StopTraining

    @property
    def elapsed(self) -> float:
        return self.last - self.start


def _trainer(cfg: dict[str, Any], settings: TrainSettings, data: SceneSearchData, output_dir: Path):
    """The model and trainer `train_from_config` builds, without the between-epoch evaluation."""
    device = prepare_run(settings)  # seeds every generator: the probe and the real run start alike
    model_kwargs = derive_model_kwargs(cfg["model"], data, batch_size=settings.batch_size,
                                       queue_batches=float(cfg["method"].get("queue_batches", 100)))
    model = build_search_model(**model_kwargs)
    trainer = build_trainer(
        settings=settings, model=model, model_kwargs=model_kwargs,
        train_dataset=SceneDataset(data.train, flip_prob=float(cfg["data"].get("flip_prob", 0.5))),
        collate_fn=collate_scenes, device=device, output_dir=output_dir, config=cfg, evaluator=None,
    )
    return trainer, model_kwargs, device


def _run(trainer, budget: TrainingBudget) -> None:
    trainer.hooks.append(budget)
    try:
        trainer.train()
    except StopTraining:
        pass


def train_variant(variant: Variant, root: Path, *, minutes: float, output_dir: Path, probe_iters: int,
                  workers: int | None, clock) -> dict[str, Any]:
    extra = [f"data.root={root}", f"output_dir={output_dir}", "train.tensorboard=false", "eval.period=-1"]
    if workers is not None:
        extra.append(f"train.workers={workers}")
    cfg = preset_config(variant, extra)
    settings = TrainSettings.from_section(cfg["train"])
    data = load_scene_data(cfg["data"])

    # 1. probe: seconds per iteration of this variant on this machine
    probe_dir = output_dir / "probe"
    probe, _, _ = _trainer(cfg, settings, data, probe_dir)
    iters_per_epoch = len(probe.train_loader)
    probe_budget = TrainingBudget(max_iterations=SKIPPED_PROBE_STEPS + probe_iters, clock=clock)
    _run(probe, probe_budget)
    timed = probe_budget.step_seconds[SKIPPED_PROBE_STEPS:] or probe_budget.step_seconds
    seconds_per_iter = statistics.mean(timed)
    probe_seconds = probe_budget.elapsed
    del probe
    shutil.rmtree(probe_dir, ignore_errors=True)

    # 2. the preset's schedule compressed to the iterations that fit the budget
    budget_s = 60.0 * minutes
    planned = max(1, int(budget_s / seconds_per_iter))
    planned_epochs = planned / iters_per_epoch
    scale = planned_epochs / settings.epochs
    # The warm-up keeps its length in epochs (at most half the run): compressed in
    # proportion, it ended at 0.5-0.7 epochs and the re-ID embedding collapsed (every OIM
    # table row the same direction, loss stuck at ln(table + queue size)).
    warmup_epochs = min(settings.warmup_epochs, planned_epochs / 2)
    settings = dataclasses.replace(
        settings, epochs=max(1, math.ceil(planned_epochs)), warmup_epochs=warmup_epochs,
        milestones=[max(m * scale, warmup_epochs) for m in settings.milestones])
    cfg["train"].update(epochs=settings.epochs, warmup_epochs=settings.warmup_epochs, milestones=settings.milestones)
    print(f"{variant.name}: {seconds_per_iter:.2f} s/iteration -> {planned} iterations "
          f"({planned_epochs:.2f} epochs of {iters_per_epoch}) in {minutes:g} min")

    # 3. the budgeted run
    trainer, model_kwargs, device = _trainer(cfg, settings, data, output_dir)
    budget = TrainingBudget(max_iterations=planned, seconds=budget_s, clock=clock)
    error = None
    try:
        _run(trainer, budget)
    except NonFiniteLossError as exc:
        error = f"diverged at iteration {exc.iteration}"
        print(f"{variant.name}: {exc}")
    model = du.unwrap_model(trainer.model).eval()
    checkpoint = output_dir / "budget_final.pth"
    torch.save({"model_kwargs": model_kwargs, "model": model.state_dict(), "iteration": trainer.iteration}, checkpoint)
    images = trainer.iteration * settings.batch_size
    return {
        "model": model, "device": device, "checkpoint": checkpoint, "error": error,
        "iterations": trainer.iteration, "planned": planned, "epochs": trainer.iteration / iters_per_epoch,
        "seconds": budget.elapsed, "stop": budget.reason, "train_images_per_s": images / max(budget.elapsed, 1e-9),
        "seconds_per_iter_probe": seconds_per_iter, "probe_seconds": probe_seconds,
        "loss": trainer.last_step.get("loss", float("nan")), "eval": EvalSettings.from_section(cfg["eval"]),
    }


def evaluate(model, data: SceneSearchData, device, settings: EvalSettings) -> dict[str, dict[str, Any]]:
    """`evaluate_model` on all gallery frames without and with CBGM, and cross-camera,
    sharing one inference pass."""
    arrays = run_search_inference(model, data, device, settings.batch_size, num_workers=settings.workers,
                                  progress=settings.progress)
    results = results_from_arrays(arrays)
    reports = {}
    for name, cbgm, cross_camera in (("plain", None, False), ("cbgm", CBGM_PRESETS["prw"], False),
                                     ("cross", None, True)):
        reports[name] = evaluate_search_results(
            results, data, cross_camera=cross_camera, det_thresh=settings.det_thresh,
            weight_by_score=settings.weight_by_score, cbgm=cbgm, source=data.name)
    return reports


RESULT_FILE = "result.json"


def save_variant_result(output_dir: Path, settings_key: dict[str, Any], run: dict[str, Any]) -> None:
    """The variant's training figures and scores, kept so a later run can reuse them."""
    kept = {key: (str(value) if isinstance(value, Path) else value) for key, value in run.items()}
    atomic_write_json(output_dir / RESULT_FILE, {"settings": settings_key, "run": kept})


def load_variant_result(output_dir: Path, settings_key: dict[str, Any]) -> dict[str, Any] | None:
    """The saved result when it was made with the same settings and its checkpoint is still there."""
    path = output_dir / RESULT_FILE
    if not path.is_file():
        return None
    saved = json.loads(path.read_text(encoding="utf-8"))
    run = saved["run"]
    if saved.get("settings") != settings_key or not Path(run["checkpoint"]).is_file():
        print(f"{path}: made with other settings ({saved.get('settings')}); training again")
        return None
    run["checkpoint"] = Path(run["checkpoint"])
    return run


# ------------------------------------------------------------------------------ hand-crafted baseline
def handcrafted_from_file(size: str, seed: int, num_queries: int) -> list[dict[str, Any]] | None:
    """Rows of BENCHMARKS.md's hand-crafted section if it was run on this world with these queries."""
    path = bench_report.BENCHMARKS_FILE
    if not path.exists():
        return None
    match = re.search(rf"<!-- {HANDCRAFTED_SECTION}:start -->(.*?)<!-- {HANDCRAFTED_SECTION}:end -->",
                      path.read_text(encoding="utf-8"), re.S)
    if not match:
        return None
    text = match.group(1)
    world = re.search(r"size `([^`]+)`, seed (\d+)", text)
    if not world or world.group(1) != size or int(world.group(2)) != seed:
        return None
    lines = [line for line in text.splitlines() if line.startswith("|")]
    if len(lines) < 3:
        return None
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [dict(zip(header, (c.strip() for c in line.strip("|").split("|")))) for line in lines[2:]]
    rows = [row for row in rows if row.get("gallery", "all") == "all"]
    if any(str(row.get("queries")) != str(num_queries) for row in rows):
        return None
    return [{"features": r["features"], "boxes": r["boxes"], "mAP": float(r["mAP"]), "top1": float(r["top-1"]),
             "det_ap": float(r["det AP"]), "det_recall": float(r["det recall"]), "source": "BENCHMARKS.md"}
            for r in rows]


def handcrafted_measured(root: Path, max_queries: int | None) -> list[dict[str, Any]]:
    import bench_handcrafted_baseline as handcrafted

    rows = []
    for detector, boxes in (("gt", "ground-truth boxes"), ("hog", "HOG detector")):
        report = handcrafted.run(load_dataset("prw", root), "colour+hog", detector, max_queries)["all"]
        rows.append({"features": "colour+hog", "boxes": boxes, "mAP": report["mAP"], "top1": report["top1"],
                     "det_ap": report.get("det_ap", float("nan")), "det_recall": report.get("det_recall", float("nan")),
                     "source": "measured in this run"})
    return rows


def _reference(handcrafted: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The best end-to-end hand-crafted pipeline (HOG detections), the one learned models replace."""
    hog = [r for r in handcrafted if r["boxes"] == "HOG detector"]
    return max(hog, key=lambda r: r["mAP"]) if hog else None


# ------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbones", nargs="+", default=list(VARIANTS), choices=list(VARIANTS),
                        help="variants to train (the first is the speed baseline at 360)")
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget per variant, on --clock")
    parser.add_argument("--clock", default="cpu", choices=["cpu", "wall"],
                        help="cpu: CPU time of the training process (fair when variants share the machine; "
                             "data loading runs in that process unless --workers says otherwise); wall: wall clock")
    parser.add_argument("--train-threads", type=int, help="torch threads of training and scoring")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse a variant's saved training and scores when its settings match")
    parser.add_argument("--skip-speed", action="store_true",
                        help="train and score only; measure speed later (e.g. with --reuse on a quiet machine)")
    parser.add_argument("--size", default="small", help="synthetic world size (tiny, small, ...)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path("data/worlds"))
    parser.add_argument("--root", type=Path, help="an existing PRW-format root (default: the synthetic world)")
    parser.add_argument("--max-queries", type=int, help="score only the first N queries (quick checks)")
    parser.add_argument("--images", type=int, default=50, help="gallery images timed per inference measurement")
    parser.add_argument("--probe-iters", type=int, default=10, help="timed iterations of the speed probe")
    parser.add_argument("--workers", type=int,
                        help="training data-loader workers (default: 0 with --clock cpu, else the preset's)")
    parser.add_argument("--threads", type=int, help="torch threads of the inference measurements")
    parser.add_argument("--handcrafted", default="auto", choices=["auto", "run", "skip"],
                        help="auto: reuse BENCHMARKS.md's figures when they match this world, else measure")
    parser.add_argument("--output", type=Path, default=Path("runs/bench_backbones"))
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = parser.parse_args()

    root = args.root or ensure_prw_world(args.size, args.seed, args.cache)
    data = load_dataset("prw", root)
    if args.max_queries:
        data.queries = list(data.queries[: args.max_queries])
    images = [record.image_path for record in data.gallery[: args.images]]

    if args.train_threads:
        torch.set_num_threads(args.train_threads)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    workers = args.workers if args.workers is not None else (0 if args.clock == "cpu" else None)
    settings_key = {"minutes": args.minutes, "clock": args.clock, "root": str(root), "queries": len(data.queries),
                    "probe_iters": args.probe_iters, "workers": workers, "train_threads": torch.get_num_threads()}
    results: dict[str, dict[str, Any]] = {}
    for name in args.backbones:
        output_dir = args.output / name
        run = load_variant_result(output_dir, settings_key) if args.reuse else None
        if run is not None:
            print(f"{name}: reusing {output_dir / RESULT_FILE}")
        else:
            run = train_variant(VARIANTS[name], root, minutes=args.minutes, output_dir=output_dir,
                                probe_iters=args.probe_iters, workers=workers, clock=clock)
            model, device, eval_settings = run.pop("model"), run.pop("device"), run.pop("eval")
            if run["error"] is None:
                run["reports"] = evaluate(model, data, device, eval_settings)
                print(f"{name}: mAP {run['reports']['plain']['mAP']:.2f}, top-1 {run['reports']['plain']['top1']:.2f}")
            del model
            save_variant_result(output_dir, settings_key, run)
        if not args.skip_speed:
            run["speed"] = {s: measure_inference(images=images, min_size=s, max_size=INPUT_SIZES[s],
                                                 checkpoint=run["checkpoint"], threads=args.threads)
                            for s in INPUT_SIZES}
        results[name] = run
    if args.skip_speed:
        print("speed not measured (--skip-speed); BENCHMARKS.md left as it is")
        return

    scored = [run["reports"]["plain"]["num_queries"] for run in results.values() if "reports" in run]
    handcrafted: list[dict[str, Any]] = []
    if args.handcrafted != "skip" and not args.root:
        handcrafted = (handcrafted_from_file(args.size, args.seed, scored[0] if scored else len(data.queries))
                       if args.handcrafted == "auto" else None) or handcrafted_measured(root, args.max_queries)
    reference = _reference(handcrafted)

    nan = float("nan")
    clock_name = "CPU" if args.clock == "cpu" else "wall"
    accuracy_rows, speed_rows = [], []
    base_name = args.backbones[0]
    base = results[base_name]["speed"][BASELINE_INPUT]
    for name, run in results.items():
        variant = VARIANTS[name]
        reports = run.get("reports", {})
        plain, cbgm, cross = reports.get("plain", {}), reports.get("cbgm", {}), reports.get("cross", {})
        delta = f"{plain['mAP'] - reference['mAP']:+.2f}" if plain and reference else "-"
        accuracy_rows.append([
            variant.backbone, variant.init, run["iterations"], f"{run['epochs']:.2f}", f"{run['seconds'] / 60:.1f}",
            run["train_images_per_s"], f"{run['loss']:.3f}" if run["error"] is None else run["error"],
            plain.get("mAP", nan), plain.get("top1", nan), cbgm.get("mAP", nan), cbgm.get("top1", nan),
            cross.get("mAP", nan), cross.get("top1", nan), plain.get("det_ap", nan), plain.get("det_recall", nan),
            delta])
        for size in INPUT_SIZES:
            f = run["speed"][size]
            speed_rows.append([
                variant.backbone, variant.init, f"{size} / {INPUT_SIZES[size]}", f["images_per_s"],
                f"{f['images_per_s'] / base['images_per_s']:.2f}x", f"{f['peak_rss_mib']:.0f}",
                f"{f['inference_rss_mib']:.0f}", f"{f['peak_rss_mib'] / base['peak_rss_mib']:.2f}x",
                f"{f['detections_per_image']:.1f}"])
    accuracy = bench_report.markdown_table(
        ["backbone", "init", "iterations", "epochs", f"train {clock_name} min", f"train images per {clock_name} s",
         "last loss", "mAP", "top-1", "mAP +CBGM", "top-1 +CBGM", "mAP cross-cam", "top-1 cross-cam", "det AP",
         "det recall", "mAP vs hand-crafted (pp)"], accuracy_rows)
    speed = bench_report.markdown_table(
        ["backbone", "init", "input (short / max long)", "images/s", f"speed vs {base_name}@{BASELINE_INPUT}",
         "peak RSS (MiB)", "inference RSS (MiB)", "peak RSS ratio", "detections/image"], speed_rows)
    baseline = bench_report.markdown_table(
        ["features", "boxes", "mAP", "top-1", "det AP", "det recall", "source"],
        [[r["features"], r["boxes"], r["mAP"], r["top1"], r["det_ap"], r["det_recall"], r["source"]]
         for r in handcrafted]) if handcrafted else "(hand-crafted baseline not run)\n"
    print(accuracy, speed, baseline, sep="\n")
    for name, run in results.items():
        print(f"{name}: probe {run['seconds_per_iter_probe']:.2f} s/iteration, planned {run['planned']}, "
              f"ran {run['iterations']} (stopped by: {run['stop']})")
    if args.no_write:
        return

    budget_clock = ("CPU time (the training process's, so variants trained side by side get equal shares)"
                    if args.clock == "cpu" else "wall-clock time")
    world = f"root `{args.root}`" if args.root else f"synthetic `prw` world, size `{args.size}`, seed {args.seed}"
    recipe = preset_config(VARIANTS[base_name])
    queries = len(data.queries)
    stops = ", ".join(f"{name} {run['iterations']}/{run['planned']} ({run['stop']})" for name, run in results.items())
    body = (
        f"## Light backbones under one CPU training budget (PRW protocol)\n\n{bench_report.section_preamble()}"
        f"- data: {world}; {len(data.train)} training frames, {len(data.gallery)} gallery frames, {queries} queries\n"
        f"- recipe: `seqnet_synth_prw` preset (batch {recipe['train']['batch_size']}, SGD lr {recipe['train']['lr']}, "
        f"short side {recipe['model']['min_size']}) with the backbone overrides; random-init variants train their "
        "batch norms and stem\n"
        f"- budget: {args.minutes:g} minutes of training {budget_clock} per variant "
        f"({settings_key['train_threads']} torch thread(s), {workers if workers is not None else 'preset'} "
        f"data-loader workers); a {args.probe_iters}-iteration "
        f"probe sets the planned iterations, the preset's LR step (6/8) is scaled to them and its "
        f"{TrainSettings.from_section(recipe['train']).warmup_epochs:g}-epoch warm-up kept (at most half the run); "
        f"iterations run / planned: {stops}\n"
        "- search: all gallery frames, detection threshold 0.5; CBGM with PRW's k1=30, k2=4; cross-cam: PRW's "
        "cross-camera gallery (frames of the query's camera left out); det AP at score >= 0.01\n"
        f"- speed: gallery inference (detection + embeddings, batch 1) of the trained model over the first "
        f"{len(images)} gallery images, one fresh process per row (peak RSS: that process's peak; inference RSS: "
        f"the peak minus the resident size before the first forward pass); ratios against "
        f"{base_name} at {BASELINE_INPUT} of this run\n\n"
        f"### Accuracy\n\n{accuracy}\n### Inference speed and memory\n\n{speed}\n"
        f"### Hand-crafted baseline (colour histogram + HOG features)\n\n{baseline}"
        + (f"\n`mAP vs hand-crafted` is against the best end-to-end hand-crafted row ({reference['features']}, "
           f"{reference['boxes']}).\n" if reference else ""))
    bench_report.update_section(SECTION, body)


if __name__ == "__main__":
    main()
