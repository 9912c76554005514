import json

import pytest
from PIL import Image

from personsearch import cli
from personsearch.commands import search as search_command
from test_index_fake_model import paint_scene

RED, GREEN, BLUE = (230, 30, 30), (30, 220, 40), (20, 40, 230)


@pytest.fixture
def setup(tmp_path):
    gallery = tmp_path / "photos"
    gallery.mkdir()
    paint_scene(gallery / "a.png", [GREEN, BLUE])
    paint_scene(gallery / "b.png", [BLUE, RED])
    paint_scene(tmp_path / "query.png", [RED, GREEN], size=(80, 60))
    checkpoint = tmp_path / "model.pth"
    checkpoint.write_bytes(b"fake weights")
    return tmp_path, gallery, checkpoint


def test_cli_search_end_to_end(setup, fake_loader, capsys):
    tmp_path, gallery, checkpoint = setup
    out = tmp_path / "results"
    argv = [
        "search", "--gallery", str(gallery), "--query", str(tmp_path / "query.png"), "--box", "2,2,38,58",
        "--top-k", "3", "--checkpoint", str(checkpoint), "--out", str(out), "--score-threshold", "0.1",
    ]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "2 processed, 0 reused" in printed and "b.png" in printed.splitlines()[2]

    results = json.loads((out / "results.json").read_text())
    assert [hit["rank"] for hit in results["hits"]] == [1, 2, 3]
    assert results["hits"][0]["image"].endswith("b.png") and results["hits"][0]["box"] == [32.0, 0.0, 64.0, 48.0]
    assert results["query"]["box"] == [2.0, 2.0, 38.0, 58.0]
    assert results["model_id"].startswith("sha256:")
    assert (out / "report.html").read_text().count('<figure class="hit">') == 3
    assert len(list((out / "thumbs").glob("hit_*.jpg"))) == 3
    with Image.open(out / "contact_sheet.png") as sheet:
        assert sheet.format == "PNG"

    assert cli.main(argv) == 0
    assert "0 processed, 2 reused" in capsys.readouterr().out
    assert fake_loader[1].images_seen == 0


def test_cli_video_gallery_with_stride(tmp_path, fake_loader, capsys):
    cv2 = pytest.importorskip("cv2")
    import numpy as np

    video = tmp_path / "cam.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (64, 48))
    for i in range(6):
        frame = np.full((48, 64, 3), 40 * i, dtype=np.uint8)
        writer.write(frame)
    writer.release()
    paint_scene(tmp_path / "query.png", [(200, 200, 200)], size=(40, 40))
    (tmp_path / "model.pth").write_bytes(b"w")
    argv = [
        "search", "--gallery", str(video), "--query", str(tmp_path / "query.png"), "--box", "0,0,40,40",
        "--checkpoint", str(tmp_path / "model.pth"), "--out", str(tmp_path / "out"), "--frame-stride", "2",
        "--score-threshold", "0",
    ]
    assert cli.main(argv) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    frames = sorted({hit["image"].rsplit("#", 1)[1] for hit in results["hits"]})
    assert frames == ["frame000000", "frame000002", "frame000004"]
    assert fake_loader[0].images_seen == 3


def test_cli_input_errors(setup, fake_loader, capsys, monkeypatch):
    tmp_path, gallery, checkpoint = setup
    base = ["search", "--gallery", str(gallery), "--query", str(tmp_path / "query.png"), "--out", str(tmp_path / "o")]
    assert cli.main(base + ["--box", "0,0,500,10", "--checkpoint", str(checkpoint)]) == 1
    assert "outside the query image" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(base + ["--box", "1,2,3", "--checkpoint", str(checkpoint)])
    assert "x1,y1,x2,y2" in capsys.readouterr().err
    monkeypatch.setattr(search_command, "DEFAULT_CHECKPOINT", "no_such_checkpoint.pth")
    assert cli.main(base + ["--box", "0,0,10,10"]) == 1
    assert "ships no default checkpoint" in capsys.readouterr().err
