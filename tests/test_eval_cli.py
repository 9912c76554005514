"""`personsearch eval-results` end to end on the hand-built dataset (loader replaced)."""

import json

import numpy as np
import pytest

import personsearch.data.catalog as catalog
from personsearch.cli import main
from personsearch.evaluation import QueryDetections, SearchResults, save_results
from test_eval_scene_search import hand_case


@pytest.fixture
def hand(monkeypatch, tmp_path):
    data, dets, qf = hand_case()
    calls = []

    def fake_load(name, root, **kwargs):
        calls.append((name, root, kwargs))
        return data

    monkeypatch.setattr(catalog, "load_dataset", fake_load)
    query_dets = QueryDetections(np.array([0]), np.zeros((1, 4), np.float32), np.ones(1, np.float32),
                                 np.array([[0, 1, 0, 0]], np.float32))
    path = tmp_path / "RESULTS.npz"
    save_results(path, SearchResults(dets, qf, query_dets))
    return path, calls


def test_eval_results_prints_and_writes_json(hand, tmp_path, capsys):
    path, calls = hand
    out = tmp_path / "report" / "OUT.json"
    code = main(["eval-results", "--dataset", "prw", "--root", "/data/PRW", "--output", str(out), str(path)])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert calls == [("prw", "/data/PRW", {"read_train": False})]
    assert printed["mAP"] == pytest.approx(100 * 0.7 * 2 / 3)
    assert (printed["top1"], printed["num_queries"], printed["num_skipped"]) == (100.0, 1, 1)
    # gallery gts: A 1, B 2, C 1, D 1, Q 1 = 6; matched at 0.5: A, D, Q (B's detections miss)
    assert printed["det_recall"] == pytest.approx(100 * 3 / 6)
    assert set(printed) == {"mAP", "top1", "top5", "top10", "num_queries", "num_skipped", "det_ap", "det_recall"}


def test_cross_camera_and_cbgm_flags(hand, capsys):
    path, _ = hand
    assert main(["eval-results", "--dataset", "prw", "--root", "r", "--cross-camera", "--cbgm", str(path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["mAP"] == pytest.approx(100 * 0.25)


def test_gallery_size_is_passed_to_the_loader(hand, capsys):
    path, calls = hand
    main(["eval-results", "--dataset", "cuhk-sysu", "--root", "r", "--gallery-size", "50", str(path)])
    assert calls[-1] == ("cuhk-sysu", "r", {"gallery_size": 50})
    main(["eval-results", "--dataset", "prw", "--root", "r", "--strict", str(path)])
    assert calls[-1] == ("prw", "r", {"strict": True, "read_train": False})


def test_errors_are_reported_plainly(hand, tmp_path, capsys):
    path, _ = hand
    bad = tmp_path / "bad.npz"
    np.savez(bad, gallery_names=np.array(["A.jpg"]))
    assert main(["eval-results", "--dataset", "prw", "--root", "r", str(bad)]) == 1
    assert "bad.npz: missing arrays" in capsys.readouterr().err
    assert main(["eval-results", "--dataset", "prw", "--root", "r", "--gallery-size", "50", str(path)]) == 1
    assert "cuhk-sysu only" in capsys.readouterr().err
