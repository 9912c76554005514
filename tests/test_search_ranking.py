import dataclasses
import hashlib
import sys
import types

import numpy as np
import pytest

from personsearch.api import Hit, PersonSearcher
from personsearch.index import GalleryIndex, IndexedImage, IndexModelMismatchError, search_index, validate_box
from test_index_fake_model import FakeSearchModel, paint_scene

RED, DARK_RED, ORANGE, GREEN, BLUE = (230, 30, 30), (180, 20, 40), (230, 140, 30), (30, 220, 40), (20, 40, 230)


@pytest.fixture
def searcher(tmp_path):
    folder = tmp_path / "gallery"
    folder.mkdir()
    paint_scene(folder / "1.png", [GREEN, ORANGE])
    paint_scene(folder / "2.png", [BLUE, DARK_RED])
    paint_scene(folder / "3.png", [RED, GREEN])
    searcher = PersonSearcher(model=FakeSearchModel(), score_threshold=0.1, progress=False)
    searcher.index(folder)
    return searcher, folder.resolve()


def test_search_ranks_the_same_colour_first(searcher):
    searcher, folder = searcher
    query = paint_scene(None, [(0, 0, 0), RED, (0, 0, 0)], size=(90, 60))
    hits = searcher.search(query, box=(35, 10, 55, 50), top_k=4)
    found = [(hit.image, hit.box) for hit in hits]
    assert found == [
        (str(folder / "3.png"), (0.0, 0.0, 32.0, 48.0)),  # red
        (str(folder / "2.png"), (32.0, 0.0, 64.0, 48.0)),  # dark red
        (str(folder / "1.png"), (32.0, 0.0, 64.0, 48.0)),  # orange
        (str(folder / "1.png"), (0.0, 0.0, 32.0, 48.0)),  # green (ties keep index order; blue is last)
    ]
    assert [hit.rank for hit in hits] == [1, 2, 3, 4] and isinstance(hits[0], Hit)
    assert hits[0].score == pytest.approx(1.0, abs=2e-3)
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    assert hits[0].detection_score == pytest.approx(230 / 255, abs=1e-3)
    assert len(searcher.search(query, box=(35, 10, 55, 50), top_k=100)) == 6
    with pytest.raises(dataclasses.FrozenInstanceError):
        hits[0].rank = 7


def test_query_from_a_file_path(searcher, tmp_path):
    searcher, folder = searcher
    (hit,) = searcher.search(folder / "1.png", box=(40, 5, 60, 40), top_k=1)
    assert hit.image == str(folder / "1.png") and hit.box == (32.0, 0.0, 64.0, 48.0)


def _index(features, scores):
    features = np.asarray(features, dtype=np.float32)
    return GalleryIndex(
        root="/g",
        model_id="m",
        score_threshold=0.0,
        frame_stride=1,
        features=features,
        boxes=np.tile(np.array([[0, 0, 10, 20]], np.float32), (len(features), 1)),
        scores=np.asarray(scores, dtype=np.float32),
        image_index=np.arange(len(features)),
        images=[IndexedImage(name=f"{i}.jpg", size=1, mtime_ns=1, width=10, height=20) for i in range(len(features))],
    )


def test_confidence_weighting_changes_the_order():
    index = _index([[1.0, 0.0], [0.8, 0.6]], scores=[0.3, 0.95])
    query = np.array([1.0, 0.0])
    assert [hit.image for hit in search_index(index, query)] == ["/g/0.jpg", "/g/1.jpg"]
    weighted = search_index(index, query, weight_by_detection=True)
    assert [hit.image for hit in weighted] == ["/g/1.jpg", "/g/0.jpg"]
    assert weighted[0].score == pytest.approx(0.8 * 0.95) and weighted[0].detection_score == pytest.approx(0.95)


def test_search_input_errors():
    index = _index([[1.0, 0.0]], scores=[0.9])
    with pytest.raises(ValueError, match="dimension 3"):
        search_index(index, np.ones(3))
    with pytest.raises(ValueError, match="top_k"):
        search_index(index, np.ones(2), top_k=0)
    assert search_index(_index(np.zeros((0, 2)), scores=[]), np.ones(2)) == []


@pytest.mark.parametrize(
    "box, message",
    [
        ((10, 10, 10, 30), "degenerate"),
        ((20, 10, 10, 30), "degenerate"),
        ((-1, 0, 10, 10), "outside"),
        ((0, 0, 91, 10), "outside"),
        ((0, 0, 10, 61), "outside"),
        ((0, 0, 10), "four numbers"),
        (("a", 0, 1, 1), "four numbers"),
        ((0, 0, float("nan"), 10), "non-finite"),
    ],
)
def test_box_validation(box, message):
    with pytest.raises(ValueError, match=message):
        validate_box(box, 90, 60)


def test_searcher_rejects_bad_boxes_and_missing_index(searcher):
    searcher, _ = searcher
    query = paint_scene(None, [RED], size=(90, 60))
    with pytest.raises(ValueError, match="outside the query image \\(90x60"):
        searcher.search(query, box=(50, 10, 120, 50))
    with pytest.raises(ValueError, match="degenerate"):
        searcher.search(query, box=(50, 10, 50, 50))
    fresh = PersonSearcher(model=FakeSearchModel(), progress=False)
    with pytest.raises(ValueError, match="no gallery indexed"):
        fresh.search(query, box=(0, 0, 10, 10))


def test_model_identity_follows_the_weights(searcher, tmp_path):
    searcher, folder = searcher
    index_path = folder / ".personsearch_index.npz"
    same = PersonSearcher(model=FakeSearchModel(), progress=False)
    assert same.model_id == searcher.model_id
    assert same.load_index(index_path).num_detections == 6
    other = PersonSearcher(model=FakeSearchModel(grey=0.4), progress=False)
    assert other.model_id != searcher.model_id
    with pytest.raises(IndexModelMismatchError):
        other.load_index(index_path)


def test_from_checkpoint_hashes_the_file(tmp_path, monkeypatch):
    fake_module = types.ModuleType("personsearch.models.search_model")
    fake_module.load_search_model = lambda path, device="cpu": FakeSearchModel()
    monkeypatch.setitem(sys.modules, "personsearch.models.search_model", fake_module)
    checkpoint = tmp_path / "model.pth"
    checkpoint.write_bytes(b"weights")
    searcher = PersonSearcher.from_checkpoint(checkpoint)
    assert searcher.model_id == "sha256:" + hashlib.sha256(b"weights").hexdigest()
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        PersonSearcher.from_checkpoint(tmp_path / "missing.pth")
