"""`personsearch data`: generate a synthetic dataset in a real format, print dataset statistics."""

from __future__ import annotations

import argparse

from personsearch.commands.choices import LazyChoices

# loaders that work around messy records unless strict (the others always stop at the first)
TOLERANT_FORMATS = ("cuhk-sysu", "prw", "cuhk-pedes", "icfg-pedes", "rstpreid")


def _list_datasets() -> list[str]:
    from personsearch.data.catalog import list_datasets

    return list_datasets()


def _list_world_sizes() -> list[str]:
    from personsearch.data.synth.world import list_world_sizes

    return list_world_sizes()


def _generate(args: argparse.Namespace) -> int:
    from personsearch.data.catalog import write_dataset
    from personsearch.data.synth.world import SynthWorld
    from personsearch.data.world_cache import parse_world_overrides, world_fields

    world = SynthWorld(size=args.size, seed=args.seed, **world_fields(parse_world_overrides(args.world)))
    result = write_dataset(args.format, world, args.out, workers=args.workers, show_progress=True)
    print(f"wrote {args.format}: {result.num_images} images to {result.root}")
    for note in result.notes:
        print(f"note: {note}")
    return 0


def _stats(args: argparse.Namespace) -> int:
    from personsearch.data.catalog import load_dataset
    from personsearch.data.stats import dataset_stats, format_stats

    kwargs = {}
    if args.strict:
        if args.format not in TOLERANT_FORMATS:
            raise ValueError(f"--strict: the {args.format} loader always stops at the first problem; "
                             f"tolerant loaders: {', '.join(TOLERANT_FORMATS)}")
        kwargs["strict"] = True
    data = load_dataset(args.format, args.root, **kwargs)
    print(f"{args.format} at {args.root}")
    print(format_stats(dataset_stats(data)))
    for note in getattr(data, "notes", []):
        print(f"note: {note}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="generate synthetic datasets, inspect datasets")
    commands = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    generate = commands.add_parser("generate", help="write a synthetic world in a real dataset format")
    generate.add_argument("--format", required=True, choices=LazyChoices(_list_datasets), metavar="FORMAT",
                          help="dataset format: %(choices)s")
    generate.add_argument("--size", default="tiny", choices=LazyChoices(_list_world_sizes), metavar="SIZE",
                          help="world size: %(choices)s (default tiny)")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--out", required=True, help="output folder")
    generate.add_argument("--workers", type=int, default=2, help="processes rendering the world")
    generate.add_argument("--world", action="append", default=[], metavar="KEY=VALUE",
                          help="a field of the world's make (WorldSpec), e.g. near_twin_fraction=0; repeatable")
    generate.set_defaults(func=_generate)

    stats = commands.add_parser("stats", help="load a dataset and print per-split statistics")
    stats.add_argument("--format", required=True, choices=LazyChoices(_list_datasets), metavar="FORMAT",
                       help="dataset format: %(choices)s")
    stats.add_argument("root", help="dataset folder")
    stats.add_argument("--strict", action="store_true",
                       help="stop at the first annotation problem instead of skipping or clipping it "
                            "with one warning line")
    stats.set_defaults(func=_stats)
