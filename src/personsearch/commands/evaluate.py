"""`personsearch eval-results`: score a RESULTS.npz on CUHK-SYSU or PRW (format: docs/results_format.md)."""

from __future__ import annotations

import argparse
import json

from personsearch.utils.atomic import atomic_write_json

DATASETS = ("cuhk-sysu", "prw")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval-results",
        help="score a scene search results file (mAP, top-k, detection AP/recall)",
        description=__doc__,
    )
    parser.add_argument("results", metavar="RESULTS.npz", help="model outputs on the test set")
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--root", required=True, help="dataset folder in its original layout")
    parser.add_argument("--gallery-size", type=int, default=None,
                        help="CUHK-SYSU gallery size: 50, 100 (default), 500, 1000, 2000, 4000; "
                             "-1 for the whole test set")
    parser.add_argument("--cross-camera", action="store_true",
                        help="PRW: leave the query's camera out of its gallery")
    parser.add_argument("--cbgm", action="store_true",
                        help="re-rank with context bipartite graph matching (needs query_det_* arrays)")
    parser.add_argument("--weight-by-score", action="store_true",
                        help="confidence-weighted similarity, as SeqNet: gallery features times their "
                             "detection scores (CBGM then runs on the weighted similarities too)")
    parser.add_argument("--det-thresh", type=float, default=0.5,
                        help="drop gallery detections scoring below this (default 0.5)")
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first annotation problem of the dataset instead of skipping or "
                             "clipping it (with one warning line)")
    parser.add_argument("--output", metavar="OUT.json", help="also write the JSON report here")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from personsearch.data.catalog import load_dataset
    from personsearch.evaluation.cbgm import CBGM_PRESETS
    from personsearch.evaluation.results_file import load_results
    from personsearch.evaluation.scene_evaluator import evaluate_search_results

    if args.gallery_size is not None and args.dataset != "cuhk-sysu":
        raise ValueError("--gallery-size applies to cuhk-sysu only (PRW searches every test frame)")
    results = load_results(args.results)
    kwargs = {"strict": True} if args.strict else {}
    if args.gallery_size is not None:
        kwargs["gallery_size"] = args.gallery_size
    if args.dataset == "prw":
        kwargs["read_train"] = False  # scoring needs the test frames only
    data = load_dataset(args.dataset, args.root, **kwargs)
    report = evaluate_search_results(
        results, data, cross_camera=args.cross_camera, det_thresh=args.det_thresh,
        weight_by_score=args.weight_by_score, cbgm=CBGM_PRESETS[args.dataset] if args.cbgm else None,
        source=args.results,
    )
    print(json.dumps(report))
    if args.output:
        atomic_write_json(args.output, report)
    return 0
