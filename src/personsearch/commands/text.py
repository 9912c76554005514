"""`personsearch text ...`: train, evaluate and search with the CTLG text model, and generate
proximity data."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from personsearch.commands.search import SHIPPED_TEXT_MODEL, shipped_asset


def register(subparsers) -> None:
    parser = subparsers.add_parser("text", help="text-based person search (CTLG)", description=__doc__)
    sub = parser.add_subparsers(dest="text_command", metavar="TEXT_COMMAND", required=True)

    p = sub.add_parser("train", help="train a dual encoder from a config")
    p.add_argument("--config", required=True, help="YAML file or preset:NAME (e.g. preset:ctlg_synth)")
    p.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. train.epochs=3")
    p.add_argument("--resume", nargs="?", const="auto", default=None,
                   help="resume from output_dir/last.pth (or the given checkpoint)")
    p.set_defaults(func=_train)

    p = sub.add_parser("eval", help="evaluate a checkpoint on the test split; prints JSON")
    p.add_argument("--config", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("overrides", nargs="*")
    p.add_argument("--save-results", help="also write sim / query_ids / gallery_ids to this .npz")
    p.set_defaults(func=_eval)

    p = sub.add_parser("eval-results", help="score a results .npz (sim, query_ids, gallery_ids); prints JSON")
    p.add_argument("results")
    p.set_defaults(func=_eval_results)

    p = sub.add_parser("proximity", help="write a dataset with proximity pairs added (CUHK-PEDES format)")
    p.add_argument("--format", required=True, help="format of the input dataset (cuhk-pedes, icfg-pedes, rstpreid)")
    p.add_argument("--root", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--editor", default="recolor", help="proximity editor (recolor, synthetic, ...)")
    p.add_argument("--per-image", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_proximity)

    p = sub.add_parser("search", help="rank a folder of person crops (or scenes, with --detector) by a description")
    p.add_argument("description")
    p.add_argument("--gallery", required=True, help="folder of images")
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--checkpoint", help="text model checkpoint (default: the small text model shipped in the package)")
    p.add_argument("--detector", help="detect people in scene images first, with a one-step person search checkpoint or "
                        "'ssdlite' (the offline SSDLite person detector)")
    p.add_argument("--detector-score", type=float, default=0.5)
    p.add_argument("--out", help="write report.html with the ranked crops here")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=_search)


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, sort_keys=False))


def _train(args: argparse.Namespace) -> int:
    from personsearch.config import load_config
    from personsearch.text.train import build_text_trainer

    cfg = load_config(args.config, args.overrides)
    trainer = build_text_trainer(cfg, resume=args.resume)
    history = trainer.train()
    _print_json({"output_dir": str(cfg.get("output_dir")), "epochs": trainer.epoch,
                 "last": history[-1] if history else {}})
    return 0


def _eval(args: argparse.Namespace) -> int:
    from personsearch.config import load_config, section
    from personsearch.engine.distributed import resolve_device
    from personsearch.text.evaluate import evaluate_text_retrieval, load_text_model
    from personsearch.text.train import load_caption_data

    cfg = load_config(args.config, args.overrides)
    device = resolve_device(section(cfg, "train").get("device", "auto"))
    model, _ = load_text_model(args.checkpoint, device=device)
    data_cfg = section(cfg, "data")
    data = load_caption_data(data_cfg)
    records = getattr(data, data_cfg.get("eval_split", "test"))
    metrics = evaluate_text_retrieval(model, records, batch_size=int(section(cfg, "eval").get("batch_size", 64)),
                                      results_path=args.save_results)
    _print_json(metrics)
    return 0


def _eval_results(args: argparse.Namespace) -> int:
    import numpy as np

    from personsearch.evaluation.text_retrieval import text_retrieval_metrics

    path = Path(args.results)
    if not path.is_file():
        raise FileNotFoundError(f"results file not found: {path}")
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in ("sim", "query_ids", "gallery_ids") if k not in z]
        if missing:
            raise ValueError(f"{path}: missing array(s) {', '.join(missing)}")
        _print_json(text_retrieval_metrics(z["sim"], z["query_ids"], z["gallery_ids"]))
    return 0


def _proximity(args: argparse.Namespace) -> int:
    from personsearch.data.catalog import load_dataset
    from personsearch.text.proximity.editors import build_proximity_editor
    from personsearch.text.proximity.generate import generate_proximity_dataset

    data = load_dataset(args.format, args.root)
    editor = build_proximity_editor(args.editor, root=args.root)
    result = generate_proximity_dataset(data, editor=editor, out=args.out, per_image=args.per_image, seed=args.seed,
                                        progress=sys.stderr.isatty())
    _print_json(vars(result))
    return 0


def _search(args: argparse.Namespace) -> int:
    from personsearch.text.searcher import TextSearcher

    checkpoint = Path(args.checkpoint) if args.checkpoint else shipped_asset(SHIPPED_TEXT_MODEL)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"text model checkpoint not found: {checkpoint} "
                                "(train one with: personsearch text train --config preset:ctlg_synth ...)")
    searcher = TextSearcher(checkpoint=checkpoint, device=args.device, detector=args.detector,
                            detector_score=args.detector_score, progress=sys.stderr.isatty())
    searcher.index(args.gallery)
    hits = searcher.search(args.description, top_k=args.top_k)
    out = {"query": args.description, "num_crops": int(len(searcher.gallery.features)),
           "embedded_now": searcher.num_embedded,
           "hits": [{"rank": h.rank, "image": h.image, "box": list(h.box), "score": h.score} for h in hits]}
    if args.out:
        out["report"] = str(searcher.write_report(args.description, hits, args.out))
    _print_json(out)
    return 0
