"""CTLG ablation on a synthetic world written in CUHK-PEDES format, on the CPU, resumable.

    cd benchmarks && nice -n 10 python bench_text_ablation.py --epochs 10 --work ../bench_runs/text_ablation

Variants (same recipe, epochs and input size for all; offline ImageNet MobileNetV2 + offline
MiniLM-L6 projected to 256-d, parameter groups, frozen BatchNorm): InfoNCE tau 0.02 ->
CTLG's hardness-aware tau 0.005 -> + approximate text -> + feature mixup -> + proximity pairs
(synthetic re-rendering editor, one pair per training image); and a small Transformer trained
from scratch in place of MiniLM. Reports R1/R5/R10/mAP/mINP (every test caption against every
unique test image), optimizer steps and the CPU time of training (one process, one thread).

Resumable: each variant trains in its own run folder under --work and resumes from its last
epoch checkpoint; a finished variant's result is written to
benchmarks/results/text_ablation/<variant>.json (kept in git) and is not trained again while its
configuration is unchanged. SIGTERM or Ctrl-C stops after the current epoch's checkpoint (a
second signal stops at once; the run then resumes from the previous epoch). BENCHMARKS.md shows
the finished rows and names the pending ones.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import threading
import time
from pathlib import Path

import torch

from personsearch.config import load_config
from personsearch.data.catalog import load_dataset, write_dataset
from personsearch.data.synth.world import SynthWorld
from personsearch.engine.hooks import HookBase
from personsearch.text.evaluate import evaluate_text_retrieval
from personsearch.text.proximity.editors import build_proximity_editor
from personsearch.text.proximity.generate import generate_proximity_dataset
from personsearch.text.train import build_text_trainer
from personsearch.utils.atomic import atomic_write_json
from report import command_line, machine_line, markdown_table, update_section

SECTION = "text-ablation"
RESULTS = Path(__file__).resolve().parent / "results" / "text_ablation"
CPU_FILE = "cpu_seconds.json"
NO_AUG = ["data.approximate_text.p=0.0", "data.pixel_mixup_p=0.0", "model.feature_mixup_p=0.0"]
HARD = NO_AUG + ["model.loss.tau=0.005"]
APPROX = ["data.approximate_text.p=0.5"]
MIXUP = ["model.feature_mixup_p=0.5"]
SCRATCH = ["model.encoder.text_encoder={name: small-transformer, hidden: 256, layers: 4, heads: 4, pooling: mean, "
           "weights: null}"]
# (name, overrides, proximity data); CTLG's additions are stacked on its own tau 0.005
VARIANTS: list[tuple[str, list[str], bool]] = [
    ("InfoNCE tau 0.02", NO_AUG + ["model.loss.tau=0.02"], False),
    ("hardness-aware tau 0.005", HARD, False),
    ("tau 0.005 + approximate text", HARD + APPROX, False),
    ("tau 0.005 + approximate text + feature mixup", HARD + APPROX + MIXUP, False),
    ("tau 0.005 + approximate text + feature mixup + proximity pairs", HARD + APPROX + MIXUP, True),
    ("tau 0.005, from-scratch text encoder", HARD + SCRATCH, False),
]
METRICS = ("R1", "R5", "R10", "mAP", "mINP")


class StopRequested(Exception):
    pass


class EpochControl(HookBase):
    """Counts the process CPU time of every epoch (kept across resumes) and stops between epochs on request."""

    def __init__(self, out_dir: Path, stop: threading.Event) -> None:
        self.path = out_dir / CPU_FILE
        self.stop = stop
        self._start = 0.0

    def seconds(self) -> dict[str, float]:
        return json.loads(self.path.read_text()) if self.path.is_file() else {}

    def before_epoch(self, trainer) -> None:
        if self.stop.is_set():
            raise StopRequested(f"stopped before epoch {trainer.epoch + 1}")
        self._start = time.process_time()

    def after_epoch(self, trainer) -> None:
        seconds = self.seconds()
        seconds[str(trainer.epoch)] = round(time.process_time() - self._start, 1)
        atomic_write_json(self.path, seconds)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower().replace("+", "plus")).strip("_")


def variant_config(overrides: list[str], *, root: Path, out_dir: Path, args) -> dict:
    # CTLG's schedule compressed to the budget: one warm-up epoch, x0.1 for the last two epochs
    cfg = load_config("preset:ctlg_synth", overrides + [
        f"data.root={root}", f"output_dir={out_dir}", f"train.epochs={args.epochs}",
        f"train.batch_size={args.batch_size}", "train.device=cpu", "train.workers=0", "train.progress=false",
        "+train.tensorboard=false", "train.warmup_epochs=1", f"train.milestones=[{max(args.epochs - 2, 1)}]",
        "train.keep_last=1", "eval.period=-1", "data.pad=4",
        f"model.encoder.image_size=[{args.image_size[0]}, {args.image_size[1]}]",
    ])
    return json.loads(json.dumps(cfg))


def train_variant(name: str, cfg: dict, data, control: EpochControl) -> dict:
    trainer = build_text_trainer(cfg, resume="auto")
    trainer.hooks.insert(0, control)
    trainer.train()
    start = time.process_time()
    with torch.no_grad():
        metrics = evaluate_text_retrieval(trainer.model.encoder.eval(), data.test)
    cpu = control.seconds()
    return {
        "variant": name, "config": cfg,
        "metrics": {k: round(float(metrics[k]), 2) for k in METRICS},
        "epochs": trainer.epoch, "steps": trainer.iteration,
        "cpu_train_s": round(sum(cpu.values()), 1), "cpu_eval_s": round(time.process_time() - start, 1),
        "machine": machine_line(), "command": command_line(), "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }


def write_section(args, data) -> None:
    rows, pending = [], []
    for name, _, _ in VARIANTS:
        path = args.results / f"{slug(name)}.json"
        if not path.is_file():
            pending.append(name)
            continue
        kept = json.loads(path.read_text())
        rows.append([name, *(kept["metrics"][k] for k in METRICS), kept["epochs"], kept["steps"],
                     f"{kept['cpu_train_s'] / 60:.1f}", kept["date"]])
    captions = sum(len(r.captions) for r in data.test)
    body = (
        "## Text-based search: CTLG ablation (synthetic CUHK-PEDES-format world, CPU)\n\n"
        f"- machine: {machine_line()}\n- command: `{command_line()}` (resumable; one JSON per finished row in "
        "`benchmarks/results/text_ablation/`)\n"
        f"- world: size {args.size}, seed {args.seed}: {len(data.train)} training images "
        f"({data.num_train_pids} ids), test {captions} captions vs {len({r.image_path for r in data.test})} images\n"
        f"- every variant: one process, one thread; MobileNetV2 (offline ImageNet, BatchNorm frozen) + MiniLM-L6 "
        f"(offline) unless noted, 256-d projections at 5x the encoders' LR, {args.image_size[0]}x{args.image_size[1]}, "
        f"Adam 1e-4, weight decay 4e-5 (not on biases and norms), {args.epochs} epochs (1 warm-up, x0.1 for the "
        f"last 2), batch {args.batch_size}\n"
        "- train CPU min: process CPU time of training, summed over sittings; the date is the row's finishing day\n\n"
        + markdown_table(["variant", *METRICS, "epochs", "steps", "train CPU min", "date"], rows)
        + ("\nPending (not yet run to the end at this budget): " + "; ".join(pending) + "\n" if pending else "")
    )
    print(body, flush=True)
    if not args.no_write:
        update_section(SECTION, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", help="synthetic world size (tiny, small, ...)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, nargs=2, default=(128, 48))
    parser.add_argument("--work", default="../bench_runs/text_ablation")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the finished rows' JSON files")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave BENCHMARKS.md alone")
    parser.add_argument("--only", nargs="+", metavar="VARIANT", choices=[v[0] for v in VARIANTS],
                        help="train just these variants (the table still shows every finished row)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = Path(args.work)
    root, prox = work / f"cuhk_{args.size}_{args.seed}", work / f"cuhk_{args.size}_{args.seed}_proximity"
    if not (root / "reid_raw.json").is_file():
        write_dataset("cuhk-pedes", SynthWorld(size=args.size, seed=args.seed), root, workers=1, show_progress=False)
    if not (prox / "reid_raw.json").is_file():
        generate_proximity_dataset(load_dataset("cuhk-pedes", root), editor=build_proximity_editor("synthetic", root=root),
                                   out=prox, per_image=1, seed=args.seed, progress=False)
    data = load_dataset("cuhk-pedes", root)

    stop = threading.Event()

    def request_stop(signum, _frame) -> None:
        print(f"signal {signum}: stopping after this epoch's checkpoint", flush=True)
        stop.set()
        signal.signal(signum, signal.SIG_DFL)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        for name, overrides, use_prox in VARIANTS:
            if args.only and name not in args.only:
                continue
            out_dir = work / "runs" / slug(name)
            cfg = variant_config(overrides, root=prox if use_prox else root, out_dir=out_dir, args=args)
            result_file = args.results / f"{slug(name)}.json"
            if result_file.is_file() and json.loads(result_file.read_text())["config"] == cfg:
                print(f"kept: {name}", flush=True)
                continue
            print(f"training: {name} ({out_dir})", flush=True)
            atomic_write_json(result_file, train_variant(name, cfg, data, EpochControl(out_dir, stop)))
            print(f"finished: {name}", flush=True)
            write_section(args, data)
    except StopRequested as stop:
        print(f"{stop}; rerun the same command to resume", flush=True)
    write_section(args, data)


if __name__ == "__main__":
    main()
