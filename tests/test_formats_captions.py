import json

import pytest
from fixtures.fake_world import CROPS, FakeWorld
from fixtures.real_formats import image, write_json

from personsearch.data.errors import DatasetFormatError
from personsearch.data.formats.cuhk_pedes import load_cuhk_pedes, write_cuhk_pedes, write_cuhk_pedes_annotations
from personsearch.data.formats.icfg_pedes import load_icfg_pedes, write_icfg_pedes
from personsearch.data.formats.rstpreid import load_rstpreid, write_rstpreid


def _pedes_entry(split, pid, path, caption="A man in a blue shirt."):
    return {"split": split, "captions": [caption], "file_path": path, "processed_tokens": [["a"]], "id": pid}


def test_cuhk_pedes_fixture(tmp_path):
    entries = [
        _pedes_entry("train", 1, "CUHK01/0001001.png"),
        _pedes_entry("train", 4, "train_query/p4_s2.jpg"),  # non-contiguous training ids
        _pedes_entry("val", 5, "Market/0005_c1.jpg"),
        _pedes_entry("test", 6, "test_query/p6_s9.jpg", "She carries a bag."),
    ]
    for entry in entries:
        image(tmp_path / "imgs" / entry["file_path"], (16, 32))
    write_json(tmp_path / "reid_raw.json", entries)
    data = load_cuhk_pedes(tmp_path)
    assert [r.pid for r in data.train] == [0, 1] and data.train_pid_map == {1: 0, 4: 1}
    assert [(r.pid, r.split) for r in data.val + data.test] == [(5, "val"), (6, "test")]
    assert data.test[0].captions == ("She carries a bag.",)
    assert data.test[0].image_path == str(tmp_path / "imgs" / "test_query" / "p6_s9.jpg")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"split": "train", "file_path": "a.jpg", "id": 1}, r"record 1: missing field\(s\) captions"),
        ({"split": "dev", "file_path": "a.jpg", "id": 1, "captions": ["x"]}, r"record 1: split 'dev' is not one of"),
        ({"split": "test", "file_path": "a.jpg", "id": "7", "captions": ["x"]}, r"record 1: id '7' is not"),
        ({"split": "test", "file_path": "gone.jpg", "id": 1, "captions": ["x"]}, r"record 1: image file not found"),
    ],
)
def test_cuhk_pedes_bad_entries(tmp_path, entry, message):
    image(tmp_path / "imgs" / "a.jpg", (16, 32))
    write_json(tmp_path / "reid_raw.json", [_pedes_entry("train", 1, "a.jpg"), entry])
    with pytest.raises(DatasetFormatError, match=r"reid_raw\.json, " + message):
        load_cuhk_pedes(tmp_path, strict=True)
    data = load_cuhk_pedes(tmp_path)  # tolerant: the bad entry is skipped, the good one kept
    assert [r.image_path for r in data.train + data.test] == [str(tmp_path / "imgs" / "a.jpg")]


def test_missing_and_broken_annotation_files(tmp_path):
    with pytest.raises(DatasetFormatError, match=r"ICFG-PEDES\.json: file not found"):
        load_icfg_pedes(tmp_path)
    (tmp_path / "data_captions.json").write_text('[{"id": 0,')
    with pytest.raises(DatasetFormatError, match=r"data_captions\.json: not valid JSON"):
        load_rstpreid(tmp_path)


def test_icfg_has_no_val_split(tmp_path):
    image(tmp_path / "imgs" / "train" / "0000" / "x.jpg", (16, 32))
    write_json(tmp_path / "ICFG-PEDES.json", [{"id": 0, "file_path": "train/0000/x.jpg", "captions": ["x"], "split": "val"}])
    with pytest.raises(DatasetFormatError, match=r"record 0: split 'val' is not one of train, test"):
        load_icfg_pedes(tmp_path, strict=True)


@pytest.mark.parametrize("loader,file,path_key", [(load_cuhk_pedes, "reid_raw.json", "file_path"),
                                                  (load_icfg_pedes, "ICFG-PEDES.json", "file_path"),
                                                  (load_rstpreid, "data_captions.json", "img_path")])
def test_bad_records_are_skipped_with_one_warning(tmp_path, caplog, loader, file, path_key):
    image(tmp_path / "imgs" / "a.jpg", (16, 32))
    good = {"id": 3, path_key: "a.jpg", "captions": ["A man in a red coat."], "split": "train"}
    entries = [
        good,
        {**good, "id": -4},
        "not an object",
        {**good, "captions": ["", "  "]},
        {**good, "id": 5, "captions": ["", "A woman with a bag."]},  # keeps its one real caption
        {**good, path_key: "missing.jpg"},
    ]
    write_json(tmp_path / file, entries)
    with pytest.raises(DatasetFormatError, match=r"record 1: id -4 is not a non-negative integer"):
        loader(tmp_path, strict=True)
    with caplog.at_level("WARNING", logger="personsearch.data"):
        data = loader(tmp_path)
    assert [(r.pid, r.captions) for r in data.train] == [(0, ("A man in a red coat.",)), (1, ("A woman with a bag.",))]
    assert data.train_pid_map == {3: 0, 5: 1}
    (record,) = caplog.records
    message = record.getMessage()
    assert "5 annotation problem(s)" in message and "skipped the entry x4" in message
    assert "dropped empty captions x1" in message and "record 1: id -4" in message and "and 2 more" in message


def test_low_level_cuhk_pedes_writer(tmp_path):
    write_cuhk_pedes_annotations(
        tmp_path / "reid_raw.json",
        [{"split": "test", "captions": ["The woman, in RED shoes!"], "file_path": "t/1.jpg", "id": 3}],
    )
    (row,) = json.loads((tmp_path / "reid_raw.json").read_text())
    assert list(row) == ["split", "captions", "file_path", "processed_tokens", "id"]
    assert row["processed_tokens"] == [["the", "woman", "in", "red", "shoes"]]
    assert load_cuhk_pedes(tmp_path, check_images=False).test[0].pid == 3
    with pytest.raises(ValueError, match="id 0 must be an integer >= 1"):
        write_cuhk_pedes_annotations(tmp_path / "x.json", [{"split": "test", "captions": ["a"], "file_path": "a", "id": 0}])


@pytest.mark.parametrize(
    ("write", "load", "annotation", "first_id"),
    [
        (write_cuhk_pedes, load_cuhk_pedes, "reid_raw.json", 1),
        (write_icfg_pedes, load_icfg_pedes, "ICFG-PEDES.json", 0),
        (write_rstpreid, load_rstpreid, "data_captions.json", 0),
    ],
)
def test_round_trip_sidecar_and_determinism(tmp_path, write, load, annotation, first_id):
    result = write(FakeWorld(seed=2), tmp_path / "a", show_progress=False)
    write(FakeWorld(seed=2), tmp_path / "b", show_progress=False)
    assert result.num_images == len(CROPS) and not (tmp_path / "a" / ".staging").exists()
    for name in (annotation, "synth_meta.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    rows = json.loads((tmp_path / "a" / annotation).read_text())
    ids = [row["id"] for row in rows]
    # ids are contiguous, training ids first
    assert sorted(set(ids)) == list(range(first_id, first_id + 6))
    assert max(r["id"] for r in rows if r["split"] == "train") < min(r["id"] for r in rows if r["split"] == "test")
    data = load(tmp_path / "a")
    assert len(data.train) == 7 and len(data.test) == 10 and data.num_train_pids == 3
    assert data.train[0].captions == ("A person 0 in a red coat.", "Someone, number 0, walking past camera 0.")
    meta = json.loads((tmp_path / "a" / "synth_meta.json").read_text())
    assert meta["world"] == {"size": "hand", "seed": 2}
    key = "img_path" if annotation == "data_captions.json" else "file_path"
    assert [meta["images"][row[key]]["crop_index"] for row in rows] == list(range(len(CROPS)))
