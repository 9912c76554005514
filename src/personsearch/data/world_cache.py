"""Synthetic worlds written once in a real format and reused by later runs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from personsearch.utils.atomic import atomic_write_json

WORLD_MARKER = "personsearch_world.json"  # written last: its presence means the world is complete


def ensure_synthetic_dataset(
    dataset: str, root: str | Path, *, size: str, seed: int, workers: int = 2, show_progress: bool = True,
    world_overrides: Mapping[str, Any] | None = None,
) -> Path:
    """`root` holding SynthWorld(size, seed, **world_overrides) in format `dataset`; written only if
    not already there."""
    from personsearch.data.catalog import write_dataset
    from personsearch.data.synth.world import SynthWorld

    root = Path(root)
    marker = root / WORLD_MARKER
    wanted: dict[str, Any] = {"format": dataset, "size": size, "seed": seed}
    if world_overrides:
        wanted["world"] = json.loads(json.dumps(dict(world_overrides)))  # tuples as lists, as read back
    if marker.is_file() and json.loads(marker.read_text(encoding="utf-8")) == wanted:
        print(f"reusing the synthetic {dataset} world in {root}")
        return root
    print(f"writing a synthetic {dataset}-format world ({size}, seed {seed}) to {root}")
    world = SynthWorld(size=size, seed=seed, **world_fields(world_overrides or {}))
    result = write_dataset(dataset, world, root, workers=workers,
                           show_progress=show_progress)
    for note in result.notes:
        print(f"  note: {note}")
    atomic_write_json(marker, wanted)
    return root


def parse_world_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """WorldSpec fields from `KEY=VALUE` strings (values read as YAML, e.g. `near_twin_fraction=0`,
    `camera_cast=[1.1,1,0.9]`); an unknown field or a string without `=` is an error naming it."""
    from personsearch.data.synth.world import WorldSpec

    fields = {f.name for f in dataclasses.fields(WorldSpec)}
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in fields:
            raise ValueError(f"world override {pair!r}: expected KEY=VALUE with KEY one of {', '.join(sorted(fields))}")
        overrides[key] = yaml.safe_load(value)
    return overrides


def world_fields(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """WorldSpec values from YAML/JSON: lists become the tuples the spec holds."""
    def as_tuple(value: Any) -> Any:
        return tuple(as_tuple(v) for v in value) if isinstance(value, list) else value

    return {key: as_tuple(value) for key, value in overrides.items()}
