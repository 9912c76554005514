"""The `personsearch` command line: one entry point, one module per sub-command group."""

from __future__ import annotations

import argparse
import importlib
import sys

from personsearch import __version__

# Each module defines register(subparsers); the parser it adds sets `func(args) -> int`.
COMMAND_MODULES: tuple[str, ...] = (
    "personsearch.commands.adapt",
    "personsearch.commands.convert",
    "personsearch.commands.data",
    "personsearch.commands.demo",
    "personsearch.commands.evaluate",
    "personsearch.commands.export",
    "personsearch.commands.index",
    "personsearch.commands.pretrain",
    "personsearch.commands.search",
    "personsearch.commands.serve",
    "personsearch.commands.train",
    "personsearch.commands.text",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="personsearch", description=__doc__)
    parser.add_argument("--version", action="version", version=f"personsearch {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, FileNotFoundError, FileExistsError) as exc:
        # Input errors (bad files, configs, names) are reported plainly, without a traceback.
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"personsearch: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
