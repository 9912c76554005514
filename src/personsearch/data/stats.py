"""Per-split statistics of any loaded dataset, and the table `personsearch data stats` prints."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from personsearch.data.records import UNLABELLED, CaptionData, CropData, DetectionData, SceneSearchData

Spread = tuple[float, int, int]  # mean, min, max


@dataclass(frozen=True)
class SplitStats:
    split: str
    images: int
    boxes: int | None = None  # person boxes (scene / detection sets; a crop is one box)
    identities: int | None = None  # labelled identities
    boxes_per_identity: Spread | None = None
    cameras: int | None = None
    captions: int | None = None
    caption_words: Spread | None = None


def _spread(values: list[int]) -> Spread | None:
    return (float(np.mean(values)), int(min(values)), int(max(values))) if values else None


def _per_identity(pids: list[int]) -> tuple[int, Spread | None]:
    labelled = [p for p in pids if p != UNLABELLED]
    _, counts = np.unique(np.asarray(labelled, dtype=np.int64), return_counts=True)
    return len(counts), _spread(counts.tolist())


def _cameras(cameras: list[int]) -> int | None:
    distinct = set(cameras)
    return None if distinct <= {0} else len(distinct)  # camera 0 = the format has no cameras


def _scene_split(split: str, scenes) -> SplitStats:
    pids = [int(p) for s in scenes for p in s.pids]
    identities, spread = _per_identity(pids)
    return SplitStats(
        split=split,
        images=len(scenes),
        boxes=len(pids),
        identities=identities,
        boxes_per_identity=spread,
        cameras=_cameras([s.camera for s in scenes]),
    )


def _records_split(split: str, records, *, captions: bool) -> SplitStats:
    identities, spread = _per_identity([r.pid for r in records])
    words = [len(c.split()) for r in records for c in r.captions] if captions else []
    return SplitStats(
        split=split,
        images=len(records),
        boxes=len(records),
        identities=identities,
        boxes_per_identity=spread,
        cameras=None if captions else _cameras([r.camera for r in records]),
        captions=len(words) if captions else None,
        caption_words=_spread(words),
    )


def dataset_stats(data: SceneSearchData | CaptionData | CropData | DetectionData) -> list[SplitStats]:
    if isinstance(data, SceneSearchData):
        queries = data.queries
        query_pids = [q.pid for q in queries]
        identities, spread = _per_identity(query_pids)
        return [
            _scene_split("train", data.train),
            _scene_split("gallery", data.gallery),
            SplitStats(
                split="query",
                images=len({q.name for q in queries}),
                boxes=len(queries),
                identities=identities,
                boxes_per_identity=spread,
                cameras=_cameras([q.camera for q in queries]),
            ),
        ]
    if isinstance(data, CaptionData):
        return [_records_split(s, getattr(data, s), captions=True) for s in ("train", "val", "test")]
    if isinstance(data, CropData):
        return [_records_split(s, getattr(data, s), captions=False) for s in ("train", "query", "gallery")]
    if isinstance(data, DetectionData):
        return [
            SplitStats(split=s, images=len(records), boxes=int(sum((~r.ignore).sum() for r in records)))
            for s, records in (("train", data.train), ("val", data.val))
        ]
    raise TypeError(f"no statistics for {type(data).__name__}")


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return f"{value[0]:.1f} / {value[1]} / {value[2]}"
    return str(value)


def format_stats(stats: list[SplitStats]) -> str:
    """A plain-text table, one row per split; '-' where a figure does not apply."""
    header = ("split", "images", "boxes", "identities", "boxes/id mean/min/max", "cameras", "captions", "words mean/min/max")
    rows = [header] + [
        (
            s.split,
            _cell(s.images),
            _cell(s.boxes),
            _cell(s.identities if s.identities else None),
            _cell(s.boxes_per_identity),
            _cell(s.cameras),
            _cell(s.captions),
            _cell(s.caption_words),
        )
        for s in stats
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
