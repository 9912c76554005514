"""Loaders and writers for the on-disk layouts of real person search datasets.

Each module handles one format: `load_<format>(root, ...)` returns the plain
records of `personsearch.data.records`; `write_<format>(world, out, ...)` lays
a synthetic world out in that format. `personsearch.data.catalog` maps the
dataset names to them.
"""
