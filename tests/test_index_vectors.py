"""The gallery index's vector side: exact and IVF faiss indexes, ids, add/remove, files."""

import numpy as np
import pytest

from personsearch.index import (
    GalleryIndex,
    IndexCorruptError,
    IndexedImage,
    IndexModelMismatchError,
    PictureDetections,
    VectorIndex,
    choose_factory,
    search_index,
)
from personsearch.index import vector_index


def unit(x):
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clustered(count, dim=32, identities=50, seed=0):
    rng = np.random.default_rng(seed)
    centres = unit(rng.normal(size=(identities, dim)))
    owner = rng.integers(0, identities, count)
    return unit(centres[owner] + 0.35 * rng.normal(size=(count, dim)) / np.sqrt(dim)), owner


def picture(name, features, *, size=100, mtime=1):
    count = len(features)
    boxes = np.tile(np.array([[0, 0, 10, 20]], np.float32), (count, 1)) + np.arange(count, dtype=np.float32)[:, None]
    return PictureDetections(image=IndexedImage(name=name, size=size, mtime_ns=mtime, width=64, height=48),
                             boxes=boxes, scores=np.linspace(1.0, 0.5, count, dtype=np.float32), features=features)


def test_factory_is_chosen_by_size():
    assert choose_factory(10) == "IDMap2,Flat"
    assert choose_factory(vector_index.EXACT_LIMIT - 1) == "IDMap2,Flat"
    assert choose_factory(vector_index.EXACT_LIMIT) == "IVF512,SQ8"
    assert choose_factory(1_000_000) == "IVF2048,SQ8"
    assert choose_factory(4_000_000) == "IVF4096,SQ8"


def test_ivf_recall_against_exact_and_remove_by_id():
    vectors, _ = clustered(4000)
    ids = np.arange(4000, dtype=np.int64) * 3 + 7  # ids are labels, not positions
    exact = VectorIndex.build(vectors, ids, factory="IDMap2,Flat")
    ivf = VectorIndex.build(vectors, ids, factory="IVF64,Flat", nprobe=16)
    queries = vectors[:50] + 0.01
    _, truth = exact.search(queries, 10)
    _, found = ivf.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found)])
    assert recall >= 0.9
    brute = np.argsort(-(vectors @ unit(queries[0])), kind="stable")[:10] * 3 + 7
    assert set(truth[0]) == set(brute)

    gone = truth[0][:3]
    assert ivf.remove(gone) == 3 and exact.remove(gone) == 3
    for index in (ivf, exact):
        _, again = index.search(queries[:1], 10)
        assert not set(gone) & set(again[0])
        assert index.count == 3997

    restored = VectorIndex.from_bytes(ivf.to_bytes(), factory=ivf.factory, nprobe=ivf.nprobe)
    assert np.array_equal(restored.search(queries, 5)[1], ivf.search(queries, 5)[1])


def test_add_and_remove_pictures_keep_ids_and_records():
    features, _ = clustered(9, dim=8)
    index = GalleryIndex.empty(root="/g", model_id="m", feature_dim=8, feature_dtype="float32")
    first = index.add_pictures([picture("a.jpg", features[:2]), picture("clip.avi#frame000010", features[2:5])])
    index.video_fps = {"clip.avi": 5.0}
    assert first.tolist() == [0, 1, 2, 3, 4]
    entry = index.record(3)
    assert (entry.picture, entry.video, entry.frame, entry.time_s) == ("clip.avi#frame000010", "clip.avi", 10, 2.0)
    assert entry.location == "/g/clip.avi#frame000010" and entry.box == (1.0, 1.0, 11.0, 21.0)
    assert index.record(0).video is None

    hits = search_index(index, features[3], top_k=1)
    assert hits[0].entry_id == 3 and hits[0].frame == 10 and hits[0].time_s == 2.0

    second = index.add_pictures([picture("clip.avi#frame000020", features[5:7]), picture("b.jpg", features[7:])])
    assert second.tolist() == [5, 6, 7, 8]
    assert index.remove_pictures(["clip.avi"]) == 5  # a video's name removes all its frames
    assert [image.name for image in index.images] == ["a.jpg", "b.jpg"]
    assert index.ids.tolist() == [0, 1, 7, 8] and index.image_index.tolist() == [0, 0, 1, 1]
    with pytest.raises(KeyError, match="no entry with id 3"):
        index.record(3)
    ranked = [hit.entry_id for hit in search_index(index, features[3], top_k=10)]
    assert sorted(ranked) == [0, 1, 7, 8]

    # Re-adding a picture replaces it, under new ids; a picture without people adds no entry.
    third = index.add_pictures([picture("a.jpg", features[:1])])
    assert third.tolist() == [9] and index.ids.tolist() == [7, 8, 9]
    assert index.add_pictures([picture("empty.jpg", features[:0])]).tolist() == []
    assert index.vectors.count == 3 and [image.name for image in index.images] == ["b.jpg", "a.jpg", "empty.jpg"]


def test_weighting_by_detection_reranks_all_candidates():
    features = unit(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]))
    index = GalleryIndex.empty(root="/g", model_id="m", feature_dim=2, feature_dtype="float32")
    found = picture("a.jpg", features)
    index.add_pictures([PictureDetections(image=found.image, boxes=found.boxes,
                                          scores=np.array([0.2, 1.0, 1.0], np.float32), features=features)])
    assert [hit.entry_id for hit in search_index(index, features[0], top_k=2)] == [0, 1]
    assert [hit.entry_id for hit in search_index(index, features[0], top_k=2, weight_by_detection=True)] == [1, 0]


def test_growing_past_the_exact_limit_switches_to_ivf(monkeypatch, tmp_path):
    monkeypatch.setattr(vector_index, "EXACT_LIMIT", 500)
    features, _ = clustered(2000, dim=16)
    index = GalleryIndex.empty(root="/g", model_id="m", feature_dim=16, feature_dtype="float32")
    index.add_pictures([picture(f"{i:03d}.jpg", features[i * 10:(i + 1) * 10]) for i in range(40)])
    assert index.exact
    top = search_index(index, features[5], top_k=3)
    index.add_pictures([picture(f"{i:03d}.jpg", features[i * 10:(i + 1) * 10]) for i in range(40, 200)])
    assert not index.exact and index.vectors.factory == "IVF64,SQ8"
    assert [hit.entry_id for hit in search_index(index, features[5], top_k=1)] == [top[0].entry_id]

    path = index.save(tmp_path / "big.npz")
    loaded = GalleryIndex.load(path, model_id="m")
    assert loaded.vectors.factory == "IVF64,SQ8" and loaded.vectors.count == 2000
    queries = features[::97]
    assert np.array_equal(loaded.nearest(queries, 5)[1], index.nearest(queries, 5)[1])
    loaded.remove_pictures(["000.jpg"])
    assert loaded.vectors.count == 1990

    # Shrinking back below the limit turns it exact again, through a save and load.
    small = GalleryIndex.load(index.save(tmp_path / "small.npz"))
    small.remove_pictures([f"{i:03d}.jpg" for i in range(45, 200)])
    assert small.exact and search_index(small, features[5], top_k=1)[0].entry_id == top[0].entry_id
    small = GalleryIndex.load(small.save(tmp_path / "small.npz"))
    small.add_pictures([picture(f"{i:03d}.jpg", features[i * 10:(i + 1) * 10]) for i in range(45, 200)])
    assert not small.exact and len(search_index(small, features[5], top_k=10)) == 10


def test_corrupt_or_foreign_files_are_refused(tmp_path):
    features, _ = clustered(6, dim=4)
    index = GalleryIndex.empty(root="/g", model_id="sha256:aaa", feature_dim=4)
    index.add_pictures([picture("a.jpg", features)])
    path = index.save(tmp_path / "g.npz")
    with pytest.raises(IndexModelMismatchError, match="sha256:aaa.*sha256:bbb"):
        GalleryIndex.load(path, model_id="sha256:bbb")

    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    arrays["scores"] = arrays["scores"] * 0.5  # a valid file whose contents no longer match its checksum
    np.savez(tmp_path / "edited.npz", **arrays)
    with pytest.raises(IndexCorruptError, match="checksum"):
        GalleryIndex.load(tmp_path / "edited.npz")

    raw = bytearray(path.read_bytes())
    at = raw.index(np.float16(features[0, 0]).tobytes())  # damage the stored feature bytes
    raw[at] ^= 0xFF
    (tmp_path / "damaged.npz").write_bytes(bytes(raw))
    with pytest.raises(IndexCorruptError, match="corrupt"):
        GalleryIndex.load(tmp_path / "damaged.npz")
