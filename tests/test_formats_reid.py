import json

import pytest
from fixtures.fake_world import FakeWorld
from fixtures.real_formats import image, make_market, write_json

from personsearch.data.errors import DatasetFormatError
from personsearch.data.formats.cuhk03 import load_cuhk03, write_cuhk03
from personsearch.data.formats.luperson import load_luperson, write_luperson
from personsearch.data.formats.market1501 import load_market1501, write_market1501
from personsearch.data.formats.msmt17 import load_msmt17, write_msmt17
from personsearch.data.records import UNLABELLED


def test_market_fixture_junk_and_distractors(tmp_path):
    make_market(tmp_path)
    data = load_market1501(tmp_path)
    assert [(r.pid, r.camera) for r in data.train] == [(0, 1), (0, 2), (1, 3)]
    assert data.train_pid_map == {2: 0, 7: 1}
    assert sorted(r.pid for r in data.gallery) == [0, 5]  # junk -1 dropped, distractor 0000 kept
    assert [(r.pid, r.camera) for r in data.query] == [(5, 1)]


def test_market_bad_name(tmp_path):
    make_market(tmp_path)
    image(tmp_path / "query" / "12_c1_x.jpg", (8, 8))
    with pytest.raises(DatasetFormatError, match=r"query, record 12_c1_x\.jpg: file name does not read"):
        load_market1501(tmp_path)
    with pytest.raises(DatasetFormatError, match=r"bounding_box_train: folder not found"):
        load_market1501(tmp_path / "nowhere")


def _msmt(root, query_line="0000/0000_000_01_0303morning_0008_0.jpg 0"):
    base = root / "MSMT17_V1"
    for folder, rel in (("train", "0003/0003_000_05_0303morning_0015_0.jpg"), ("train", "0009/0009_000_12_0303noon_0100_0.jpg"),
                        ("test", "0000/0000_000_01_0303morning_0008_0.jpg"), ("test", "0000/0000_001_02_0303noon_0030_1.jpg")):
        image(base / folder / rel, (16, 32))
    (base / "list_train.txt").write_text("0003/0003_000_05_0303morning_0015_0.jpg 3\n")
    (base / "list_val.txt").write_text("0009/0009_000_12_0303noon_0100_0.jpg 9\n")
    (base / "list_query.txt").write_text(query_line + "\n")
    (base / "list_gallery.txt").write_text("0000/0000_001_02_0303noon_0030_1.jpg 0\n")


def test_msmt_fixture(tmp_path):
    _msmt(tmp_path)
    data = load_msmt17(tmp_path)
    assert [(r.pid, r.camera) for r in data.train] == [(0, 5)] and data.train_pid_map == {3: 0}
    with_val = load_msmt17(tmp_path, include_val=True)
    assert [(r.pid, r.camera) for r in with_val.train] == [(0, 5), (1, 12)] and with_val.num_train_pids == 2
    assert [(r.pid, r.camera) for r in data.query + data.gallery] == [(0, 1), (0, 2)]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0000/0000_000_01_0303morning_0008_0.jpg", r"record line 1: malformed line"),
        ("0000/0000_000_01_0303morning_0008_0.jpg x", r"record line 1: malformed line"),
        ("0000/0000_009_01_0303morning_0008_0.jpg 0", r"record line 1: image file not found"),
    ],
)
def test_msmt_bad_lines(tmp_path, line, message):
    _msmt(tmp_path, query_line=line)
    with pytest.raises(DatasetFormatError, match=r"list_query\.txt, " + message):
        load_msmt17(tmp_path)


def _cuhk03(root, gallery_row=None):
    for name in ("1_001_1_01.png", "1_001_2_06.png", "3_120_1_02.png", "3_120_2_07.png"):
        image(root / "images_detected" / name, (16, 32), "PNG")
    split = {
        "train": [["/elsewhere/cuhk03/images_detected/1_001_1_01.png", 0, 0], ["/elsewhere/cuhk03/images_detected/1_001_2_06.png", 0, 1]],
        "query": [["/elsewhere/cuhk03/images_detected/3_120_1_02.png", 1220, 0]],
        "gallery": [gallery_row or ["/elsewhere/cuhk03/images_detected/3_120_2_07.png", 1220, 1]],
        "num_train_pids": 1,
    }
    write_json(root / "splits_new_detected.json", [split])


def test_cuhk03_fixture_paths_from_another_machine(tmp_path):
    _cuhk03(tmp_path)
    data = load_cuhk03(tmp_path, variant="detected")
    assert [(r.pid, r.camera) for r in data.train] == [(0, 1), (0, 2)]
    assert [(r.pid, r.camera) for r in data.query + data.gallery] == [(1220, 5), (1220, 6)]
    assert data.gallery[0].image_path == str(tmp_path / "images_detected" / "3_120_2_07.png")
    with pytest.raises(DatasetFormatError, match=r"splits_new_labeled\.json: file not found"):
        load_cuhk03(tmp_path, variant="labeled")
    with pytest.raises(ValueError, match="variant must be one of detected, labeled"):
        load_cuhk03(tmp_path, variant="raw")


def test_cuhk03_bad_row(tmp_path):
    _cuhk03(tmp_path, gallery_row=["/x/3_120_2_07.png", 1220])
    with pytest.raises(DatasetFormatError, match=r"splits_new_detected\.json, record gallery 0: expected \[path, pid, camid\]"):
        load_cuhk03(tmp_path)


def test_luperson_fixture(tmp_path):
    image(tmp_path / "b" / "0001.jpg", (8, 16))
    image(tmp_path / "a.png", (8, 16), "PNG")
    (tmp_path / "notes.txt").write_text("x")
    data = load_luperson(tmp_path)
    assert [r.image_path for r in data.train] == [str(tmp_path / "a.png"), str(tmp_path / "b" / "0001.jpg")]
    assert {r.pid for r in data.train} == {UNLABELLED} and data.num_train_pids == 0
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetFormatError, match="no images"):
        load_luperson(tmp_path / "empty")


def _check_split(data):
    # world crops: 7 train (ids 0-2), 10 test; queries = one per camera holding 2+ crops of an
    # identity seen by 2+ cameras: id 3 camera 0, id 4 cameras 1 and 2
    assert len(data.train) == 7 and data.num_train_pids == 3
    assert sorted(r.pid for r in data.train) == [0, 0, 0, 1, 1, 2, 2]
    assert len(data.query) == 3 and len(data.gallery) == 7
    for query in data.query:
        assert any(g.pid == query.pid and g.camera != query.camera for g in data.gallery)


@pytest.mark.parametrize(("write", "load"), [(write_market1501, load_market1501), (write_msmt17, load_msmt17), (write_cuhk03, load_cuhk03)])
def test_round_trip(tmp_path, write, load):
    result = write(FakeWorld(), tmp_path, show_progress=False)
    assert result.num_images == 17 and not (tmp_path / ".staging").exists()
    _check_split(load(tmp_path))


def test_cuhk03_variants_and_determinism(tmp_path):
    write_cuhk03(FakeWorld(seed=4), tmp_path, show_progress=False)
    first = {v: (tmp_path / f"splits_new_{v}.json").read_bytes() for v in ("detected", "labeled")}
    write_cuhk03(FakeWorld(seed=4), tmp_path, show_progress=False)
    assert first == {v: (tmp_path / f"splits_new_{v}.json").read_bytes() for v in ("detected", "labeled")}
    (split,) = json.loads(first["labeled"])
    assert split["num_train_pids"] == 3 and split["num_query_imgs"] == 3
    _check_split(load_cuhk03(tmp_path, variant="labeled"))


def test_msmt_lists_are_deterministic(tmp_path):
    for name in ("a", "b"):
        write_msmt17(FakeWorld(seed=9), tmp_path / name, show_progress=False)
    for name in ("list_train.txt", "list_val.txt", "list_query.txt", "list_gallery.txt"):
        assert (tmp_path / "a" / "MSMT17_V1" / name).read_bytes() == (tmp_path / "b" / "MSMT17_V1" / name).read_bytes()
    assert len((tmp_path / "a" / "MSMT17_V1" / "list_val.txt").read_text().splitlines()) == 0  # 7 train crops < 10


def test_luperson_round_trip(tmp_path):
    write_luperson(FakeWorld(), tmp_path, show_progress=False)
    data = load_luperson(tmp_path)
    assert len(data.train) == 17 and {r.pid for r in data.train} == {UNLABELLED}
