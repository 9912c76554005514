"""The vector part of a gallery index: faiss, exact for small galleries, IVF for large ones.

One faiss factory string is chosen by the number of vectors (`choose_factory`):
- below `EXACT_LIMIT`, "IDMap2,Flat": exact inner product over every vector;
- from there on, "IVF<nlist>,SQ8" with nlist about 2 sqrt(count) (a power of two): vectors are
  filed under their nearest of nlist centroids, stored as 8-bit codes (a quarter of float32),
  and a query scans the `nprobe` nearest lists (a quarter of them by default). The gallery
  index re-scores the candidates with the exact features it keeps, so the 8-bit codes only
  choose candidates.
Both keep the caller's int64 ids and support add and remove by id (HNSW would not remove).
Vectors are L2-normalised features, so inner product is cosine similarity.
"""

from __future__ import annotations

import math

import numpy as np

EXACT_LIMIT = 50_000
TRAIN_POINTS_PER_LIST = 64  # k-means training sample: 64 vectors a list, as faiss recommends at least 39
NPROBE_FRACTION = 4  # scan a quarter of the lists by default (512 of 2,048 at 1M vectors)


def choose_factory(count: int) -> str:
    """The faiss factory string for a gallery of `count` vectors."""
    if count < EXACT_LIMIT:
        return "IDMap2,Flat"
    nlist = 2 ** round(math.log2(2 * math.sqrt(count)))
    return f"IVF{nlist},SQ8"


def lists_of(factory: str) -> int | None:
    """nlist of an "IVF<nlist>,..." factory string, None for exact ones."""
    if not factory.startswith("IVF"):
        return None
    return int(factory[3:].split(",", 1)[0])


def default_nprobe(factory: str) -> int:
    nlist = lists_of(factory)
    return 0 if nlist is None else max(8, nlist // NPROBE_FRACTION)


def _faiss():
    try:
        import faiss
    except ImportError:
        raise ImportError("the gallery index needs faiss: pip install faiss-cpu") from None
    return faiss


class VectorIndex:
    """Ids and L2-normalised float32 vectors in a faiss index; `search` returns the best ids."""

    def __init__(self, index, *, factory: str, nprobe: int) -> None:
        self.index = index
        self.factory = factory
        self.nprobe = nprobe
        ivf = self._ivf()
        if ivf is not None:
            ivf.nprobe = nprobe

    @classmethod
    def build(cls, vectors: np.ndarray, ids: np.ndarray, *, factory: str | None = None, nprobe: int | None = None,
              seed: int = 0) -> "VectorIndex":
        """An index of `vectors` (N, D) under `ids` (N,); IVF lists are trained on a seeded sample."""
        faiss = _faiss()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        factory = factory or choose_factory(len(vectors))
        index = faiss.index_factory(vectors.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
        nlist = lists_of(factory)
        if nlist is not None:
            if len(vectors) < nlist:
                raise ValueError(f"{factory} needs at least {nlist} vectors to train, got {len(vectors)}")
            sample_size = min(len(vectors), nlist * TRAIN_POINTS_PER_LIST)
            sample = np.random.default_rng(seed).choice(len(vectors), size=sample_size, replace=False)
            index.cp.spherical = True  # centroids of unit vectors, compared by inner product
            index.cp.seed = seed
            index.train(vectors[np.sort(sample)])
        built = cls(index, factory=factory, nprobe=default_nprobe(factory) if nprobe is None else nprobe)
        built.add(vectors, ids)
        return built

    def _ivf(self):
        if lists_of(self.factory) is None:
            return None
        return _faiss().extract_index_ivf(self.index)

    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        if len(vectors) != len(ids):
            raise ValueError(f"{len(vectors)} vectors for {len(ids)} ids")
        if len(vectors):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                    np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        if not len(ids):
            return 0
        selector = _faiss().IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))
        return int(self.index.remove_ids(selector))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(similarities (Q, k), ids (Q, k)); missing results have id -1."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        return self.index.search(queries, int(k))

    def to_bytes(self) -> np.ndarray:
        return _faiss().serialize_index(self.index)

    @classmethod
    def from_bytes(cls, blob: np.ndarray, *, factory: str, nprobe: int) -> "VectorIndex":
        return cls(_faiss().deserialize_index(np.ascontiguousarray(blob, dtype=np.uint8)), factory=factory,
                   nprobe=nprobe)

    def suits(self, count: int) -> bool:
        """Whether this kind of index still fits a gallery of `count` vectors (else rebuild)."""
        wanted = lists_of(choose_factory(count))
        have = lists_of(self.factory)
        if wanted is None or have is None:
            return wanted is None and have is None
        return have / 4 <= wanted <= have * 4
