"""Synthetic worlds written once in a real format and reused by later runs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from personsearch.utils.atomic import atomic_write_json
from personsearch.utils.exclusive import exclusive

WORLD_MARKER = "personsearch_world.json"  # written last: its presence means the world is complete
# libraries whose releases may change a world's pixels (rendering, resampling, JPEG) and so its boxes
RENDERING_LIBRARIES = ("numpy", "pillow", "scipy")
# what the marker records of the writing beside the world's spec (not compared when reusing a world)
_WRITE_RECORD = ("content_digest", "written_with")


def ensure_synthetic_dataset(
    dataset: str, root: str | Path, *, size: str, seed: int, workers: int = 2, show_progress: bool = True,
    world_overrides: Mapping[str, Any] | None = None,
) -> Path:
    """`root` holding SynthWorld(size, seed, **world_overrides) in format `dataset`, written only if
    not already there by this generator version (a world an older generator wrote is rewritten)."""
    from personsearch.data.synth.world import GENERATOR_VERSION

    root = Path(root)
    wanted: dict[str, Any] = {"format": dataset, "size": size, "seed": seed, "generator": GENERATOR_VERSION}
    if world_overrides:
        wanted["world"] = json.loads(json.dumps(dict(world_overrides)))  # tuples as lists, as read back
    # two runs wanting the same world (two trainings started side by side, say): one writes it, the
    # other waits and then reuses it, rather than both writing into one folder
    with exclusive(root, waiting_message=f"waiting for another process writing the synthetic world in {root}"):
        return _reuse_or_write(dataset, root, wanted, workers=workers, show_progress=show_progress)


def _reuse_or_write(dataset: str, root: Path, wanted: dict[str, Any], *, workers: int, show_progress: bool) -> Path:
    from personsearch.data.catalog import write_dataset
    from personsearch.data.synth.world import SynthWorld

    marker = root / WORLD_MARKER
    if marker.is_file():
        written = json.loads(marker.read_text(encoding="utf-8"))
        if {key: value for key, value in written.items() if key not in _WRITE_RECORD} == wanted:
            print(f"reusing the synthetic {dataset} world in {root}")
            return root
        print(f"{root}: written by generator version {written.get('generator', 1)} or with another spec; "
              "writing it again")
    elif root.is_dir() and any(root.iterdir()):
        raise FileExistsError(f"{root}: holds files but no {WORLD_MARKER}, so it is not a finished synthetic world "
                              "(an interrupted write of an older version, or other data); remove it or choose "
                              "another folder")
    # written beside the world's folder and moved into place whole: an interrupted write leaves no
    # half world behind, and the world it replaces stays until the new one is complete
    staging = root.with_name(f".{root.name}.writing")
    shutil.rmtree(staging, ignore_errors=True)  # what an interrupted write left (ours: we hold the lock)
    print(f"writing a synthetic {dataset}-format world ({wanted['size']}, seed {wanted['seed']}) to {root}")
    world = SynthWorld(size=wanted["size"], seed=wanted["seed"], **world_fields(wanted.get("world", {})))
    result = write_dataset(dataset, world, staging, workers=workers, show_progress=show_progress)
    for note in result.notes:
        print(f"  note: {note}")
    atomic_write_json(staging / WORLD_MARKER,
                      {**wanted, "content_digest": content_digest(staging), "written_with": _library_versions()})
    if root.exists():  # a world of another spec or generator (it had the marker), or an empty folder
        shutil.rmtree(root)
    staging.rename(root)
    return root


def content_digest(root: str | Path) -> str:
    """SHA-256 (16 hex digits) of every file's path and bytes below `root`, the marker aside: two
    worlds of the same spec and seed agree on it only if they have the same pixels and boxes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file() and p.name != WORLD_MARKER):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with open(path, "rb") as handle:
            hashlib.file_digest(handle, lambda: digest)  # feeds the running digest, block by block
    return digest.hexdigest()[:16]


def world_record(root: str | Path) -> dict[str, Any]:
    """What the world's marker says about it (spec, content digest, library versions), for results
    that should name the exact world they were measured on; {} if `root` has no marker."""
    marker = Path(root) / WORLD_MARKER
    return json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else {}


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("personsearch", *RENDERING_LIBRARIES):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


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
