"""Shards: cutting a gallery, reading video frame ranges, keeping finished shards for a rerun."""

import dataclasses

import numpy as np
import pytest

from personsearch.index import LocalEngine, SearchModelEmbedder, index_gallery
from personsearch.index.shards import Shard, ShardStore, list_pictures, make_shards, process_shard
from test_index_fake_model import FakeSearchModel, paint_scene


class StopAfter:
    """An engine that runs `shards` shards, then stops as a crashed run would."""

    def __init__(self, engine, shards):
        self.engine, self.shards = engine, shards

    def run(self, root, shards, *, progress):
        for count, result in enumerate(self.engine.run(root, shards, progress=progress)):
            if count == self.shards:
                raise KeyboardInterrupt
            yield result


@pytest.fixture
def gallery(tmp_path):
    folder = tmp_path / "gallery"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(7):
        paint_scene(folder / f"{i}.png", [tuple(int(v) for v in rng.integers(40, 255, 3)) for _ in range(2)])
    return folder


def build(model, gallery, out, **kwargs):
    embedder = SearchModelEmbedder(model, score_threshold=0.1, batch_size=2)
    engine = kwargs.pop("engine", None) or LocalEngine(embedder)
    return index_gallery(engine, gallery, model_id="fake", index_path=out, score_threshold=0.1, shard_size=2,
                         progress=False, **kwargs)


def test_an_interrupted_build_resumes_from_its_finished_shards(gallery, tmp_path):
    whole = build(FakeSearchModel(), gallery, tmp_path / "whole.npz")
    first = FakeSearchModel()
    engine = StopAfter(LocalEngine(SearchModelEmbedder(first, score_threshold=0.1, batch_size=2)), shards=2)
    with pytest.raises(KeyboardInterrupt):
        build(first, gallery, tmp_path / "index.npz", engine=engine, work_dir=tmp_path / "shards")
    assert len(list((tmp_path / "shards").glob("*.npz"))) == 2 and not (tmp_path / "index.npz").exists()

    second = FakeSearchModel()
    resumed = build(second, gallery, tmp_path / "index.npz", work_dir=tmp_path / "shards")
    assert second.images_seen == 3 and resumed.stats["resumed"] == 4 and resumed.stats["processed"] == 3
    for name in ("features", "boxes", "scores", "image_index", "ids"):
        assert np.array_equal(getattr(resumed, name), getattr(whole, name))
    assert not (tmp_path / "shards").exists()


def test_shard_keys_follow_the_pictures_and_the_model(gallery):
    pictures = list_pictures(gallery).pictures
    shards = make_shards(pictures, shard_size=3, fingerprint="model-a")
    assert [len(shard.pictures) for shard in shards] == [3, 3, 1]
    assert make_shards(pictures, shard_size=3, fingerprint="model-a") == shards
    assert {s.key for s in make_shards(pictures, shard_size=3, fingerprint="model-b")}.isdisjoint(s.key for s in shards)
    with pytest.raises(ValueError, match="shard_size"):
        make_shards(pictures, shard_size=0, fingerprint="x")


def test_a_damaged_shard_file_is_recomputed(gallery, tmp_path):
    embedder = SearchModelEmbedder(FakeSearchModel(), score_threshold=0.1, batch_size=2)
    shard = make_shards(list_pictures(gallery).pictures, shard_size=3, fingerprint="m")[0]
    store = ShardStore(tmp_path / "shards")
    result = process_shard(embedder, gallery, shard)
    store.save(result)
    loaded = store.load(shard.key)
    assert [item.image for item in loaded.found] == [item.image for item in result.found]
    assert all(np.array_equal(a.features, b.features) for a, b in zip(loaded.found, result.found))
    store.path(shard.key).write_bytes(b"partial")
    assert store.load(shard.key) is None


def test_video_frame_ranges_read_the_right_frames(tmp_path):
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(12):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    pictures = list_pictures(path, frame_stride=2).pictures
    shards = make_shards(pictures, shard_size=2, fingerprint="m")
    assert [s.pictures[0].name for s in shards] == ["clip.avi#frame000000", "clip.avi#frame000004",
                                                    "clip.avi#frame000008"]

    seen = []

    class Grey:
        batch_size = 4

        def __call__(self, images):
            seen.extend(int(np.asarray(image)[0, 0, 0]) for image in images)
            return [(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 3), np.float32))] * len(images)

    process_shard(Grey(), tmp_path, shards[1])
    assert [round(v / 20) for v in seen] == [4, 6]  # frames 4 and 6, read after seeking into the video

    beyond = Shard(key="k", pictures=(pictures[-1], dataclasses.replace(pictures[-1], name="clip.avi#frame000014")))
    result = process_shard(Grey(), tmp_path, beyond)
    assert [item.image.name for item in result.found] == ["clip.avi#frame000010"]
    assert [(item.name, item.reason) for item in result.skipped] == [("clip.avi#frame000014",
                                                                      "past the last frame of the video")]
