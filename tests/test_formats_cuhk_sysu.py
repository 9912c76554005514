import os.path as osp

import numpy as np
import pytest
from fixtures.fake_world import FakeWorld
from fixtures.real_formats import SYSU_BOXES, make_cuhk_sysu
from scipy.io import loadmat

from personsearch.data.errors import DatasetFormatError
from personsearch.data.formats.cuhk_sysu import load_cuhk_sysu, write_cuhk_sysu
from personsearch.data.records import UNLABELLED


def seqnet_read(root, gallery_size):
    """The access pattern of SeqNet's cuhk_sysu.py and its CUHK-SYSU evaluation, verbatim in spirit."""
    protoc = loadmat(osp.join(root, f"annotation/test/train_test/TestG{gallery_size}.mat"))
    protoc = protoc[f"TestG{gallery_size}"].squeeze()
    queries = []
    for item in protoc["Query"]:
        img_name = str(item["imname"][0, 0][0])
        roi = item["idlocate"][0, 0][0].astype(np.int32)
        roi[2:] += roi[:2]
        queries.append((img_name, roi))
    gallery_imgs = loadmat(osp.join(root, "annotation", "pool.mat"))["pool"].squeeze()
    gallery_imgs = [str(a[0]) for a in gallery_imgs]
    all_imgs = loadmat(osp.join(root, "annotation", "Images.mat"))["Img"].squeeze()
    names = [str(a[0][0]) for a in all_imgs]
    name_to_boxes = {}
    for img_name, _, boxes in all_imgs:
        img_name = str(img_name[0])
        boxes = np.asarray([b[0] for b in boxes[0]])
        boxes = boxes.reshape(boxes.shape[0], 4)
        valid = np.where((boxes[:, 2] > 0) & (boxes[:, 3] > 0))[0]
        assert valid.size > 0
        name_to_boxes[img_name] = boxes[valid].astype(np.int32)
    train_boxes = []
    train = loadmat(osp.join(root, "annotation/test/train_test/Train.mat"))["Train"].squeeze()
    for index, item in enumerate(train):
        scenes = item[0, 0][2].squeeze()
        for img_name, box, _ in scenes:
            train_boxes.append((index + 1, str(img_name[0]), box.squeeze().astype(np.int32)))
    galleries = []
    for index, item in enumerate(protoc):
        im_name = str(item["Query"][0, 0][0][0])
        box = item["Query"][0, 0][1].squeeze().astype(np.int32)
        entries = []
        for im_name, box, _ in item["Gallery"].squeeze():
            gt = box[0].astype(np.int32) if box.size else np.zeros(0)
            entries.append((str(im_name[0]), gt.size > 0))
        galleries.append(entries)
    # the evaluation's own indexing of the same file
    for i in range(len(queries)):
        assert str(protoc["Query"][i]["imname"][0, 0][0]) == queries[i][0]
        for item in protoc["Gallery"][i].squeeze():
            str(item[0][0]), item[1][0].astype(np.int32)
    return queries, gallery_imgs, names, name_to_boxes, train_boxes, galleries


def test_written_files_read_the_seqnet_way(tmp_path):
    result = write_cuhk_sysu(FakeWorld(), tmp_path, show_progress=False)
    queries, pool, names, name_to_boxes, train_boxes, galleries = seqnet_read(str(tmp_path), 50)
    assert names == [f"s{i}.jpg" for i in range(1, 9)]
    assert pool == ["s4.jpg", "s5.jpg", "s6.jpg", "s7.jpg", "s8.jpg"]
    # training identities are world ids 0, 1, 2 (each in two train images); id 3 is seen once
    assert sorted({pid for pid, _, _ in train_boxes}) == [1, 2, 3]
    for _, name, box in train_boxes:
        assert any(np.array_equal(box, b) for b in name_to_boxes[name])
    # the box at x = -5 was clipped to the image
    assert [0, 3, 15, 57] in name_to_boxes["s3.jpg"].tolist()
    # test identities 4, 5, 6 (two or more test images each); 7 is seen once and gets no query
    assert len(queries) == 3
    for (query_name, _), entries in zip(queries, galleries):
        flags = [contains for _, contains in entries]
        assert flags[0] and flags == sorted(flags, reverse=True)  # positives first
        assert query_name not in [name for name, _ in entries]
        assert len(entries) == 4  # capped: 5 test images minus the query's own
    assert sum(note.startswith("TestG50:") for note in result.notes) == 1
    assert any("TestG4000: gallery capped at 4" in note for note in result.notes)


def test_round_trip(tmp_path):
    write_cuhk_sysu(FakeWorld(), tmp_path, show_progress=False)
    data = load_cuhk_sysu(tmp_path, gallery_size=100)
    assert [s.name for s in data.train] == ["s1.jpg", "s2.jpg", "s3.jpg"]
    assert data.num_train_pids == 3 and data.train_pid_map == {1: 0, 2: 1, 3: 2}
    s1 = data.train[0]
    np.testing.assert_array_equal(s1.boxes, [[2, 4, 20, 60], [30, 5, 50, 62], [60, 10, 80, 50]])
    assert s1.pids.tolist() == [0, 1, UNLABELLED] and (s1.width, s1.height) == (96, 64)
    assert data.train[2].pids.tolist() == [1, 2, UNLABELLED]  # world id 3 appears once: unlabelled
    assert data.notes == ["gallery size 100 capped at 4"]
    for query in data.queries:
        positives = [g for g in query.gallery if g.gt_box is not None]
        assert positives and all(g.gt_box is None for g in query.gallery[len(positives):])
        for entry in positives:
            scene = next(s for s in data.gallery if s.name == entry.name)
            assert query.pid in scene.pids.tolist()
    everything = load_cuhk_sysu(tmp_path, gallery_size=-1)
    assert all(q.gallery is None for q in everything.queries) and len(everything.queries) == 3


def test_annotation_files_are_deterministic(tmp_path):
    write_cuhk_sysu(FakeWorld(seed=3), tmp_path / "a", show_progress=False)
    write_cuhk_sysu(FakeWorld(seed=3), tmp_path / "b", show_progress=False)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a" / "annotation").rglob("*.mat"))
    assert len(files) == 9
    for file in files:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file


def test_hand_made_fixture_with_empty_idlocate(tmp_path):
    make_cuhk_sysu(tmp_path)
    data = load_cuhk_sysu(tmp_path, gallery_size=50)
    assert [s.name for s in data.train] == ["s1.jpg", "s2.jpg"]
    assert len(data.train[0].boxes) == 2  # the w = 0 box is dropped
    assert data.train[0].pids.tolist() == [UNLABELLED, 0] and data.train[1].pids.tolist() == [0]
    (query,) = data.queries
    np.testing.assert_array_equal(query.box, [50, 2, 75, 57])
    assert query.pid == 1
    assert [(g.name, g.gt_box is None) for g in query.gallery] == [("s4.jpg", False), ("s3.jpg", True)]
    np.testing.assert_array_equal(query.gallery[0].gt_box, [30, 6, 52, 56])
    assert data.gallery[1].pids.tolist() == [1]


def test_errors_name_file_record_and_problem(tmp_path):
    make_cuhk_sysu(tmp_path / "a", query_box=(49, 30, 25, 55))  # not a box of s3.jpg
    with pytest.raises(DatasetFormatError) as error:
        load_cuhk_sysu(tmp_path / "a", gallery_size=50, strict=True)
    assert error.value.file.endswith("TestG50.mat") and error.value.record == 0
    assert "not a box of s3.jpg" in str(error.value)

    make_cuhk_sysu(tmp_path / "b")
    with pytest.raises(DatasetFormatError, match=r"TestG500\.mat: file not found"):
        load_cuhk_sysu(tmp_path / "b", gallery_size=500)
    with pytest.raises(ValueError, match="gallery_size must be one of"):
        load_cuhk_sysu(tmp_path / "b", gallery_size=77)
    (tmp_path / "b" / "Image" / "SSM" / "s2.jpg").unlink()
    with pytest.raises(DatasetFormatError, match=r"Images\.mat, record 1 \(s2\.jpg\): image file not found"):
        load_cuhk_sysu(tmp_path / "b", gallery_size=50, strict=True)
    assert [s.name for s in load_cuhk_sysu(tmp_path / "b", gallery_size=50).train] == ["s1.jpg"]
    assert len(load_cuhk_sysu(tmp_path / "b", gallery_size=50, check_images=False).train) == 2


def test_protocol_box_missing_from_images_mat(tmp_path, caplog):
    """The query's box (x, y, w, h) = (49, 30, 25, 55) is not in Images.mat; tolerant loading takes
    the protocol's own box, clipped to the 80x60 image, and says so once."""
    make_cuhk_sysu(tmp_path, query_box=(49, 30, 25, 55), train_locs=((40, 5, 20, 50), (11, 30, 18, 20)))
    with caplog.at_level("WARNING", logger="personsearch.data"):
        data = load_cuhk_sysu(tmp_path, gallery_size=50)
    (query,) = data.queries
    np.testing.assert_array_equal(query.box, [49, 30, 74, 60])
    assert [g.name for g in query.gallery] == ["s4.jpg", "s3.jpg"]
    assert data.train[1].pids.tolist() == [UNLABELLED]  # the training box Train.mat names is not there
    (record,) = caplog.records
    message = record.getMessage()
    assert message.startswith("cuhk-sysu: 3 annotation problem(s)") and "not a box of s3.jpg" in message
    assert "used the protocol's box x1" in message and "skipped the training box x1" in message


def test_image_box_partly_outside(tmp_path, caplog):
    boxes = {name: list(b) for name, b in SYSU_BOXES.items()}
    boxes["s1.jpg"].append((70, 40, 30, 40))  # 20 pixels (33%) below and 20 right of the 80x60 image
    boxes["s2.jpg"].append((200, 200, 10, 10))  # wholly outside
    make_cuhk_sysu(tmp_path, boxes=boxes)
    with pytest.raises(DatasetFormatError, match=r"Images\.mat, record 0 \(s1\.jpg\): box .* lies outside"):
        load_cuhk_sysu(tmp_path, gallery_size=50, strict=True)
    with caplog.at_level("WARNING", logger="personsearch.data"):
        data = load_cuhk_sysu(tmp_path, gallery_size=50)
    np.testing.assert_array_equal(data.train[0].boxes[-1], [70, 40, 80, 60])
    assert len(data.train[1].boxes) == 1 and data.train[1].pids.tolist() == [0]
    assert len(caplog.records) == 1 and "clipped the box to the image x1, skipped the box x1" in caplog.text
