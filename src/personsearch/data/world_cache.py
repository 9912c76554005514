"""Synthetic worlds written once in a real format and reused by later runs."""

from __future__ import annotations

import json
from pathlib import Path

from personsearch.utils.atomic import atomic_write_json

WORLD_MARKER = "personsearch_world.json"  # written last: its presence means the world is complete


def ensure_synthetic_dataset(
    dataset: str, root: str | Path, *, size: str, seed: int, workers: int = 2, show_progress: bool = True
) -> Path:
    """`root` holding SynthWorld(size, seed) in format `dataset`; written only if not already there."""
    from personsearch.data.catalog import write_dataset
    from personsearch.data.synth.world import SynthWorld

    root = Path(root)
    marker = root / WORLD_MARKER
    wanted = {"format": dataset, "size": size, "seed": seed}
    if marker.is_file() and json.loads(marker.read_text(encoding="utf-8")) == wanted:
        print(f"reusing the synthetic {dataset} world in {root}")
        return root
    print(f"writing a synthetic {dataset}-format world ({size}, seed {seed}) to {root}")
    result = write_dataset(dataset, SynthWorld(size=size, seed=seed), root, workers=workers,
                           show_progress=show_progress)
    for note in result.notes:
        print(f"  note: {note}")
    atomic_write_json(marker, wanted)
    return root
