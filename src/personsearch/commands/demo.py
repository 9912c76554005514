"""`personsearch demo`: the whole job on an embedded synthetic world, offline, on a CPU."""

from __future__ import annotations

import argparse
from pathlib import Path

from personsearch.commands.search import SHIPPED_TEXT_MODEL, default_checkpoint, shipped_asset


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="generate a synthetic world, evaluate the shipped model, search",
                                   description=__doc__)
    parser.add_argument("--workdir", default="personsearch_demo", help="where the world and reports go")
    parser.add_argument("--checkpoint", help="model checkpoint (default: the one shipped in the package)")
    parser.add_argument("--size", default="demo", help="world size: demo (800 scenes, the default), small, ...")
    parser.add_argument("--seed", type=int, default=1,
                        help="world seed (default 1; the shipped model was trained on seed 0, so its people are new)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--workers", type=int, default=2, help="processes drawing the world (default 2)")
    parser.add_argument("--top-k", type=int, default=10, help="hits in the search report (default 10)")
    parser.add_argument("--text-checkpoint", help="text model for the text query (default: the one shipped in the package)")
    parser.add_argument("--no-text", action="store_true", help="skip the text query")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from personsearch.demo import run_demo

    checkpoint = Path(args.checkpoint) if args.checkpoint else default_checkpoint()
    text_checkpoint = None
    if not args.no_text:
        text_checkpoint = Path(args.text_checkpoint) if args.text_checkpoint else shipped_asset(SHIPPED_TEXT_MODEL)
        if not text_checkpoint.is_file():
            if args.text_checkpoint:
                raise FileNotFoundError(f"text model checkpoint not found: {text_checkpoint}")
            print(f"no text model shipped in this installation ({text_checkpoint}): skipping the text query")
            text_checkpoint = None
    outcome = run_demo(workdir=Path(args.workdir), checkpoint=checkpoint, size=args.size, seed=args.seed,
                       device=args.device, workers=args.workers, top_k=args.top_k, text_checkpoint=text_checkpoint)
    print(f"report: {outcome.report}\ncontact sheet: {outcome.contact_sheet}\n"
          f"done in {outcome.seconds:.0f} s")
    return 0
