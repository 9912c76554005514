"""Argument choices read only when needed, so that building the parser imports nothing heavy.

    parser.add_argument("--format", choices=LazyChoices(list_formats), metavar="FORMAT",
                        help="dataset format: %(choices)s")

argparse reads `choices` when a value is checked and when that sub-command's help is printed;
a `metavar` is needed, since argparse would otherwise list the choices while adding the argument.
"""

from __future__ import annotations

import functools
from typing import Callable, Iterable, Iterator


class LazyChoices:
    def __init__(self, load: Callable[[], Iterable[str]]) -> None:
        self._load = functools.cache(lambda: tuple(load()))

    def __contains__(self, value: object) -> bool:
        return value in self._load()

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())
