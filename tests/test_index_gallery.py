import json
import os

import numpy as np
import pytest

from personsearch.index import (
    FORMAT_VERSION,
    GalleryIndex,
    IndexFormatError,
    IndexModelMismatchError,
    build_gallery_index,
    default_index_path,
)
from test_index_fake_model import FakeSearchModel, embedding_of, paint_scene

RED, GREEN, BLUE, BLACK = (230, 30, 30), (30, 220, 40), (20, 40, 230), (0, 0, 0)


@pytest.fixture
def gallery(tmp_path):
    folder = tmp_path / "gallery"
    folder.mkdir()
    paint_scene(folder / "a.png", [RED, BLACK])
    paint_scene(folder / "b.png", [GREEN, BLUE])
    paint_scene(folder / "c.png", [BLACK, BLACK])
    return folder


def build(model, folder, **kwargs):
    kwargs.setdefault("model_id", "fake")
    kwargs.setdefault("score_threshold", 0.1)
    kwargs.setdefault("progress", False)
    kwargs.setdefault("batch_size", 2)
    return build_gallery_index(model, folder, **kwargs)


def test_build_save_load_round_trip(gallery):
    model = FakeSearchModel()
    index = build(model, gallery)
    path = default_index_path(gallery)
    assert path.is_file()
    assert model.images_seen == 3 and model.calls == 2  # batches of 2
    # Black cells score 0 and fall below the threshold: a has 1 person, b 2, c none.
    assert [image.name for image in index.images] == ["a.png", "b.png", "c.png"]
    assert index.image_index.tolist() == [0, 1, 1]
    assert index.boxes.tolist() == [[0, 0, 32, 48], [0, 0, 32, 48], [32, 0, 64, 48]]
    assert index.features.dtype == np.float16
    assert np.allclose(index.features[0], embedding_of(RED), atol=2e-3)
    assert index.stats == {"processed": 3, "resumed": 0, "reused": 0, "skipped": 0}

    loaded = GalleryIndex.load(path, model_id="fake")
    assert loaded.images == index.images
    assert loaded.model_id == "fake" and loaded.score_threshold == 0.1
    for name in ("features", "boxes", "scores", "image_index"):
        assert np.array_equal(getattr(loaded, name), getattr(index, name))
    assert loaded.location(1) == str(gallery.resolve() / "b.png")
    assert (loaded.images[0].width, loaded.images[0].height) == (64, 48)


def test_float32_features_and_explicit_index_path(gallery, tmp_path):
    index = build(FakeSearchModel(), gallery, index_path=tmp_path / "idx" / "g.npz", feature_dtype="float32")
    assert (tmp_path / "idx" / "g.npz").is_file()
    assert GalleryIndex.load(tmp_path / "idx" / "g.npz").features.dtype == np.float32
    assert not default_index_path(gallery).exists()
    assert index.num_detections == 3 and index.feature_dim == 3


def test_second_run_reuses_the_index(gallery):
    first = build(FakeSearchModel(), gallery)
    model = FakeSearchModel()
    second = build(model, gallery)
    assert model.images_seen == 0 and model.calls == 0
    assert second.stats == {"processed": 0, "resumed": 0, "reused": 3, "skipped": 0}
    assert np.array_equal(second.features, first.features)
    assert np.array_equal(second.image_index, first.image_index)


def test_changed_new_and_removed_images(gallery):
    build(FakeSearchModel(), gallery)
    paint_scene(gallery / "b.png", [BLUE, BLUE])
    stat = (gallery / "b.png").stat()
    os.utime(gallery / "b.png", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    paint_scene(gallery / "d.png", [GREEN, GREEN])
    (gallery / "c.png").unlink()
    model = FakeSearchModel()
    index = build(model, gallery)
    assert model.images_seen == 2  # b changed, d new; a reused
    assert [image.name for image in index.images] == ["a.png", "b.png", "d.png"]
    assert index.stats == {"processed": 2, "resumed": 0, "reused": 1, "skipped": 0}
    b_features = index.features[index.image_index == 1].astype(np.float32)
    assert np.allclose(b_features, embedding_of(BLUE), atol=2e-3)


def test_unreadable_images_are_skipped_and_reported(gallery):
    (gallery / "broken.jpg").write_bytes(b"this is not a jpeg")
    good = (gallery / "a.png").read_bytes()
    (gallery / "truncated.png").write_bytes(good[: len(good) // 2])
    index = build(FakeSearchModel(), gallery)
    assert {item.name for item in index.skipped} == {"broken.jpg", "truncated.png"}
    assert all(item.reason for item in index.skipped)
    assert [image.name for image in index.images] == ["a.png", "b.png", "c.png"]
    loaded = GalleryIndex.load(default_index_path(gallery))
    assert {item.name for item in loaded.skipped} == {"broken.jpg", "truncated.png"}
    assert index.stats["skipped"] == 2


def test_hidden_and_non_image_files_are_ignored(gallery):
    (gallery / "notes.txt").write_text("hello")
    paint_scene(gallery / ".hidden.png", [RED, RED])
    sub = gallery / "sub"
    sub.mkdir()
    paint_scene(sub / "e.png", [RED, RED])
    assert [image.name for image in build(FakeSearchModel(), gallery).images] == ["a.png", "b.png", "c.png"]
    recursive = build(FakeSearchModel(), gallery, recursive=True)
    assert [image.name for image in recursive.images] == ["a.png", "b.png", "c.png", "sub/e.png"]


def test_model_mismatch_is_a_clear_error_and_a_rebuild(gallery):
    build(FakeSearchModel(), gallery, model_id="sha256:aaa")
    with pytest.raises(IndexModelMismatchError, match="sha256:aaa.*sha256:bbb"):
        GalleryIndex.load(default_index_path(gallery), model_id="sha256:bbb")
    model = FakeSearchModel()
    rebuilt = build(model, gallery, model_id="sha256:bbb")
    assert model.images_seen == 3 and rebuilt.model_id == "sha256:bbb"


def test_threshold_change_rebuilds(gallery):
    build(FakeSearchModel(), gallery)
    model = FakeSearchModel()
    index = build(model, gallery, score_threshold=0.9)
    assert model.images_seen == 3
    assert index.num_detections == 2  # red and blue (230/255) pass, green (220/255) does not
    assert index.scores.min() >= 0.9


def test_version_mismatch_is_a_clear_error(gallery):
    index = build(FakeSearchModel(), gallery)
    path = default_index_path(gallery)
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    meta = json.loads(str(arrays["metadata"]))
    meta["format_version"] = FORMAT_VERSION + 1
    arrays["metadata"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    with pytest.raises(IndexFormatError, match="format version"):
        GalleryIndex.load(path)
    model = FakeSearchModel()
    build(model, gallery)  # an unreadable old index is rebuilt, not fatal
    assert model.images_seen == len(index.images)


def test_not_an_index_file(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"garbage")
    with pytest.raises(IndexFormatError, match="not a personsearch gallery index"):
        GalleryIndex.load(tmp_path / "x.npz")


def test_empty_or_missing_gallery(tmp_path):
    with pytest.raises(ValueError, match="no images found"):
        build(FakeSearchModel(), tmp_path)
    with pytest.raises(FileNotFoundError):
        build(FakeSearchModel(), tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="folder of images or a video"):
        build(FakeSearchModel(), tmp_path / "file.txt")


def test_exif_orientation_is_applied(tmp_path):
    from PIL import Image

    from personsearch.media import read_image

    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.new("RGB", (40, 20), RED).save(tmp_path / "phone.jpg", exif=exif)
    assert read_image(tmp_path / "phone.jpg").size == (20, 40)
