import json

import numpy as np
import pytest
from fixtures.fake_world import FakeWorld
from fixtures.real_formats import image, write_json

from personsearch.data.errors import DatasetFormatError
from personsearch.data.formats.crowdhuman import load_crowdhuman, write_crowdhuman
from personsearch.data.formats.ecp import load_ecp, write_ecp


def _gt(tag, fbox, vbox, ignore=0):
    return {"fbox": fbox, "tag": tag, "hbox": [0, 0, 5, 5], "extra": {"box_id": 0, "occ": 0, "ignore": ignore}, "vbox": vbox}


def _crowdhuman(root, val_line=None):
    image(root / "Images" / "273271,c9db000d5146c15.jpg", (100, 80))
    image(root / "Images" / "273275,1a8a1000a5e8e8.jpg", (100, 80))
    train = {
        "ID": "273271,c9db000d5146c15",
        "gtboxes": [
            _gt("person", [-10, 5, 40, 90], [0, 5, 30, 70]),  # full box past the border, as in the real data
            _gt("mask", [60, 10, 20, 20], [60, 10, 20, 20], ignore=1),
            _gt("person", [50, 5, 20, 60], [50, 5, 20, 60], ignore=1),
        ],
    }
    val = val_line or json.dumps({"ID": "273275,1a8a1000a5e8e8", "gtboxes": []})
    (root / "annotation_train.odgt").write_text(json.dumps(train) + "\n")
    (root / "annotation_val.odgt").write_text(val + "\n")


def test_crowdhuman_fixture(tmp_path):
    _crowdhuman(tmp_path)
    data = load_crowdhuman(tmp_path)
    (record,) = data.train
    np.testing.assert_array_equal(record.boxes[0], [-10, 5, 30, 95])
    np.testing.assert_array_equal(record.visible_boxes[0], [0, 5, 30, 75])
    assert record.ignore.tolist() == [False, True, True]
    assert len(data.val) == 1 and data.val[0].boxes.shape == (0, 4)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"ID": "273275,1a8a1000a5e8e8", "gtboxes": [', r"record line 1: not valid JSON"),
        (json.dumps({"ID": "273275,1a8a1000a5e8e8", "gtboxes": [_gt("car", [1, 1, 5, 5], [1, 1, 5, 5])]}), r"gtbox 0: gtbox tag must be"),
        (json.dumps({"ID": "273275,1a8a1000a5e8e8", "gtboxes": [_gt("person", [1, 1, 5], [1, 1, 5, 5])]}), r"gtbox 0: fbox \[1, 1, 5\] is not 4 numbers"),
        (json.dumps({"ID": "273275,1a8a1000a5e8e8", "gtboxes": [_gt("person", [1, 1, 9, 9], [300, 1, 9, 9])]}), r"lies outside the 100x80 image"),
    ],
)
def test_crowdhuman_errors(tmp_path, line, message):
    _crowdhuman(tmp_path, val_line=line)
    with pytest.raises(DatasetFormatError, match=r"annotation_val\.odgt, record line 1.*" + message.replace("record line 1: ", "")):
        load_crowdhuman(tmp_path)


def test_crowdhuman_missing_file(tmp_path):
    _crowdhuman(tmp_path)
    (tmp_path / "annotation_val.odgt").unlink()
    with pytest.raises(DatasetFormatError, match=r"annotation_val\.odgt: file not found"):
        load_crowdhuman(tmp_path)


def _ecp_label(children, width=1920, height=1024):
    return {"identity": "frame", "imagewidth": width, "imageheight": height, "tags": [], "children": children}


def test_ecp_fixture_and_errors(tmp_path):
    day = tmp_path / "ECP" / "day"
    image(day / "img" / "train" / "berlin" / "berlin_00012.png", (64, 32), "PNG")
    children = [
        {"identity": "pedestrian", "x0": 10, "y0": 100, "x1": 40, "y1": 190, "tags": ["occluded>40"], "children": []},
        {"identity": "rider", "x0": 200, "y0": 90, "x1": 240, "y1": 200, "tags": [], "children": [
            {"identity": "bicycle", "x0": 195, "y0": 150, "x1": 250, "y1": 210, "tags": []}]},
        {"identity": "person-group-far-away", "x0": 500, "y0": 300, "x1": 560, "y1": 330, "tags": []},
        {"identity": "bicycle-group", "x0": 700, "y0": 300, "x1": 760, "y1": 330, "tags": []},
    ]
    write_json(day / "labels" / "train" / "berlin" / "berlin_00012.json", _ecp_label(children))
    (day / "labels" / "val").mkdir(parents=True)
    data = load_ecp(tmp_path)
    (record,) = data.train
    assert record.image_path.endswith("ECP/day/img/train/berlin/berlin_00012.png")
    np.testing.assert_array_equal(record.boxes, [[10, 100, 40, 190], [200, 90, 240, 200], [500, 300, 560, 330]])
    assert record.ignore.tolist() == [False, False, True] and data.val == []

    children.append({"identity": "pedestrian", "x0": 1900, "y0": 10, "x1": 2400, "y1": 90, "tags": []})
    write_json(day / "labels" / "train" / "berlin" / "berlin_00012.json", _ecp_label(children))
    with pytest.raises(DatasetFormatError, match=r"berlin_00012\.json, record child 4: box .* lies outside the 1920x1024 image"):
        load_ecp(tmp_path)
    children[-1] = {"identity": "pedestrian", "x0": "a", "y0": 10, "x1": 20, "y1": 90}
    write_json(day / "labels" / "train" / "berlin" / "berlin_00012.json", _ecp_label(children))
    with pytest.raises(DatasetFormatError, match=r"record child 4: x0, y0, x1, y1 must all be numbers"):
        load_ecp(tmp_path)
    (day / "img" / "train" / "berlin" / "berlin_00012.png").unlink()
    with pytest.raises(DatasetFormatError, match=r"berlin_00012\.json: image file not found"):
        load_ecp(tmp_path)


@pytest.mark.parametrize(("write", "load", "pattern"), [(write_crowdhuman, load_crowdhuman, "*.odgt"), (write_ecp, load_ecp, "ECP/day/labels/*/*/*.json")])
def test_round_trip_and_determinism(tmp_path, write, load, pattern):
    for name in ("a", "b"):
        result = write(FakeWorld(), tmp_path / name, show_progress=False)
    assert result.num_images == 8
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").glob(pattern))
    assert files
    for file in files:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    data = load(tmp_path / "a")
    assert (len(data.train), len(data.val)) == (3, 5)
    # scene 2: a person at x = -5 and one past the bottom border
    third = next(r for r in data.train if "000002" in r.image_path or "_00002" in r.image_path)
    assert third.boxes.shape == (3, 4) and not third.ignore.any()
    if data.name == "crowdhuman":
        np.testing.assert_array_equal(third.boxes[0], [-5, 3, 15, 60])  # full box kept
        np.testing.assert_array_equal(third.visible_boxes[1], [40, 4, 60, 64])
    else:
        np.testing.assert_array_equal(third.boxes[:2], [[0, 3, 15, 60], [40, 4, 60, 64]])
        label = json.loads((tmp_path / "a" / "ECP/day/labels/train/amsterdam/amsterdam_00002.json").read_text())
        assert label["children"][0]["tags"] == ["occluded>40", "truncated>10"]
