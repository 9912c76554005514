"""Reading a user's gallery: scene images from a folder, or frames from a video file.

Every picture has a deterministic name relative to the gallery root: the image's
relative path ("cam1/0001.jpg") or, for a video, the file name plus the frame
number ("video.avi#frame000123"). `location = root / name` re-opens the pixels.
Video decoding uses OpenCV (the `video` extra), imported only when a video is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
VIDEO_EXTENSIONS = frozenset({".avi", ".mp4", ".mov", ".mkv", ".mpg", ".mpeg", ".m4v", ".webm", ".wmv"})
FRAME_SEPARATOR = "#frame"
_FRAME_PATTERN = re.compile(re.escape(FRAME_SEPARATOR) + r"(\d+)$")


class UnreadableImageError(ValueError):
    pass


@dataclass(frozen=True)
class FileState:
    """What identifies one version of a picture: its name and its file's size and mtime."""

    name: str
    size: int
    mtime_ns: int


def is_video_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def gallery_root(gallery: str | Path) -> Path:
    """The folder picture names are relative to: the folder itself, or a video's folder."""
    gallery = Path(gallery)
    if gallery.is_dir():
        return gallery.resolve()
    if gallery.is_file() and is_video_file(gallery):
        return gallery.resolve().parent
    if not gallery.exists():
        raise FileNotFoundError(f"gallery not found: {gallery}")
    raise ValueError(
        f"gallery must be a folder of images or a video file ({', '.join(sorted(VIDEO_EXTENSIONS))}): {gallery}"
    )


def frame_name(video_name: str, frame: int) -> str:
    return f"{video_name}{FRAME_SEPARATOR}{frame:06d}"


def list_image_files(folder: str | Path, recursive: bool = False) -> list[str]:
    """Image names relative to `folder`, sorted; hidden files (".name") are left out."""
    folder = Path(folder)
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    names = []
    for path in candidates:
        relative = path.relative_to(folder)
        if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file():
            if not any(part.startswith(".") for part in relative.parts):
                names.append(relative.as_posix())
    return sorted(names)


def read_image(path: str | Path) -> Image.Image:
    """An RGB image, fully decoded and turned upright per its EXIF orientation.

    Raises UnreadableImageError (with the reason) if it cannot be decoded.
    """
    try:
        with Image.open(path) as image:
            image.load()
            return ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImageError(f"{type(exc).__name__}: {exc}") from None


def open_video(path: Path):
    try:
        import cv2
    except ImportError:
        raise ImportError(
            "reading videos needs OpenCV: pip install 'personsearch[video]'"
        ) from None
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"cannot open video: {path}")
    return cv2, capture


def _bgr_to_image(cv2, frame) -> Image.Image:
    return Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))


def split_location(location: str | Path) -> tuple[Path, int | None]:
    """`/dir/video.avi#frame000123` -> (/dir/video.avi, 123); an image path -> (path, None)."""
    location = str(location)
    match = _FRAME_PATTERN.search(location)
    if match and is_video_file(location[: match.start()]):
        return Path(location[: match.start()]), int(match.group(1))
    return Path(location), None


def open_images(locations: list[str]) -> dict[str, Image.Image]:
    """Open many locations (image paths and video frames); each video is decoded once, in order."""
    images: dict[str, Image.Image] = {}
    wanted_frames: dict[Path, dict[int, str]] = {}
    for location in dict.fromkeys(locations):
        path, frame = split_location(location)
        if frame is None:
            images[location] = read_image(path)
        else:
            wanted_frames.setdefault(path, {})[frame] = location
    for video, frames in wanted_frames.items():
        cv2, capture = open_video(video)
        try:
            frame, last = 0, max(frames)
            while frame <= last and capture.grab():
                if frame in frames:
                    ok, pixels = capture.retrieve()
                    if ok and pixels is not None:
                        images[frames[frame]] = _bgr_to_image(cv2, pixels)
                frame += 1
        finally:
            capture.release()
        missing = [location for location in frames.values() if location not in images]
        if missing:
            raise UnreadableImageError(f"video frames could not be decoded: {', '.join(missing)}")
    return images
