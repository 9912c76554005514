"""`personsearch convert`: turn another code base's released checkpoint into ours.

    personsearch convert seqnet epoch_19.pth seqnet_cuhk.pth --dataset cuhk-sysu
    personsearch eval --checkpoint seqnet_cuhk.pth data.root=/data/cuhk_sysu

The result is a checkpoint `personsearch eval`, `search`, `demo --checkpoint` and the
Python API load, with the dataset's paper preset as its config (data.root still to give).
"""

from __future__ import annotations

import argparse
import json

FORMATS = ("seqnet",)
DATASETS = ("cuhk-sysu", "prw")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("convert", help="import a released checkpoint of another code base (SeqNet)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("format", choices=FORMATS, help="whose checkpoint: seqnet (github.com/serend1p1ty/SeqNet)")
    parser.add_argument("source", metavar="SOURCE.pth", help="the released checkpoint")
    parser.add_argument("output", metavar="OUT.pth", help="where to write ours (atomically)")
    parser.add_argument("--dataset", required=True, choices=DATASETS,
                        help="the dataset it was trained on: picks the paper preset (sizes, thresholds)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from personsearch.models.search_model import load_search_model
    from personsearch.models.seqnet_checkpoint import convert_seqnet_checkpoint
    from personsearch.utils.atomic import atomic_torch_save

    checkpoint = convert_seqnet_checkpoint(args.source, dataset=args.dataset)
    load_search_model(checkpoint)  # every key and shape must fit before anything is written
    atomic_torch_save(args.output, checkpoint)
    kwargs = checkpoint["model_kwargs"]
    print(json.dumps({"output": args.output, "dataset": args.dataset, "num_pids": kwargs["num_pids"],
                      "queue_size": kwargs["queue_size"], "epoch": checkpoint["epoch"]}))
    return 0
