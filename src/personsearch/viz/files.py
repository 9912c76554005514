"""Writing rendered images to disk atomically."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from personsearch.utils.atomic import atomic_path


def save_image(image: Image.Image, path: str | Path, **options) -> Path:
    """Save `image` to `path` (format from the extension: .png, .jpg, ...) atomically."""
    path = Path(path)
    with atomic_path(path, suffix=path.suffix) as tmp:
        image.convert("RGB").save(tmp, format=Image.registered_extensions()[path.suffix.lower()], **options)
    return path
