"""Is PretrainPS's contrast term (L_con, SimSiam) learning? A look inside pre-training checkpoints.

    python benchmarks/probe_pretrain_contrast.py CHECKPOINT [CHECKPOINT ...] [--batches 8] [--seed 0]

For each pre-training checkpoint (`personsearch pretrain`'s epoch_N.pth / last.pth), on batches of
two samples without real identities drawn as training draws them (two augmented views each, the
checkpoint's own config and sources), in training mode:

- agreement of the views: mean cosine between the instance features h of the same box in view 1
  and view 2, and of different boxes (the rows rolled by one);
- the prediction: mean cosine between the prediction MLP's output for view 1 and view 2's h (what
  L_con maximises; SimSiam drives it towards 1);
- gradient norms over the whole model of each loss term alone, of their sum, and of the prediction
  MLP's share of L_con; with `train.clip_grad_norm` the clip factor (clip / total norm, when below 1)
  that scales every step when all parameters are clipped together (as the first runs did; the
  pre-training heads are now clipped on their own, see docs/pretrainps.md).

The table goes to BENCHMARKS.md, section `pretrain-contrast` (`--no-write` prints it only).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import report as bench_report

from personsearch.config import section
from personsearch.methods import pretrain as recipe
from personsearch.models.losses.simsiam import simsiam_loss
from personsearch.models.search_model import build_search_model

SECTION = "pretrain-contrast"


def _grad_norm(parameters) -> float:
    norms = [p.grad.norm() for p in parameters if p.grad is not None]
    return float(torch.norm(torch.stack(norms))) if norms else 0.0


def probe_checkpoint(path: Path, *, batches: int, seed: int) -> dict[str, float]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    cfg = state["config"]
    settings = recipe.PretrainSettings.from_section(section(cfg, "method"))
    unified = recipe.load_unified(cfg, settings, show_progress=False)
    kwargs = dict(state["model_kwargs"], backbone_weights="none")
    model = recipe.build_pretraining_model(build_search_model(**kwargs), unified, settings,
                                           embedding_dim=int(kwargs.get("embedding_dim", 256)))
    model.load_state_dict(state["model"])
    if model.predictor is None:
        raise SystemExit(f"{path}: this pre-training has no contrast term (method.contrast / eta)")
    model.train()
    dataset = recipe.pretraining_dataset(section(cfg, "data"), unified)
    candidates = [i for i, s in enumerate(unified.samples) if s.source in model.contrast_sources]
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    rows: list[dict[str, float]] = []
    clip = cfg["train"].get("clip_grad_norm")
    while len(rows) < batches:
        images, targets = recipe.collate_views([dataset[int(i)] for i in rng.choice(candidates, 2, replace=False)])
        losses, captured = model.model.forward_with_features(images, targets)
        paired = model.paired_instance_features(captured, targets)
        if paired is None:
            continue
        h1, h2 = paired
        losses["loss_contrast"] = model.eta * simsiam_loss(h1, h2, model.predictor(h1), model.predictor(h2))
        row = {"same_box": float(F.cosine_similarity(h1, h2).mean()),
               "other_box": float(F.cosine_similarity(h1, h2.roll(1, dims=0)).mean()) if len(h1) > 1 else float("nan"),
               "prediction": float(F.cosine_similarity(model.predictor(h1), h2).mean())}
        for name in ("loss_oim", "loss_contrast"):
            model.zero_grad()
            losses[name].backward(retain_graph=True)
            row[f"grad_{name}"] = _grad_norm(model.parameters())
            if name == "loss_contrast":
                row["grad_predictor"] = _grad_norm(model.predictor.parameters())
        model.zero_grad()
        sum(losses.values()).backward()
        row["grad_total"] = _grad_norm(model.parameters())
        row["clip_factor"] = min(1.0, clip / row["grad_total"]) if clip else 1.0
        rows.append(row)
    summary = {key: float(np.nanmean([r[key] for r in rows])) for key in rows[0]}
    summary.update(checkpoint=str(path), epoch=int(state["epoch"]), iteration=int(state["iteration"]),
                   batches=len(rows))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--batches", type=int, default=8, help="batches with contrast pairs per checkpoint")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = [probe_checkpoint(path, batches=args.batches, seed=args.seed) for path in args.checkpoints]
    table = bench_report.markdown_table(
        ["checkpoint", "iteration", "cos h same box", "cos h other box", "cos prediction vs target",
         "grad norm OIM", "grad norm L_con", "of which MLP", "grad norm all terms", "clip factor"],
        [[Path(r["checkpoint"]).parent.name + "/" + Path(r["checkpoint"]).name, r["iteration"],
          f"{r['same_box']:.2f}", f"{r['other_box']:.2f}", f"{r['prediction']:.3f}", f"{r['grad_loss_oim']:.1f}",
          f"{r['grad_loss_contrast']:.1f}", f"{r['grad_predictor']:.2f}", f"{r['grad_total']:.1f}",
          f"{r['clip_factor']:.2f}"] for r in results])
    body = ("## Is the pre-training contrast term learning? (`probe_pretrain_contrast.py`)\n\n"
            f"{bench_report.section_preamble()}"
            f"- {args.batches} batches of two samples without real identities per checkpoint (two views each), "
            "training mode; gradient norms over the whole model, each term alone; the clip factor is what "
            "clipping all parameters together to `train.clip_grad_norm` multiplies a step by (the runs before "
            "2026-12-05 did; the pre-training heads are now clipped on their own)\n\n" + table)
    print(body)
    if not args.no_write:
        bench_report.update_section(SECTION, body)


if __name__ == "__main__":
    main()
