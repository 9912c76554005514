"""Gallery indexes: features and boxes of a user's pictures on disk, and searching them."""

from personsearch.index.builder import build_gallery_index, default_index_path
from personsearch.index.gallery_index import (
    FORMAT_VERSION,
    GalleryIndex,
    IndexedImage,
    IndexFormatError,
    IndexModelMismatchError,
    SkippedImage,
)
from personsearch.index.identity import checkpoint_identity, module_identity
from personsearch.index.search import Hit, search_index, validate_box

__all__ = [
    "FORMAT_VERSION",
    "GalleryIndex",
    "Hit",
    "IndexFormatError",
    "IndexModelMismatchError",
    "IndexedImage",
    "SkippedImage",
    "build_gallery_index",
    "checkpoint_identity",
    "default_index_path",
    "module_identity",
    "search_index",
    "validate_box",
]
