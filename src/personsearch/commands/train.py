"""`personsearch train` and `personsearch eval`: run a training recipe from a config, score a checkpoint.

    personsearch train --config preset:seqnet_prw data.root=/data/PRW [--resume auto]
    personsearch eval --checkpoint runs/seqnet_prw/last.pth [--config FILE] [--cbgm] [--output OUT.json]

Overrides are dotted `key=value` pairs (values parsed as YAML; `+key=value` adds a key).
Under torchrun every process runs the same command; only rank 0 writes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _train(args: argparse.Namespace) -> int:
    from personsearch.config import load_config
    from personsearch.engine.trainer import NonFiniteLossError
    from personsearch.methods import get_recipe, method_name

    cfg = load_config(args.config, args.overrides)
    recipe = get_recipe(method_name(cfg))
    try:
        history = recipe.train_from_config(cfg, resume=args.resume)
    except NonFiniteLossError as exc:
        print(f"personsearch: error: {exc}", file=sys.stderr)
        return 1
    if history and int(os.environ.get("RANK", 0)) == 0:  # one summary under torchrun
        print(json.dumps({"output_dir": cfg.get("output_dir"), **history[-1]}))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from personsearch.config import apply_overrides, load_config
    from personsearch.engine.checkpoint import load_checkpoint
    from personsearch.methods import get_recipe, method_name

    if args.config is not None:
        cfg = load_config(args.config, args.overrides)
    else:  # the config saved with the checkpoint, with this command's overrides applied
        cfg = apply_overrides(load_checkpoint(args.checkpoint).get("config") or {}, args.overrides)
    recipe = get_recipe(method_name(cfg))
    report = recipe.evaluate_from_config(
        cfg, checkpoint=args.checkpoint, cbgm=True if args.cbgm else None, output=args.output,
        results_path=args.save_results,
    )
    print(json.dumps(report))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser("train", help="train a model from a config (YAML file or preset:NAME)",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--config", required=True, help="YAML file or preset:NAME")
    train.add_argument("--resume", nargs="?", const="auto", default=None, metavar="CKPT|auto",
                       help="continue from a checkpoint; 'auto' (the default value) takes OUTPUT_DIR/last.pth if present")
    train.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    train.set_defaults(func=_train)

    evaluate = subparsers.add_parser("eval", help="score a checkpoint on the configured test split; prints JSON",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluate.add_argument("--checkpoint", required=True, help="a .pth file written by `personsearch train`")
    evaluate.add_argument("--config", default=None, help="YAML file or preset:NAME (default: the checkpoint's config)")
    evaluate.add_argument("--cbgm", action="store_true", help="re-rank with context bipartite graph matching")
    evaluate.add_argument("--output", metavar="OUT.json", help="also write the JSON report here")
    evaluate.add_argument("--save-results", metavar="RESULTS.npz",
                          help="also save the raw model outputs (scored later by `personsearch eval-results`)")
    evaluate.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. data.root=...")
    evaluate.set_defaults(func=_eval)
