"""What every writer shares: its result record, image saving and the progress bar."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, TypeVar

from PIL import Image
from tqdm import tqdm

T = TypeVar("T")


@dataclass
class WriteResult:
    """A dataset written to disk: where, how many images, and anything the caller should know."""

    root: str
    num_images: int
    notes: list[str] = field(default_factory=list)  # e.g. "TestG4000: gallery capped at 12 images"


def save_image(image: Image.Image, path: Path, *, quality: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        image.convert("RGB").save(path, format="JPEG", quality=quality)
    else:
        image.convert("RGB").save(path)


def progress(items: Iterable[T], *, total: int | None, desc: str, enabled: bool) -> Iterator[T]:
    yield from tqdm(items, total=total, desc=desc, unit="img", disable=not enabled, leave=False)


def world_meta(world) -> dict:
    """The world parameters a dataset was generated from (enough to re-create it)."""
    return {"size": world.size, "seed": world.seed}
