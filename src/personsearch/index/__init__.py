"""Gallery indexes: every person box of a gallery with its feature, on disk and searchable.

    from personsearch.index import GalleryIndex, search_index
    index = GalleryIndex.load("gallery/.personsearch_index.npz", model_id=searcher.model_id)
    hits = search_index(index, query_feature, top_k=10)        # or index.nearest(queries, k)
    index.record(hits[0].entry_id)                             # picture, video frame, box, score
    index.remove_pictures(["old.avi"]); index.add_pictures(found); index.save(path)

Building: `build_gallery_index` (a person search model in this process) or `index_gallery`
with an engine (`LocalEngine`, or `personsearch.index.ray_engine.RayEngine`) and an embedder
(`SearchModelEmbedder`, `CropEmbedder` for text models). Details: docs/index.md.
"""

from personsearch.index.builder import (
    DEFAULT_SHARD_SIZE,
    LocalEngine,
    build_gallery_index,
    default_index_path,
    index_gallery,
)
from personsearch.index.embedders import CropEmbedder, SearchModelEmbedder, SearchModelSpec, image_to_tensor
from personsearch.index.gallery_index import (
    FORMAT_VERSION,
    Entry,
    GalleryIndex,
    IndexCorruptError,
    IndexedImage,
    IndexFormatError,
    IndexModelMismatchError,
    PictureDetections,
    SkippedImage,
)
from personsearch.index.identity import checkpoint_identity, module_identity
from personsearch.index.search import Hit, search_index, validate_box
from personsearch.index.vector_index import EXACT_LIMIT, VectorIndex, choose_factory

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "EXACT_LIMIT",
    "FORMAT_VERSION",
    "CropEmbedder",
    "Entry",
    "GalleryIndex",
    "Hit",
    "IndexCorruptError",
    "IndexFormatError",
    "IndexModelMismatchError",
    "IndexedImage",
    "LocalEngine",
    "PictureDetections",
    "SearchModelEmbedder",
    "SearchModelSpec",
    "SkippedImage",
    "VectorIndex",
    "build_gallery_index",
    "checkpoint_identity",
    "choose_factory",
    "default_index_path",
    "image_to_tensor",
    "index_gallery",
    "module_identity",
    "search_index",
    "validate_box",
]
