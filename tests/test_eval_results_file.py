"""RESULTS.npz round trip and validation errors naming the file, the array and the problem."""

import numpy as np
import pytest

from personsearch.evaluation import (
    QueryDetections,
    ResultsFormatError,
    SearchResults,
    check_against_dataset,
    load_results,
    save_results,
)
from test_eval_scene_search import hand_case


def arrays():
    data, dets, qf = hand_case()
    return data, {
        "gallery_names": dets.names, "det_image_index": dets.image_index, "det_boxes": dets.boxes,
        "det_scores": dets.scores, "det_feats": dets.feats, "query_feats": qf,
        "query_det_image_index": np.array([0, 1]), "query_det_boxes": np.zeros((2, 4), np.float32),
        "query_det_scores": np.ones(2, np.float32), "query_det_feats": np.zeros((2, 4), np.float32),
    }


def write(tmp_path, **arrs):
    path = tmp_path / "RESULTS.npz"
    np.savez(path, **arrs)
    return path


def test_round_trip(tmp_path):
    data, a = arrays()
    path = write(tmp_path, **a)
    results = load_results(path)
    assert isinstance(results.query_dets, QueryDetections)
    save_results(tmp_path / "again.npz", results)
    again = load_results(tmp_path / "again.npz")
    np.testing.assert_array_equal(again.gallery.feats, a["det_feats"])
    np.testing.assert_array_equal(again.gallery.names, a["gallery_names"])
    check_against_dataset(again, data, "again.npz")


def test_query_detections_are_optional(tmp_path):
    _, a = arrays()
    for key in [k for k in a if k.startswith("query_det_")]:
        del a[key]
    assert load_results(write(tmp_path, **a)).query_dets is None


@pytest.mark.parametrize("change,message", [
    (lambda a: a.pop("det_feats"), "missing arrays: det_feats"),
    (lambda a: a.update(det_feat=a["det_feats"]), "unknown arrays: det_feat"),
    (lambda a: a.pop("query_det_scores"), "incomplete: missing query_det_scores"),
    (lambda a: a.update(det_boxes=a["det_boxes"].astype(np.int64)), "det_boxes: expected a float array"),
    (lambda a: a.update(det_boxes=a["det_boxes"][:, :3]), r"det_boxes: expected shape \(8, 4\)"),
    (lambda a: a.update(det_scores=a["det_scores"][:5]), r"det_scores: expected shape \(8,\)"),
    (lambda a: a.update(det_image_index=a["det_image_index"] + 3), r"det_image_index: values must lie in \[0, 5\)"),
    (lambda a: a.update(det_image_index=a["det_image_index"].astype(np.float32)),
     "det_image_index: expected an integer"),
    (lambda a: a.update(query_feats=a["query_feats"][:, :3]), r"query_feats: expected shape \(\*, 4\)"),
    (lambda a: a["det_feats"].__setitem__((0, 0), np.nan), "det_feats: contains NaN"),
    (lambda a: a.update(gallery_names=np.array(["A.jpg"] * 5)), "gallery_names: duplicate names"),
    (lambda a: a.update(query_det_image_index=np.array([0, 2])), r"query_det_image_index: values must lie in \[0, 2\)"),
])
def test_validation_errors(tmp_path, change, message):
    _, a = arrays()
    change(a)
    path = write(tmp_path, **a)
    with pytest.raises(ResultsFormatError, match=message) as info:
        load_results(path)
    assert str(path) in str(info.value)


def test_not_an_npz(tmp_path):
    path = tmp_path / "RESULTS.npz"
    path.write_text("hello")
    with pytest.raises(ResultsFormatError, match="not a readable"):
        load_results(path)
    with pytest.raises(FileNotFoundError, match="no such results file"):
        load_results(tmp_path / "absent.npz")


def _results(a):
    from personsearch.evaluation import GalleryDetections

    return SearchResults(GalleryDetections(a["gallery_names"], a["det_image_index"], a["det_boxes"],
                                           a["det_scores"], a["det_feats"]), a["query_feats"])


def test_dataset_mismatches():
    data, a = arrays()
    names = a["gallery_names"].copy()
    names[0] = "Z.jpg"
    expected = r"R.npz: gallery_names: 1 names are not gallery images of hand, e.g. \['Z.jpg'\]"
    with pytest.raises(ResultsFormatError, match=expected):
        check_against_dataset(_results(dict(a, gallery_names=names)), data, "R.npz")
    keep = a["det_image_index"] < 4
    fewer = dict(a, gallery_names=a["gallery_names"][:4], det_image_index=a["det_image_index"][keep],
                 det_boxes=a["det_boxes"][keep], det_scores=a["det_scores"][keep], det_feats=a["det_feats"][keep])
    with pytest.raises(ResultsFormatError, match=r"1 gallery images of hand are missing, e.g. \['Q.jpg'\]"):
        check_against_dataset(_results(fewer), data, "R.npz")
    with pytest.raises(ResultsFormatError, match="query_feats: 1 rows but hand has 2 queries"):
        check_against_dataset(_results(dict(a, query_feats=a["query_feats"][:1])), data, "R.npz")
