"""Build or update a gallery index: run the model once per new or changed picture.

A saved index built by the same model with the same score threshold is updated in place:
pictures whose name, size and mtime are unchanged keep their entries, pictures gone from the
gallery or changed are removed, and new or changed ones are cut into shards (runs of
consecutive pictures) that an engine runs: `LocalEngine` in this process, or
`personsearch.index.ray_engine.RayEngine` on a Ray cluster. Both run `process_shard`, and
the shards are merged in gallery order, so both engines build the same index.
With a `work_dir`, each finished shard is kept there until the index is saved, so an
interrupted build resumes where it stopped.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator, Protocol, Sequence

from tqdm import tqdm

from personsearch.index.embedders import Embedder, SearchModelEmbedder
from personsearch.index.gallery_index import (
    FEATURE_DTYPES,
    GalleryIndex,
    IndexFormatError,
    IndexModelMismatchError,
)
from personsearch.index.shards import Shard, ShardResult, ShardStore, list_pictures, make_shards, process_shard

INDEX_SUFFIX = ".personsearch_index.npz"
DEFAULT_SHARD_SIZE = 64


def default_index_path(gallery: str | Path) -> Path:
    """`<folder>/.personsearch_index.npz`, or `.<video name>.personsearch_index.npz` next to a video."""
    gallery = Path(gallery)
    if gallery.is_dir():
        return gallery / INDEX_SUFFIX
    return gallery.parent / f".{gallery.name}{INDEX_SUFFIX}"


class Engine(Protocol):
    def run(self, root: Path, shards: Sequence[Shard], *, progress: bool) -> Iterator[ShardResult]:
        """Yield each shard's result as it finishes (in any order)."""


class LocalEngine:
    """Runs the shards one after the other in this process."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def run(self, root: Path, shards: Sequence[Shard], *, progress: bool) -> Iterator[ShardResult]:
        total = sum(len(shard.pictures) for shard in shards)
        with tqdm(total=total, desc="indexing", unit="img", disable=not progress or not total) as bar:
            for shard in shards:
                yield process_shard(self.embedder, root, shard, on_picture=lambda: bar.update(1))


def _load_previous(path: Path, model_id: str, score_threshold: float, log) -> GalleryIndex | None:
    if not path.is_file():
        return None
    try:
        previous = GalleryIndex.load(path, model_id=model_id)
    except (IndexFormatError, IndexModelMismatchError) as exc:
        log(f"rebuilding the index: {exc}")
        return None
    if previous.score_threshold != score_threshold:
        log(f"rebuilding the index: it was built with score threshold {previous.score_threshold}, "
            f"now {score_threshold}")
        return None
    return previous


def index_gallery(
    engine: Engine,
    gallery: str | Path,
    *,
    model_id: str,
    index_path: str | Path | None = None,
    score_threshold: float = 0.5,
    frame_stride: int = 1,
    recursive: bool = False,
    feature_dtype: str = "float16",
    shard_size: int = DEFAULT_SHARD_SIZE,
    work_dir: str | Path | None = None,
    progress: bool = True,
) -> GalleryIndex:
    """Index a folder (images, and frames of its videos) or a video, and save the index atomically.

    `model_id` fingerprints the model (and detector) behind `engine`; `score_threshold` is the
    one the engine's embedder applies (recorded to know when entries can be reused).
    `index_path` defaults to `default_index_path(gallery)`. The returned index's `stats` say
    how many pictures were processed now, resumed from `work_dir`, reused, and skipped.
    """
    if feature_dtype not in FEATURE_DTYPES:
        raise ValueError(f"feature_dtype must be one of {FEATURE_DTYPES}, got {feature_dtype!r}")
    gallery = Path(gallery)
    index_path = Path(index_path) if index_path is not None else default_index_path(gallery)

    def log(message: str) -> None:
        if progress:
            print(f"personsearch: {message}", file=sys.stderr)

    listing = list_pictures(gallery, frame_stride=frame_stride, recursive=recursive)
    if not listing.pictures and not listing.skipped:
        raise ValueError(f"no images found in gallery {gallery}")
    index = _load_previous(index_path, model_id, score_threshold, log)
    if index is None:
        index = GalleryIndex.empty(root=listing.root, model_id=model_id, feature_dim=0,
                                   score_threshold=score_threshold, feature_dtype=feature_dtype)
    index.root = str(listing.root)  # names are relative: a moved gallery keeps its entries
    index.features = index.features.astype(feature_dtype)
    current = {(state.name, state.size, state.mtime_ns) for state in listing.pictures}
    index.remove_pictures([image.name for image in index.images
                           if (image.name, image.size, image.mtime_ns) not in current])
    reused = {image.name for image in index.images}
    pending = [state for state in listing.pictures if state.name not in reused]

    shards = make_shards(pending, shard_size=shard_size, fingerprint=f"{model_id}|{score_threshold}")
    store = ShardStore(work_dir) if work_dir is not None else None
    results = {shard.key: store.load(shard.key) for shard in shards} if store is not None else {}
    resumed = sum(len(shard.pictures) for shard in shards if results.get(shard.key) is not None)
    todo = [shard for shard in shards if results.get(shard.key) is None]
    processed = 0
    for result in engine.run(listing.root, todo, progress=progress):
        if store is not None:
            store.save(result)
        results[result.key] = result
        processed += len(result.found)

    merged = [results[shard.key] for shard in shards]
    index.add_pictures([item for result in merged for item in result.found])
    index.skipped = listing.skipped + [item for result in merged for item in result.skipped]
    for item in index.skipped:
        log(f"skipped unreadable picture {item.name}: {item.reason}")
    index.frame_stride = frame_stride
    index.video_fps = listing.video_fps
    index.stats = {"processed": processed, "resumed": resumed, "reused": len(reused),
                   "skipped": len(index.skipped)}
    index.save(index_path)
    if store is not None:
        store.remove([shard.key for shard in shards])
    return index


def build_gallery_index(
    model,
    gallery: str | Path,
    *,
    model_id: str,
    index_path: str | Path | None = None,
    score_threshold: float = 0.5,
    frame_stride: int = 1,
    recursive: bool = False,
    batch_size: int = 4,
    feature_dtype: str = "float16",
    device="cpu",
    progress: bool = True,
) -> GalleryIndex:
    """`index_gallery` with a person search model run in this process (see `SearchModelEmbedder`)."""
    embedder = SearchModelEmbedder(model, device=device, score_threshold=score_threshold, batch_size=batch_size)
    return index_gallery(LocalEngine(embedder), gallery, model_id=model_id, index_path=index_path,
                         score_threshold=score_threshold, frame_stride=frame_stride, recursive=recursive,
                         feature_dtype=feature_dtype, progress=progress)
