"""`personsearch pretrain`: hybrid pre-training of a whole one-step model on sub-task data (PretrainPS).

    personsearch pretrain --config preset:pretrain_synth [--resume auto] [key=value ...]
    personsearch pretrain --export runs/pretrain_synth/last.pth --parts backbone --out backbone.pth

Presets: pretrain_hybrid (the paper's five sources, GPU), pretrain_synth (synthetic sources, CPU),
pretrain_tiny (seconds, tests). A finished run writes OUTPUT_DIR/pretrained.pth (whole model);
--export writes the whole model or its backbone from any of its checkpoints. Fine-tune with
`personsearch train ... model.init_from=FILE model.init_parts=backbone|all`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _pretrain(args: argparse.Namespace) -> int:
    if args.export:
        from personsearch.methods.pretrain_export import export_checkpoint

        if not args.out:
            print("personsearch: error: --export needs --out FILE", file=sys.stderr)
            return 2
        exported = export_checkpoint(args.export, args.out, args.parts)
        print(json.dumps({"out": args.out, "parts": exported["parts"], "backbone": exported["backbone"],
                          "model": exported["model_name"], "tensors": len(exported["model"]),
                          **exported["pretrain"]}, default=str))
        return 0
    if not args.config:
        print("personsearch: error: give --config (to pre-train) or --export (to export a checkpoint)", file=sys.stderr)
        return 2
    from personsearch.config import load_config
    from personsearch.engine.trainer import NonFiniteLossError
    from personsearch.methods import get_recipe, method_name

    cfg = load_config(args.config, args.overrides)
    if method_name(cfg) != "pretrain":
        print(f"personsearch: error: {args.config} is a {method_name(cfg)!r} config; use `personsearch train`",
              file=sys.stderr)
        return 2
    try:
        history = get_recipe("pretrain").train_from_config(cfg, resume=args.resume)
    except NonFiniteLossError as exc:
        print(f"personsearch: error: {exc}", file=sys.stderr)
        return 1
    if history and int(os.environ.get("RANK", 0)) == 0:
        print(json.dumps({"output_dir": cfg.get("output_dir"), **history[-1]}))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("pretrain", help="pre-train a whole search model on detection and re-ID data",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="YAML file or preset:NAME (pretrain_hybrid, pretrain_synth, pretrain_tiny)")
    parser.add_argument("--resume", nargs="?", const="auto", default=None, metavar="CKPT|auto",
                        help="continue from a checkpoint; 'auto' takes OUTPUT_DIR/last.pth if present")
    parser.add_argument("--export", metavar="CKPT", help="export a pre-training checkpoint instead of training")
    parser.add_argument("--parts", choices=["all", "backbone"], default="all",
                        help="with --export: the whole model (backbone and heads) or the backbone only")
    parser.add_argument("--out", metavar="FILE", help="with --export: where to write")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    parser.set_defaults(func=_pretrain)
