import os.path as osp

import numpy as np
import pytest
from fixtures.fake_world import FakeWorld
from fixtures.real_formats import make_prw
from scipy.io import loadmat

from personsearch.data.errors import DatasetFormatError
from personsearch.data.formats.prw import load_prw, write_prw
from personsearch.data.records import UNLABELLED


def seqnet_read(root):
    """The access pattern of SeqNet's prw.py."""
    with open(osp.join(root, "query_info.txt"), "rb") as f:
        raw = f.readlines()
    queries = []
    for line in raw:
        linelist = str(line, "utf-8").split(" ")
        pid = int(linelist[0])
        x, y, w, h = (float(v) for v in linelist[1:5])
        queries.append((pid, linelist[5][:-2] + ".jpg", (x, y, w, h)))
    frames = {}
    for key, split in (("img_index_train", "frame_train.mat"), ("img_index_test", "frame_test.mat")):
        for img in loadmat(osp.join(root, split))[key]:
            img_name = img[0][0] + ".jpg"
            anno = loadmat(osp.join(root, "annotations", img_name))
            rois, ids = anno["box_new"][:, 1:], anno["box_new"][:, 0]
            frames[img_name] = (key, ids, rois)
    return queries, frames


def test_written_files_read_the_seqnet_way(tmp_path):
    write_prw(FakeWorld(), tmp_path, show_progress=False)
    queries, frames = seqnet_read(str(tmp_path))
    assert len(frames) == 8 and "c1s2_000030.jpg" in frames
    key, ids, rois = frames["c1s1_000010.jpg"]
    assert key == "img_index_train" and ids.tolist() == [1, 2, -2]
    np.testing.assert_array_equal(rois[0], [2, 4, 18, 56])
    # world test ids 4, 5, 6 appear in two or more test frames (PRW ids 5, 6, 7); 7 only once
    assert [pid for pid, _, _ in queries] == [5, 6, 7]
    for pid, name, _ in queries:
        assert frames[name][0] == "img_index_test" and pid in frames[name][1]
    assert (tmp_path / "query_info.txt").read_bytes().count(b"\r\n") == 3


def test_round_trip_and_query_choice(tmp_path):
    write_prw(FakeWorld(), tmp_path, show_progress=False)
    data = load_prw(tmp_path)
    assert data.train_pid_map == {1: 0, 2: 1, 3: 2, 4: 3} and data.num_train_pids == 4
    assert [s.camera for s in data.train] == [1, 2, 1]
    assert data.train[2].pids.tolist() == [1, 2, 3] and data.train[0].pids.tolist() == [0, 1, UNLABELLED]
    np.testing.assert_array_equal(data.train[2].boxes[0], [0, 3, 15, 60])
    assert {q.pid for q in data.queries} == {5, 6, 7}
    by_name = {s.name: s for s in data.gallery}
    for query in data.queries:
        assert query.gallery is None
        scene = by_name[query.name]
        assert query.pid in scene.pids.tolist() and query.camera == scene.camera
        others = [s for s in data.gallery if query.pid in s.pids.tolist() and s.name != query.name]
        assert any(s.camera != query.camera for s in others)  # a cross-camera match exists


def test_scoring_reads_the_test_frames_only(tmp_path):
    write_prw(FakeWorld(), tmp_path, show_progress=False)
    full, test_only = load_prw(tmp_path), load_prw(tmp_path, read_train=False)
    assert test_only.train == [] and test_only.num_train_pids == 0
    assert [q.name for q in test_only.queries] == [q.name for q in full.queries]
    for a, b in zip(full.gallery, test_only.gallery, strict=True):
        assert a.name == b.name and a.pids.tolist() == b.pids.tolist()
        np.testing.assert_array_equal(a.boxes, b.boxes)


def test_annotation_files_are_deterministic(tmp_path):
    for name in ("a", "b"):
        write_prw(FakeWorld(seed=5), tmp_path / name, show_progress=False)
    files = [p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.suffix in (".mat", ".txt")]
    assert len(files) == 11
    for file in files:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file


def test_hand_made_fixture_quirks(tmp_path):
    make_prw(tmp_path)
    data = load_prw(tmp_path)
    assert data.train_pid_map == {3: 0, 932: 1}  # non-contiguous ids remapped, map kept
    first, second = data.train
    assert first.pids.tolist() == [0, 1, UNLABELLED] and second.pids.tolist() == [1]  # anno_file key
    np.testing.assert_array_equal(first.boxes[0], [0, 2, 16, 52])  # x = -4 clipped to 0
    assert data.gallery[0].pids.tolist() == [7, UNLABELLED]  # anno_previous key, test ids kept
    (query,) = data.queries
    assert (query.pid, query.name, query.camera) == (7, "c3s2_001000.jpg", 3)
    np.testing.assert_array_equal(query.box, [5, 5, 25, 55])


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["7 5 5 20 c3s2_001000"], r"query_info\.txt, record line 1: malformed line"),
        (["7 5 5 20 50 c9s9_000001"], r"query_info\.txt, record line 1: query frame c9s9_000001 is not in frame_test"),
        (["7 5 5 200 50 c3s2_001000"], r"query_info\.txt, record line 1: box .* lies outside the 80x60 image"),
    ],
)
def test_bad_query_lines_strict(tmp_path, lines, message):
    make_prw(tmp_path, query_lines=lines)
    with pytest.raises(DatasetFormatError, match=message):
        load_prw(tmp_path, strict=True)


def test_bad_query_lines_are_skipped_or_clipped_with_one_warning(tmp_path, caplog):
    good = "7 5 5 20 50 c3s2_001000"
    make_prw(tmp_path, query_lines=["7 5 5 20 c3s2_001000", "7 5 5 20 50 c9s9_000001", good, "7 5 5 200 50 c3s2_001000"])
    with caplog.at_level("WARNING", logger="personsearch.data"):
        data = load_prw(tmp_path)
    assert len(data.queries) == 2
    np.testing.assert_array_equal(data.queries[0].box, [5, 5, 25, 55])
    np.testing.assert_array_equal(data.queries[1].box, [5, 5, 80, 55])  # x2 = 205 clipped to the 80-pixel width
    (record,) = caplog.records
    message = record.getMessage()
    assert "prw: 3 annotation problem(s)" in message and "skipped the query x2" in message
    assert "clipped the box to the image x1" in message and "record line 1: malformed line" in message


def test_bad_annotation_files(tmp_path):
    make_prw(tmp_path)
    annotation = tmp_path / "annotations" / "c2s1_000300.jpg.mat"
    from scipy.io import savemat

    savemat(annotation, {"box_new": np.array([[932, 10, 3, 20]], dtype=np.float64)})
    with pytest.raises(DatasetFormatError, match=r"c2s1_000300\.jpg\.mat: box array has shape \(1, 4\)"):
        load_prw(tmp_path, strict=True)
    assert [s.name for s in load_prw(tmp_path).train] == ["c1s1_000151.jpg"]  # the bad frame skipped
    savemat(annotation, {"box_new": np.array([[932, 10, 3, 20, 50], [-1, 1, 1, 5, 5]], dtype=np.float64)})
    with pytest.raises(DatasetFormatError, match=r"c2s1_000300\.jpg\.mat, record 1: invalid pid -1"):
        load_prw(tmp_path, strict=True)
    assert load_prw(tmp_path).train[1].pids.tolist() == [1]  # the bad row skipped, pid 932 kept
    annotation.unlink()
    with pytest.raises(DatasetFormatError, match=r"c2s1_000300\.jpg\.mat: file not found"):
        load_prw(tmp_path, strict=True)
    assert len(load_prw(tmp_path).train) == 1


def test_box_partly_outside_its_frame(tmp_path, caplog):
    make_prw(tmp_path)
    from scipy.io import savemat

    # 80x60 frames; a box from x=70 with width 40 runs 30 pixels (37%) past the right border
    savemat(tmp_path / "annotations" / "c2s1_000300.jpg.mat",
            {"box_new": np.array([[932, 70, 3, 40, 50], [932, 200, 3, 20, 50]], dtype=np.float64)})
    with pytest.raises(DatasetFormatError, match="lies outside the 80x60 image"):
        load_prw(tmp_path, strict=True)
    with caplog.at_level("WARNING", logger="personsearch.data"):
        frame = load_prw(tmp_path).train[1]
    np.testing.assert_array_equal(frame.boxes, [[70, 3, 80, 53]])  # clipped; the box wholly outside skipped
    assert len(caplog.records) == 1 and "clipped the box to the image x1, skipped the box x1" in caplog.text


def test_strict_from_the_config_and_the_command_line(tmp_path, capsys):
    from personsearch.cli import main
    from personsearch.methods.supervised import load_scene_data

    make_prw(tmp_path, query_lines=["7 5 5 20 c3s2_001000", "7 5 5 20 50 c3s2_001000"])
    assert len(load_scene_data({"name": "prw", "root": str(tmp_path)}).queries) == 1
    with pytest.raises(DatasetFormatError, match="malformed line"):
        load_scene_data({"name": "prw", "root": str(tmp_path), "strict": True})
    assert main(["data", "stats", "--format", "prw", str(tmp_path)]) == 0
    assert main(["data", "stats", "--format", "prw", str(tmp_path), "--strict"]) == 1
    assert "record line 1: malformed line" in capsys.readouterr().err
